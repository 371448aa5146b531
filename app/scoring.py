"""Clauses -> probabilities -> decisions -> rows, and a contract's answers: the one path every caller uses.

The upload service, both batch engines (local and Ray) and `python -m app classify` all score
through `score_clauses`, and every contract-level yes/no (the batch summary, the app) comes from
`contract_answers`, so a new output field or a new contract rule is one edit here.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.taxonomy import CUAD_MAPPING, LABEL_IDS

if TYPE_CHECKING:
    import numpy as np

    from app.routing import Decision, Policy

# Probabilities are written with this many decimals wherever they leave the process (files, database).
PROB_DECIMALS = 6


class Scorer(Protocol):
    """What scoring needs from a classifier; app.classifier.Classifier is one, tests pass fakes."""

    @property
    def version(self) -> Any: ...   # has .name: the model version the probabilities come from

    # (n, 7), columns in LABEL_IDS order; headings are the clauses' section paths (a model trained with
    # headings reads them, app/encoding.py)
    def predict_proba(self, texts: list[str], headings: list[str] | None = None) -> np.ndarray: ...


class HasText(Protocol):
    text: str


@dataclass(frozen=True)
class ScoredClause:
    """One clause with its calibrated probabilities and the routing decision on them."""

    clause: Any                        # the input clause (app.ingest.Clause, or anything with .text)
    probabilities: dict[str, float]    # label id -> probability, rounded to PROB_DECIMALS
    decision: Decision
    model_version: str

    @property
    def label(self) -> str:
        return self.decision.label

    def row(self) -> dict:
        """The clause's output fields: where it is, what it says, and what the model made of it."""
        c = self.clause
        return {"index": getattr(c, "index", None), "number": getattr(c, "number", None) or "",
                "heading": getattr(c, "heading", None) or "", "page": getattr(c, "page", None), "text": c.text,
                "label": self.decision.label, "probabilities": dict(self.probabilities),
                "decision": self.decision.action, "reason": self.decision.reason}


Progress = Callable[[int, int], None]   # (clauses scored so far, clauses in all)


def score_clauses(clauses: Sequence[HasText], classifier: Scorer, policy: Policy, *, batch_size: int = 256,
                  progress: Progress | None = None) -> list[ScoredClause]:
    """Classify `clauses` in chunks of `batch_size` and route each; one ScoredClause per clause, in order.

    The chunks only set how often `progress` is called; the classifier batches within a chunk itself.
    """
    version = classifier.version.name
    out: list[ScoredClause] = []
    for start in range(0, len(clauses), max(1, batch_size)):
        chunk = clauses[start:start + max(1, batch_size)]
        probs = classifier.predict_proba([c.text for c in chunk],
                                         headings=[getattr(c, "heading", None) or "" for c in chunk])
        if getattr(probs, "shape", None) != (len(chunk), len(LABEL_IDS)):
            raise RuntimeError(f"classifier {version} returned shape {getattr(probs, 'shape', None)}, "
                               f"expected ({len(chunk)}, {len(LABEL_IDS)})")
        for clause, row in zip(chunk, probs.tolist(), strict=True):
            out.append(score_one(clause, row, policy, version))
        if progress is not None:
            progress(len(out), len(clauses))
    return out


def decisions(probs: Sequence[Sequence[float]], policy: Policy) -> list[Decision]:
    """The routing decision of each row of probabilities (LABEL_IDS order), made exactly as score_clauses
    makes it (same rounding): evaluation and threshold fitting judge the decisions the product takes."""
    return [score_one(None, row, policy, "").decision for row in probs]


def score_one(clause: HasText, probs: Sequence[float], policy: Policy, model_version: str) -> ScoredClause:
    """Route one clause from its probabilities (LABEL_IDS order): for callers that ran the model elsewhere (Ray)."""
    probabilities = {label: round(float(p), PROB_DECIMALS) for label, p in zip(LABEL_IDS, probs, strict=True)}
    return ScoredClause(clause, probabilities, policy.decide(probabilities), model_version)


# ---------------------------------------------------------------------------- contract answers

