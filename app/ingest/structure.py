"""Warnings about what was read: a file that reads fine but does not look like a contract.

A shopping list or a note reads without error and comes out as one or two unnumbered clauses; scoring
it silently would put a "contract" in the list that holds no terms. Such a file is still accepted
(a lawyer may have a reason), but with a warning the UI and the CLI show.

The rule: fewer words than STRUCTURE_FLOOR_WORDS and hardly any contract wording ("agreement", "party",
"shall", ...). Structure alone does not tell: the shortest CUAD contracts (joint filing agreements of
120 to 360 words) have no numbered clause, and "1. milk 2. eggs" has numbers. Of the 394 CUAD
development contracts (TXT) and 40 PDFs, one is warned about: PRECIGEN's "joint filing agreement",
a page of names and signatures with no terms.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from app.ingest.document import Clause, Document

STRUCTURE_FLOOR_WORDS = 300
CONTRACT_WORDS_MIN = 3  # distinct words of CONTRACT_WORDS a text of any kind of agreement has
CONTRACT_WORDS = frozenset("""agreement agreements agree agrees agreed contract party parties shall hereby hereto
herein hereunder thereof obligations liability liable indemnify warrant warrants terms term terminate
termination governed law executed effective signature undersigned""".split())
_WORD = re.compile(r"[a-z]+")


def contract_warnings(document: Document, clauses: Sequence[Clause]) -> list[str]:
    """Why `document` may not be a contract, one message each; empty when it looks like one."""
    words = _WORD.findall(document.text.lower())
    if len(words) >= STRUCTURE_FLOOR_WORDS or len(CONTRACT_WORDS.intersection(words)) >= CONTRACT_WORDS_MIN:
        return []
    structure = "numbered clauses" if any(c.number for c in clauses) else "no numbered clauses"
    return [f"{document.name}: this does not look like a contract ({len(words)} words, {structure}, hardly any "
            "contract wording); it was accepted anyway: check that it is the file you meant"]
