"""The promotion gate: macro-F1 may drop by at most 0.5 point, the false-positive uncapped rate may not rise."""
from __future__ import annotations

import pytest

from training.retrain import gate


def _m(macro_f1: float, fp: float | None) -> dict:
    return {"macro_f1": macro_f1, "uncapped_false_positive_rate": fp}


@pytest.mark.parametrize("parent, candidate, promoted, why", [
    (_m(0.700, 0.10), _m(0.720, 0.05), True, "promoted"),                      # better on both
    (_m(0.700, 0.10), _m(0.695, 0.10), True, "promoted"),                      # exactly 0.5 point lower
    (_m(0.700, 0.10), _m(0.6949, 0.10), False, "macro-F1 drops by 0.51"),       # just over
    (_m(0.700, 0.10), _m(0.800, 0.11), False, "false-positive uncapped rate rises"),
    (_m(0.700, None), _m(0.700, None), True, "promoted"),                      # neither predicts uncapped
    (_m(0.700, None), _m(0.710, 0.50), False, "rate rises"),                   # none before, some now
])
def test_gate(parent, candidate, promoted, why):
    decision = gate(parent, candidate)
    assert decision.promoted is promoted
    assert why in decision.reason
    assert decision.reason.startswith("promoted" if promoted else "not promoted")