Question = Literal["cap", "uncapped"]
# Our question -> CUAD's question (app.taxonomy.CUAD_MAPPING) whose mapped labels answer it.
QUESTIONS: dict[str, str] = {"cap": "Cap On Liability", "uncapped": "Uncapped Liability"}


class ContractRuleError(ValueError):
    """A model version's contract rule is invalid; the message names the version and the fix."""


class QuestionRule(BaseModel):
    """How one contract-level question is answered from its clauses."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["any_label", "max_prob"] = Field(default="any_label", description=(
        "any_label: Yes when any clause's label maps to the question (CUAD_MAPPING); "
        "max_prob: Yes when the clause most likely to map reaches `threshold`."))
    threshold: float | None = Field(default=None, ge=0.0, le=1.0, description=(
        "For max_prob: the summed probability of the mapped labels a clause must reach."))
    fitted_on: str = Field(default="", description="What the threshold was fitted on (training.thresholds).")
    validation_f1: float | None = Field(default=None, ge=0.0, le=1.0,
                                        description="Contract-level F1 of the rule where it was fitted.")

    @model_validator(mode="after")
    def _threshold_for_max_prob(self) -> QuestionRule:
        if self.method == "max_prob" and self.threshold is None:
            raise ValueError("method max_prob needs a threshold in [0, 1]")
        return self


class ContractRule(BaseModel):
    """The contract-level rule of a model version (card entry `contract_rule`); the default is any_label."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cap: QuestionRule = QuestionRule()
    uncapped: QuestionRule = QuestionRule()
    source: str = Field(default="", description="How the rule was chosen (e.g. training.thresholds, its data).")


@dataclass(frozen=True)
class ContractAnswers:
    has_cap: bool
    has_uncapped: bool
    p_cap: float        # max over clauses of the summed probability of the labels mapped to the question
    p_uncapped: float


def contract_rule(version: Any = None) -> ContractRule:
    """The rule a model version ships (attribute or card entry `contract_rule`); the any_label default otherwise."""
    if version is None:
        return ContractRule()
    data = getattr(version, "contract_rule", None)
    if data is None:
        try:
            data = (version.card or {}).get("contract_rule")
        except (AttributeError, OSError, ValueError):
            data = None
    if data is None:
        return ContractRule()
    if isinstance(data, ContractRule):
        return data
    try:
        return ContractRule.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'rule'}: {err['msg']}" for err in e.errors())
        raise ContractRuleError(f"model version {getattr(version, 'name', version)!r} has an invalid "
                                f"contract_rule: {problems}") from None


def _label_and_probs(item: Any) -> tuple[str, Mapping[str, float]]:
    if isinstance(item, ScoredClause):
        return item.label, item.probabilities
    if isinstance(item, Mapping):   # an output row
        return item["label"], item["probabilities"]
    return item.label, item.probs   # a stored prediction (app.views.ClauseInfo)


def question_probability(probabilities: Mapping[str, float], question: Question) -> float:
    """The summed probability of the labels that answer `question` Yes."""
    return float(sum(probabilities.get(label, 0.0) for label in CUAD_MAPPING[QUESTIONS[question]]))


def contract_answers(clauses: Iterable[Any], rule: ContractRule | None = None) -> ContractAnswers:
    """has_cap / has_uncapped of one contract with the probability behind each.

    clauses: ScoredClause, output rows ({"label", "probabilities"}) or anything with .label and .probs.
    """
    rule = rule or ContractRule()
    items = [_label_and_probs(c) for c in clauses]
    answers: dict[str, Any] = {}
    for question in QUESTIONS:
        q_rule: QuestionRule = getattr(rule, question)
        p = max((question_probability(probs, question) for _, probs in items), default=0.0)
        if q_rule.method == "max_prob":
            yes = bool(items) and p >= q_rule.threshold
        else:
            mapped = CUAD_MAPPING[QUESTIONS[question]]
            yes = any(label in mapped for label, _ in items)
        answers[f"has_{question}"] = yes
        answers[f"p_{question}"] = round(p, PROB_DECIMALS)
    return ContractAnswers(**answers)
