"""A contract's exposure in one line per liability clause, e.g. "uncapped for IP infringement, 12.3".

Pure text work on a clause's label, number, heading and text: the subject of an
uncapped liability or carve-out is taken from the wording that names it, with the
heading as the fallback. Nothing here decides a label; it only phrases one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# Worst first: what a lawyer needs to see at the top of a contract.
EXPOSURE_ORDER = ("uncapped", "carve_out", "capped", "cap_and_collar", "indemnity", "exclusion")

# Where a named subject ends: a sentence break, or the main clause resuming after the exception.
_END = (r"(?=[.;:]\s|[.;:]?$"                                          # a sentence break
        r"|,?\s+(?:and|or)\s+(?:the|in no event|neither)\b"              # ... and the next rule
        r"|,\s+(?:neither|in no event|each|either|no|the)\b)")           # ..., neither party shall
_CLAIMS_FOR = r"(?:any\s+)?(?:claims?\s+(?:for|arising (?:from|out of))\s+)?"
_CARVE_OUT = (
    re.compile(r"(?:shall|will) not apply (?:to|with respect to|in respect of)\s+" + _CLAIMS_FOR + r"(.+?)" + _END,
               re.I | re.S),
    re.compile(r"\b(?:except|excluding|other than)\s+"
               r"(?:for|with respect to|in respect of|in the case of|as to)?\s*" + _CLAIMS_FOR + r"(.+?)" + _END,
               re.I | re.S),
)
_UNCAPPED = (
    re.compile(r"nothing in this agreement (?:shall |will )?(?:limits?|excludes?|restricts?) "
               r"(?:or (?:limits?|excludes?) )?(?:either party's |any party's |a party's |the )?liability "
               r"(?:for|in respect of)\s+(.+?)" + _END, re.I | re.S),
    re.compile(r"liability (?:for|in respect of|arising (?:from|out of)|under)\s+(.+?)\s+(?:shall|will|is|are)\s+"
               r"(?:be\s+)?(?:unlimited|uncapped|not (?:be )?(?:subject to|limited))", re.I | re.S),
    re.compile(r"(?:obligations?|liability) (?:to indemnify )?(?:under|pursuant to)\s+(.+?)\s+"
               r"(?:shall|will) not be (?:subject to|limited)", re.I | re.S),
    # "neither Party excludes or limits any liability for: (i) ...", "nothing in this Section limits ..."
    re.compile(r"\b(?:excludes?|limits?|restricts?) (?:or (?:limits?|excludes?|restricts?) )?(?:\w+'s |any |its |the )?"
               r"liability(?: [\w ,]{0,60}? including liability)? (?:for|in respect of)[:\s]+(.+?)" + _END,
               re.I | re.S),
    re.compile(r"\b(?:shall|will) (?:be inapplicable|not apply) to\s+(.+?)" + _END, re.I | re.S),
    re.compile(r"\bwithout limit(?:ation)?,? for(?: the following)?[:\s]+(.+?)" + _END, re.I | re.S),
)
# A ceiling's wording ("shall not exceed the fees paid in the twelve months ..."); only phrases that name
# an amount or its measure count, so "limited to direct damages" is passed over.
_CAP = re.compile(r"\b(?:exceed(?:ing)?|limited to|in excess of|capped at)\s+(.+?)(?=[.;]\s|[.;]?$)", re.I | re.S)
_MEASURE = re.compile(r"\d|\$|\[\s*\*|\b(?:fees?|paid|payable|payments?|amounts?|price|insurance|proceeds|value|"
                      r"charges|compensation|sum)\b", re.I)
_AMOUNT = re.compile(r"(?:US\s?)?\$\s?\d[\d,]*(?:\.\d+)?(?:\s*(?:million|billion))?|\[\s*\*[\s*]*\]", re.I)
_FEES = re.compile(r"\b(?:fees|amounts?|charges)\s+(?:actually\s+)?(?:paid|payable)", re.I)
_DAMAGE_TYPES = ("consequential", "indirect", "incidental", "special", "punitive", "exemplary")
_MAX_SUBJECT = 80


@dataclass(frozen=True)
class ClauseFacts:
    label: str
    number: str | None
    heading: str | None
    text: str
    index: int


def exposure_line(clause: ClauseFacts) -> str | None:
    """One line for a liability clause, or None for `none`."""
    where = clause_reference(clause.number, clause.heading, clause.text)
    heading = heading_title(clause.heading)
    label = clause.label
    if label == "carve_out":
        subject = _first(_CARVE_OUT, clause.text)
        return f"uncapped for {subject} (carved out of the cap), {where}" if subject else \
            f"cap with carve-outs{_about(heading)}, {where}"
    if label == "uncapped":
        subject = _first(_UNCAPPED, clause.text)
        return f"uncapped for {subject}, {where}" if subject else f"uncapped liability{_about(heading)}, {where}"
    if label in ("capped", "cap_and_collar"):
        limit = _cap(clause.text)
        collar = " above a threshold" if label == "cap_and_collar" else ""
        return f"capped{limit}{collar}{_about(heading)}, {where}"
    if label == "indemnity":
        return f"indemnity{_about(heading)}, {where}"
    if label == "exclusion":
        lowered = clause.text.lower()
        kinds = [k for k in _DAMAGE_TYPES if k in lowered]
        profits = "lost profits" in lowered
        if kinds or profits:
            parts = ([f"{', '.join(kinds)} damages"] if kinds else []) + (["lost profits"] if profits else [])
            return f"excludes {' and '.join(parts)}, {where}"
        if "sole and exclusive remedy" in lowered or "exclusive remedy" in lowered:
            return f"sole remedy{_about(heading)}, {where}"
        return f"exclusion{_about(heading)}, {where}"
    return None


def exposure_lines(clauses: list[ClauseFacts]) -> list[tuple[ClauseFacts, str]]:
    """Lines for every liability clause, worst exposure first, then in contract order."""
    ranked = sorted((c for c in clauses if c.label in EXPOSURE_ORDER),
                    key=lambda c: (EXPOSURE_ORDER.index(c.label), c.index))
    return [(c, line) for c in ranked if (line := exposure_line(c))]


_NUMBER_PREFIX = re.compile(r"^(?:(?:section|article|clause)\s+)?"
                            r"(?:\(?[0-9]+(?:\.[0-9]+)*[.)]?|\(?[a-z]{1,4}[.)]|[A-Z][.)])\s*", re.I)


_PARENT_NUMBER = re.compile(r"^(?:(?:section|article|clause)\s+)?([0-9]+(?:\.[0-9]+)*|[IVXLC]+\b)", re.I)
_SUB_NUMBER = re.compile(r"^\(?([a-z]{1,4}|[0-9]{1,3})\)$", re.I)


def clause_reference(number: str | None, heading: str | None, text: str = "") -> str:
    """How the contract itself names a clause: "12.3", "11(a)" (a sub-clause under its parent's number),
    else its heading's title, else its first words in quotes; never an internal position."""
    if number:
        sub = _SUB_NUMBER.match(number.strip())
        if sub:
            for part in reversed((heading or "").split(" > ")):
                parent = _PARENT_NUMBER.match(part.strip())
                if parent and not _SUB_NUMBER.match(part.strip()):
                    return f"{parent.group(1).rstrip('.')}({sub.group(1)})"
        return number.strip()
    title = heading_title(heading)
    if title:
        return title
    words = text.split()
    return "“" + " ".join(words[:6]) + ("…”" if len(words) > 6 else "”")


def heading_title(heading: str | None) -> str | None:
    """The most specific named part of a heading path: "11 INDEMNIFICATION > (h)" -> "Indemnification"."""
    for part in reversed((heading or "").split(" > ")):
        title = _NUMBER_PREFIX.sub("", part.strip()).strip(" .:-")
        if sum(ch.isalpha() for ch in title) >= 3:
            return _clean(title.capitalize() if title.isupper() else title)
    return None


def _cap(text: str) -> str:
    for match in _CAP.finditer(text):
        if _MEASURE.search(match.group(1)):
            return f" at {_clean(match.group(1))}"
    amount = _AMOUNT.search(text)
    if amount:
        return f" at {amount.group(0).strip()}"
    return " at fees paid" if _FEES.search(text) else ""


def _first(patterns: tuple[re.Pattern, ...], text: str) -> str | None:
    for pattern in patterns:
        match = pattern.search(text)
        if match:
            subject = _clean(match.group(1))
            if subject:
                return subject
    return None


def _clean(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip(" ,.;:\"'")
    text = re.sub(r"^\((?:[ivx]+|[a-z]|\d+)\)\s*", "", text, flags=re.I)  # "(i) personal injury" -> "personal injury"
    text = re.sub(r"[,\s]+(?:and|or)$", "", text)
    if text.isupper():  # shouted subjects read as a quiet line
        text = text.lower()
    if len(text) > _MAX_SUBJECT:
        text = text[:_MAX_SUBJECT].rsplit(" ", 1)[0] + "…"
    return text


def _about(heading: str | None) -> str:
    return f" ({heading})" if heading else ""
