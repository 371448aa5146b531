"""The review queue's order: the expected value of a person's label.

A clause is worth reviewing when the model is unsure of it (the margin between its two most likely
labels, from the stored calibrated probabilities) and when its label decides its contract's answer:
the clause with the highest probability of answering "has a cap" or "has uncapped liability"
(app.scoring.question_probability) is the one those answers rest on. Bare headings ("EXHIBIT A",
"PRICING") say nothing a label could change and go last.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.routing import spoken
from app.scoring import QUESTIONS, question_probability

# A clause decides a question when it holds the contract's highest probability for it and that probability
# is at least this: a 3% "has a cap" on every clause of a contract decides nothing.
DECIDES_MIN = 0.10
DECIDES_WEIGHT = 1.0          # added to the weight of 1 for each question the clause decides
QUESTION_WORDS = {"cap": "whether the contract has a cap", "uncapped": "whether it has uncapped liability"}

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
# Words that make a short line a sentence rather than a heading.
_VERBS = frozenset("""shall will may must is are be been being was were has have had does do did agrees agree
means includes include constitutes apply applies exceed exceeds limit limits indemnify indemnifies waive waives
terminate terminates pay pays provide provides""".split())


def is_bare_heading(text: str, *, max_words: int = 8, max_chars: int = 80) -> bool:
    """Very short all-caps text without a verb: "EXHIBIT A", "PRICING", "12. LIMITATION OF LIABILITY"."""
    text = text.strip()
    words = _WORD.findall(text)
    if not words or len(text) > max_chars or len(words) > max_words:
        return False
    letters = [ch for ch in text if ch.isalpha()]
    if sum(ch.isupper() for ch in letters) < 0.8 * len(letters):
        return False
    return not any(w.lower() in _VERBS for w in words)


def margin(probs: Mapping[str, float]) -> tuple[float, str, str]:
    """(top minus runner-up probability, top label, runner-up label)."""
    ranked = sorted(probs.items(), key=lambda kv: -kv[1])
    top, p_top = ranked[0]
    runner, p_runner = ranked[1] if len(ranked) > 1 else (top, 0.0)
    return float(p_top) - float(p_runner), top, runner


@dataclass(frozen=True)
class Candidate:
    clause_id: int
    contract_id: int
    text: str
    probs: Mapping[str, float]


@dataclass(frozen=True)
class Priority:
    clause_id: int
    value: float          # uncertainty x weight; 0 for a bare heading
    heading: bool
    decides: tuple[str, ...]   # questions of app.scoring.QUESTIONS this clause decides in its contract
    why: str


def deciding_clauses(clauses: Iterable[tuple[int, int, Mapping[str, float]]]) -> dict[int, set[str]]:
    """clause id -> the questions it decides, from (clause id, contract id, probs) of every clause of the contracts."""
    best: dict[tuple[int, str], tuple[float, int]] = {}
    for clause_id, contract_id, probs in clauses:
        for question in QUESTIONS:
            p = question_probability(probs, question)
            key = (contract_id, question)
            if p >= DECIDES_MIN and (key not in best or p > best[key][0]):
                best[key] = (p, clause_id)
    out: dict[int, set[str]] = {}
    for (_, question), (_, clause_id) in best.items():
        out.setdefault(clause_id, set()).add(question)
    return out


def prioritise(candidates: Iterable[Candidate], decides: Mapping[int, set[str]]) -> list[Priority]:
    """The candidates, most valuable first; bare headings last. Ties keep clause id order."""
    out = []
    for c in candidates:
        m, top, runner = margin(c.probs)
        questions = tuple(q for q in QUESTIONS if q in decides.get(c.clause_id, ()))
        if is_bare_heading(c.text):
            out.append(Priority(c.clause_id, 0.0, True, questions, "A bare heading: served after every clause."))
            continue
        value = (1.0 - m) * (1.0 + DECIDES_WEIGHT * len(questions))
        why = (f"Unsure between {spoken(top)} ({c.probs[top]:.0%}) and {spoken(runner)} ({c.probs[runner]:.0%})"
               if m < 0.5 else f"Fairly sure of {spoken(top)} ({c.probs[top]:.0%})")
        if questions:
            why += "; this clause decides " + " and ".join(QUESTION_WORDS[q] for q in questions)
        out.append(Priority(c.clause_id, value, False, questions, why + "."))
    return sorted(out, key=lambda p: (p.heading, -p.value, p.clause_id))
