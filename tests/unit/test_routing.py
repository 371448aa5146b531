"""Routing policy: a table of named cases, then the YAML round trip and load order."""
from __future__ import annotations

import pytest

from app import routing
from app.config import Settings
from app.routing import Policy, PolicyError, load_policy
from app.taxonomy import LABEL_IDS

POLICY = Policy(floor=0.5, near_miss_margin=0.15,
                thresholds={"uncapped": 0.95, "carve_out": 0.85, "capped": 0.85, "cap_and_collar": 0.85,
                            "exclusion": 0.8, "indemnity": 0.8})


def probs(**given: float) -> dict[str, float]:
    """Full distribution: the given labels, the rest shared evenly."""
    rest = [label for label in LABEL_IDS if label not in given]
    left = max(0.0, 1.0 - sum(given.values()))
    return {**{label: left / len(rest) for label in rest}, **given}


# name: (probs, expected action, expected rule, expected detail: the decision in numbers)
CASES = {
    "carve_out just ahead of uncapped is a near miss": (
        probs(carve_out=0.52, uncapped=0.44), "review", "near_miss", "carve_out vs uncapped, margin 0.08"),
    "uncapped just ahead of carve_out is a near miss": (
        probs(uncapped=0.50, carve_out=0.45), "review", "near_miss", "uncapped vs carve_out, margin 0.05"),
    "cap_and_collar vs capped is a near miss": (
        probs(cap_and_collar=0.55, capped=0.42), "review", "near_miss", "cap_and_collar vs capped, margin 0.13"),
    "confident capped with cap_and_collar far behind is accepted": (
        probs(capped=0.90, cap_and_collar=0.08), "auto_accept", "confident",
        "confident: capped at 0.90 (threshold 0.85)"),
    "near miss wins over the floor": (
        probs(carve_out=0.41, uncapped=0.40), "review", "near_miss", "carve_out vs uncapped, margin 0.01"),
    "runner-up that is not the partner is no near miss": (
        probs(capped=0.90, exclusion=0.09), "auto_accept", "confident", "confident: capped at 0.90 (threshold 0.85)"),
    "exclusion close to carve_out is not a near-miss pair": (
        probs(exclusion=0.48, carve_out=0.45), "review", "below_floor", "uncertain: top probability 0.48"),
    "partner beyond the margin is no near miss": (
        probs(carve_out=0.88, uncapped=0.12), "auto_accept", "confident",
        "confident: carve_out at 0.88 (threshold 0.85)"),
    "below the floor goes to review": (
        probs(indemnity=0.41, none=0.30), "review", "below_floor", "uncertain: top probability 0.41"),
    "uncapped below its own high threshold goes to review": (
        probs(uncapped=0.93, none=0.05), "review", "below_threshold", "uncapped at 0.93, below its threshold 0.95"),
    "uncapped at its threshold is accepted": (
        probs(uncapped=0.96, none=0.03), "auto_accept", "confident", "confident: uncapped at 0.96 (threshold 0.95)"),
    "label without a threshold uses the floor": (
        probs(none=0.55, indemnity=0.30), "auto_accept", "confident", "confident: none at 0.55 (threshold 0.50)"),
    "exclusion between floor and threshold goes to review": (
        probs(exclusion=0.70, none=0.20), "review", "below_threshold", "exclusion at 0.70, below its threshold 0.80"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_decide(name):
    given, action, rule, reason = CASES[name]
    decision = POLICY.decide(given)
    assert (decision.action, decision.rule, decision.detail) == (action, rule, reason)
    assert decision.label == max(given, key=given.get)
    assert decision.confidence == pytest.approx(max(given.values()))


def test_capped_close_to_cap_and_collar_is_a_near_miss():
    decision = POLICY.decide(probs(capped=0.50, cap_and_collar=0.40))
    assert decision.detail == "capped vs cap_and_collar, margin 0.10"


def test_threshold_of_one_never_auto_accepts_even_a_certain_prediction():
    never = Policy(floor=0.5, near_miss_margin=0.15, thresholds={"cap_and_collar": 1.0})
    decision = never.decide(probs(cap_and_collar=1.0))
    assert (decision.action, decision.rule) == ("review", "below_threshold")
    assert decision.detail == "cap_and_collar at 1.00: never auto-accepted (threshold 1.00)"
    assert decision.reason == "Probably cap and collar (100%), a label a person always checks"


@pytest.mark.parametrize(("given", "reason"), [
    (probs(carve_out=0.41, uncapped=0.38), "Could be carve-out (41%) or uncapped (38%)"),
    (probs(exclusion=0.48, carve_out=0.45), "The model is unsure: 48% exclusion"),
    (probs(exclusion=0.70, none=0.20),
     "Probably exclusion (70%), not sure enough to accept without a person (needs 80%)"),
    (probs(capped=0.90, exclusion=0.09), "Confident: capped (90%)"),
])
def test_reasons_are_written_for_people_with_the_numbers_kept_in_detail(given, reason):
    decision = POLICY.decide(given)
    assert decision.reason == reason
    assert decision.detail and "_" not in decision.reason


def test_ties_go_to_the_label_first_in_precedence():
    decision = POLICY.decide({"none": 0.35, "uncapped": 0.35, "indemnity": 0.3})
    assert decision.label == "uncapped"


@pytest.mark.parametrize("bad", [{}, {"uncapped": 0.5, "unlimited": 0.5}])
def test_decide_refuses_unknown_or_empty_probabilities(bad):
    with pytest.raises(ValueError):
        POLICY.decide(bad)


def test_yaml_round_trip(tmp_path):
    path = POLICY.to_yaml(tmp_path / "p" / "policy.yaml")
    assert Policy.from_yaml(path) == POLICY


@pytest.mark.parametrize("text, fragment", [
    ("floor: 0.5\nnear_miss_margin: 0.1\nthreshold: {}\n", "threshold: Extra inputs are not permitted"),
    ("floor: 0.5\nnear_miss_margin: 0.1\nthresholds: {unlimited: 0.9}\n", "unknown label(s) unlimited"),
    ("floor: 0.6\nnear_miss_margin: 0.1\nthresholds: {none: 0.5}\n", "below floor 0.6"),
    ("floor: 1.5\nnear_miss_margin: 0.1\n", "floor"),
    ("floor: [\n", "not valid YAML"),
    ("- 1\n", "must be a mapping"),
])
def test_invalid_policy_files_name_the_problem(tmp_path, text, fragment):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as e:
        Policy.from_yaml(path)
    assert str(path) in str(e.value) and fragment in str(e.value)


def test_missing_policy_file_is_a_policy_error(tmp_path):
    with pytest.raises(PolicyError, match="not found"):
        Policy.from_yaml(tmp_path / "absent.yaml")


def test_shipped_default_policy_is_valid_and_strict_on_uncapped():
    policy = Policy.from_yaml(routing.DEFAULT_POLICY_FILE)
    assert policy.threshold("uncapped") == max(policy.thresholds.values())


class _Version:
    def __init__(self, policy_path):
        self.policy_path = policy_path


def test_load_policy_prefers_settings_then_version_then_default(tmp_path):
    from_settings = Policy(floor=0.1, near_miss_margin=0.1).to_yaml(tmp_path / "s.yaml")
    from_version = Policy(floor=0.2, near_miss_margin=0.1).to_yaml(tmp_path / "v.yaml")

    assert load_policy(_Version(from_version), settings=Settings(policy_file=from_settings)).floor == 0.1
    assert load_policy(_Version(from_version), settings=Settings(policy_file=None)).floor == 0.2
    assert load_policy(_Version(None), settings=Settings()) == Policy.from_yaml(routing.DEFAULT_POLICY_FILE)
