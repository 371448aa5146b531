"""training.serving.pick: which accepted precision a version is served in."""
from training.serving import pick


def _f(accepted: bool, speedup: float) -> dict:
    return {"accepted": accepted, "speedup": speedup}


def test_batch_invariant_bf16_is_preferred_to_a_faster_int8():
    assert pick({"int8-smooth": _f(True, 2.33), "bf16": _f(True, 1.95)}) == "bf16"


def test_int8_is_served_where_bf16_is_refused_or_slower_than_fp32():
    assert pick({"int8-smooth": _f(True, 2.33), "bf16": _f(False, 1.95)}) == "int8-smooth"
    assert pick({"int8": _f(True, 1.6), "int8-smooth": _f(True, 1.7), "bf16": _f(True, 0.4)}) == "int8-smooth"


def test_nothing_accepted_or_nothing_faster_keeps_fp32():
    assert pick({"int8": _f(False, 2.3), "bf16": _f(False, 2.0)}) is None
    assert pick({"bf16": _f(True, 0.9)}) is None
