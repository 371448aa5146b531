"""The fields of a contract's exposure, each with the words it came from.

Rules, not a model: limitation-of-liability wording is formulaic ("shall not exceed the fees paid in the
twelve (12) months preceding the claim", "in no event ... consequential damages", "must be brought within
one (1) year"), so a small set of patterns finds the cap's amount, basis, period and scope, the basket,
the carve-outs, the excluded damage types, the time bars and the uncapped items. Every field keeps the
character span of its evidence in the clause text, so the UI can highlight exactly those words.
Nothing here decides a clause's label; fields are read from any liability clause.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# Field kinds in the order a lawyer reads them, with their display names.
FIELD_NAMES = {
    "cap_amount": "Cap amount",
    "cap_basis": "Cap basis",
    "cap_period": "Cap period",
    "cap_scope": "Cap applies",
    "basket": "Basket / deductible",
    "carve_out": "Carved out of the cap",
    "uncapped": "Uncapped",
    "excluded_damages": "Excluded damages",
    "time_bar": "Time bar",
}
FIELD_KINDS = tuple(FIELD_NAMES)


@dataclass(frozen=True)
class Field:
    """One extracted fact: `value` is what it says, text[start:end] of the clause is its evidence."""
    kind: str
    value: str
    start: int
    end: int


# --- sentences ---------------------------------------------------------------------------------

# A sentence ends at ". " before a capital, an enumerator or a quote, unless the word before is an abbreviation.
_SENTENCE_END = re.compile(r"[.!?](?=\s+[\"“(A-Z0-9]|\s*$)")
_ABBREVIATIONS = re.compile(r"(?:\b(?:No|Nos|Sec|Secs|Inc|Co|Corp|Ltd|Art|para|e\.g|i\.e|U\.S|[A-Z]))$")


def _sentences(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        if _ABBREVIATIONS.search(text, max(start, m.start() - 6), m.start()):
            continue
        spans.append((start, m.end()))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans


# --- numbers and durations ---------------------------------------------------------------------

_NUMBER_WORDS = {w: n for n, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_NUMBER_WORDS.update({"thirty": 30, "forty": 40, "forty-five": 45, "fifty": 50, "sixty": 60, "ninety": 90,
                      "twenty-four": 24, "thirty-six": 36, "a": 1, "an": 1, "one hundred eighty": 180,
                      "one hundred twenty": 120, "three hundred sixty-five": 365})
_COUNT = (r"(?:\d{1,3}|\[[^\]]{0,12}\]|[a-z]+(?:[- ][a-z]+){0,2})"      # "12", "[***]", "twelve", "twenty-four"
          r"(?:\s*\(\s*(?:\d{1,3}|\[[^\]]{0,12}\])\s*\))?")               # "twelve (12)"
_DURATION = re.compile(rf"\b(?P<count>{_COUNT})[\s-]*\(?(?P<unit>calendar\s+months?|months?|years?|days?)\b\)?",
                       re.I)


def _count(words: str) -> str | None:
    """'twelve (12)' -> '12', '[***]' -> '[***]', 'one' -> '1'; None when it is not a number."""
    bracket = re.search(r"\(\s*(\d{1,3})\s*\)", words)
    if bracket:
        return bracket.group(1)
    words = words.strip().lower()
    if words.isdigit():
        return words
    if words.startswith("["):
        return "[***]"  # redacted in the filing
    return str(_NUMBER_WORDS[words]) if words in _NUMBER_WORDS else None


def _duration_value(match: re.Match) -> str | None:
    n = _count(match.group("count"))
    if n is None:
        return None
    unit = match.group("unit").lower().replace("calendar ", "").rstrip("s")
    return f"{n} {unit}" + ("" if n == "1" else "s")


# --- the cap: amount, basis, period, scope ------------------------------------------------------

# Wording that sets a ceiling; what follows it is where the amount or basis is.
_CEILING = re.compile(r"\b(?:not\s+(?:to\s+)?exceed|(?:shall|will|may|to)\s+(?:in\s+no\s+event\s+)?(?:not\s+)?exceed|"
                      r"exceed(?:s|ing)?|(?:not|no)\s+(?:[\w-]+\s+){0,6}?in\s+excess\s+of|limited\s+to|capped\s+at|"
                      r"cap\s+of|up\s+to|maximum\s+(?:aggregate\s+)?(?:amount|liability)\s+of|greater\s+of|lesser\s+of|"
                      r"greater\s+than)\b", re.I)
_MONEY = re.compile(r"(?:(?:US|U\.S\.|USD|CAD|EUR|GBP)\s?)?[$€£]\s?\d(?:[\d,]*\d)?(?:\.\d+)?"
                    r"(?:\s*(?:million|billion|thousand))?"
                    r"|\b\d(?:[\d,]*\d)?(?:\.\d+)?\s*(?:million\s+)?(?:dollars|euros|pounds|USD|EUR|GBP)\b"
                    r"|\[\s*(?:…\s*)?\*[\s*…]*\]|\(\s*\*{3}\s*\)", re.I)
_MULTIPLE = (r"(?:(?:[a-z]+(?:-[a-z]+)?\s*\(\d+(?:\.\d+)?\)|\d+(?:\.\d+)?|twice|two|three|four|five)\s+times\s+|"
             r"[a-z -]{0,30}\s*\(?\d{1,3}%\)?\s+of\s+)?")
_MEASURE = (r"(?:fees?|amounts?|sums?|charges|payments?|purchase\s+price|price|prices|compensation|royalties|"
            r"consideration|monies|revenues?|remuneration)")
# A word or two may name the fees ("license fees", "Service Fees"), but not the ceiling's own words.
_NOT_AN_ADJECTIVE = r"(?!(?:exceed\w*|an?|to|equal|equivalent|of|the|limited|up)\b)"
_BASIS = re.compile(
    rf"\b{_MULTIPLE}(?:the\s+)?(?:(?:total|aggregate|actual|net|cumulative)\s+)*"
    rf"(?:{_NOT_AN_ADJECTIVE}[\w-]+\s+){{0,2}}?{_MEASURE}\b"
    r"(?:\s+(?!shall\b|will\b)[\w'’\-]+){0,6}?\s+(?:actually\s+)?(?:paid(?:\s+(?:or|and)\s+payable)?|payable|"
    r"received|due|owed|made|invoiced)\b"
    r"|\b(?:the\s+)?(?:amount|limits?|proceeds)\s+(?:of\s+)?(?:any\s+)?(?:available\s+)?(?:insurance|insurer)"
    r"[\w\s]{0,30}?"
    r"(?:coverage|proceeds|policy|policies)?\b"
    r"|\binsurance\s+(?:coverage|proceeds|limits?)\b", re.I)
_PERIOD = re.compile(rf"\b(?:during|in|within|for|over)\s+(?:the\s+|any\s+)?(?:(?:immediately\s+)?(?:preceding|prior|"
                     rf"previous|last|first)\s+)?(?P<count>{_COUNT})[\s-]*"
                     r"\(?(?P<unit>calendar\s+months?|months?|years?)"
                     r"\b\)?(?:[\s-]+period)?(?:\s+(?:immediately\s+)?(?:preceding|prior\s+to|before|"
                     r"next\s+preceding))?", re.I)
_AGGREGATE = re.compile(r"\b(?:in\s+the\s+aggregate|aggregate|cumulative(?:ly)?|in\s+total|"
                        r"(?:total|entire)\s+liability|for\s+all\s+(?:claims|events|losses)|"
                        r"all\s+claims\s+in\s+the\s+aggregate)\b", re.I)
_PER_CLAIM = re.compile(r"\b(?:per\s+(?:individual\s+)?(?:claim|occurrence|incident|event|loss)|"
                        r"(?:for|in\s+respect\s+of|with\s+respect\s+to)\s+(?:each|any\s+one|any\s+single|a\s+single)\s+"
                        r"(?:claim|occurrence|incident|event|loss)|"
                        r"(?:each|any\s+one)\s+(?:claim|occurrence|incident|event)\s+or\s+series)\b", re.I)
_LIABILITY_WORD = re.compile(r"liab|damages|responsib|recover|indemnif|claims?\b|losses", re.I)


def _cap_fields(text: str, start: int, end: int) -> list[Field]:
    """Cap fields of one sentence: only a sentence that sets a ceiling on liability counts."""
    sentence = text[start:end]
    basket = [(f.start - start, f.end - start) for f in _basket_fields(text, start, end)]
    ceilings = [m for m in _CEILING.finditer(sentence) if not any(a <= m.start() < b for a, b in basket)]
    if not ceilings or not _LIABILITY_WORD.search(sentence):
        return []
    after = ceilings[0].start()  # amounts before the first ceiling word are thresholds, not the cap
    fields: list[Field] = []
    for m in _MONEY.finditer(sentence, after):
        if any(a <= m.start() < b for a, b in basket):
            continue
        fields.append(Field("cap_amount", _money_value(m.group(0)), start + m.start(), start + m.end()))
    for m in _BASIS.finditer(sentence, after):
        fields.append(Field("cap_basis", _phrase(m.group(0)), start + m.start(), start + m.end()))
    fields += _measured_ceiling(text, start, end, ceilings, fields)
    if not fields:
        return []  # "limited to direct damages" limits the kind, not the amount
    for m in _PERIOD.finditer(sentence, after):
        value = _duration_value(m)
        if value:
            fields.append(Field("cap_period", value, start + m.start(), start + m.end()))
    for pattern, value in ((_AGGREGATE, "aggregate"), (_PER_CLAIM, "per claim")):
        m = pattern.search(sentence)
        if m:
            fields.append(Field("cap_scope", value, start + m.start(), start + m.end()))
    return fields


# What a ceiling is measured in when no amount or "fees paid" wording names it ("the annualised value of the
# Maintenance Charges", "the extent of such cover").
_MEASURE_WORD = re.compile(r"\b(?:fees?|charges|price|value|insurance|cover(?:age)?|proceeds|paid|payable|royalt\w+|"
                           r"compensation|consideration|amounts?|(?:set\s+forth|provided)\s+in\s+Sections?\s+\d)\b",
                           re.I)


def _measured_ceiling(text: str, start: int, end: int, ceilings: list[re.Match], found: list[Field]) -> list[Field]:
    """Ceilings whose measure no amount or basis pattern named: the words up to the next comma, if they measure."""
    sentence = text[start:end]
    fields = []
    for ceiling in ceilings:
        stop = re.search(r"[,;]\s|\.\s*$|$", sentence[ceiling.end():]).start() + ceiling.end()
        if any(f.end > start + ceiling.end() and f.start < start + stop for f in found + fields):
            continue
        words = sentence[ceiling.end():stop]
        if _MEASURE_WORD.search(words):
            lead = len(words) - len(words.lstrip())
            fields.append(Field("cap_basis", _short(_phrase(words)), start + ceiling.end() + lead,
                                start + ceiling.end() + len(words.rstrip(" ."))))
    return fields


def _money_value(words: str) -> str:
    if "*" in words:
        return "[***]"  # redacted in the filing; the amount exists but is not shown
    return re.sub(r"\s+", " ", words).strip()


# --- basket / deductible -----------------------------------------------------------------------

# A floor below which no claim is paid: "unless (and until) the aggregate amount of all Claims exceeds $X",
# "any claim the value of which is less than $X", a deductible or threshold of $X.
_BASKET = re.compile(
    r"\b(?:unless|until)\s+(?:and\s+until\s+)?(?:\(\w{1,4}\)\s+)?[^.;]{0,100}?\b"
    r"(?:exceeds?|is\s+(?:more|greater)\s+than)\b"
    r"|\b(?:value|amount)\s+of\s+which\s+is\s+less\s+than"
    r"|\b(?:deductible|basket|threshold|de\s+minimis)\b[^.;$€£]{0,60}"
    r"|\bin\s+excess\s+of\s+(?:the\s+)?first", re.I)


def _basket_fields(text: str, start: int, end: int) -> list[Field]:
    sentence = text[start:end]
    if not _LIABILITY_WORD.search(sentence):
        return []
    fields = []
    for m in _BASKET.finditer(sentence):
        if re.search(r"insur|polic(?:y|ies)|coverage", sentence[max(0, m.start() - 80):m.end() + 40], re.I):
            continue  # an insurance policy's deductible is not a basket on liability
        money = _MONEY.match(sentence, m.end() + len(sentence[m.end():]) - len(sentence[m.end():].lstrip(" (")))
        money = money or _MONEY.search(sentence, m.end(), min(len(sentence), m.end() + 25))
        if money:
            fields.append(Field("basket", _money_value(money.group(0)), start + m.start(), start + money.end()))
    return fields


# --- carve-outs and uncapped items --------------------------------------------------------------

# What carve-outs and uncapped items name, most specific first; the value is the lawyer's short name.
_SUBJECTS = (
    ("gross negligence", r"gross(?:ly)?\s+negligen\w*"),
    ("wilful misconduct", r"wil(?:l)?ful\s+(?:or\s+intentional\s+)?(?:misconduct|misfeasance)|"
                          r"intentional\s+misconduct|"
                          r"wil(?:l)?ful\s+(?:breach|default|acts?)|intentional\s+(?:breach|wrongdoing|acts?)"),
    ("fraud", r"fraud\w*|misrepresentation"),
    ("bad faith", r"bad\s+faith"),
    ("death or personal injury", r"death|(?:personal|bodily)\s+injur\w*"),
    ("property damage", r"(?:damage\s+to\s+(?:real\s+or\s+)?(?:tangible\s+)?(?:personal\s+)?property|"
                        r"property\s+damage)"),
    ("indemnification", r"indemni(?:f|t)\w*|hold\s+harmless"),
    ("confidentiality", r"confidential\w*|non-disclosure"),
    ("IP infringement", r"infring\w*|misappropriat\w*|intellectual\s+property"),
    ("data protection", r"data\s+(?:protection|breach|security)|privacy|personal\s+(?:data|information)"),
    ("payment obligations", r"payment\s+obligations?|obligations?\s+to\s+pay|"
                            r"payment\s+of\s+(?:money|amounts|fees|sums)|(?:amounts?|monies|sums)\s+(?:due|owed)|"
                            r"fees\s+(?:due|owed|payable)"),
    ("breach of law", r"violation\s+of\s+(?:any\s+)?(?:applicable\s+)?laws?|"
                      r"non-compliance\s+with\s+[^,;]{0,40}law"),
    ("third-party claims", r"third[-\s]part(?:y|ies)(?:'s)?\s+claims?|"
                           r"claims?\s+(?:of|by)\s+(?:a\s+|any\s+)?third[-\s]part"),
    ("negligence", r"(?<!gross\s)(?<!grossly\s)negligen\w*"),
    ("product liability", r"product\s+liability"),
)
_SUBJECT_PATTERNS = tuple((name, re.compile(rf"\b(?:{pattern})", re.I)) for name, pattern in _SUBJECTS)
_SECTION_REF = re.compile(r"\b(?:Sections?|Articles?|Clauses?|Paragraphs?)\s+\d+(?:\.\d+)*(?:\([a-z0-9]+\))*"
                          r"(?:\s*(?:,|and|or|,\s*and|,\s*or)\s*\d+(?:\.\d+)*(?:\([a-z0-9]+\))*)*", re.I)

_CARVE_OUT_OPENING = re.compile(
    r"\b(?:excepting(?:\s+only)?|except(?:\s+(?:for|with\s+respect\s+to|in\s+respect\s+of|in\s+the\s+case\s+of|"
    r"as\s+to|to\s+the\s+extent\s+of))?|excluding|"
    # "other than" names a person as often as a claim: only before claim words
    r"other\s+than(?=\s+(?:for|in\s+respect\s+of|with\s+respect\s+to|as\s+a\s+result\s+of|arising|claims?|"
    r"liabilit|damages|losses|breach))|"
    r"unless\s+(?:caused\s+by|resulting\s+from|arising\s+(?:from|out\s+of)|due\s+to)|"
    r"save\s+(?:for|in\s+respect\s+of)|with\s+the\s+exception\s+of|"
    r"(?:shall|will)\s+neither\s+(?:\([a-z]\)\s+)?apply\s+to|"
    r"(?:shall|will|does|do)\s+not\s+apply\s+(?:to|with\s+respect\s+to|in\s+respect\s+of|in\s+the\s+case\s+of|for)|"
    r"(?:shall|will)\s+not\s+(?:limit|restrict)\s+(?:a\s+party's\s+|either\s+party's\s+|any\s+)?(?:liability|"
    r"right\s+to\s+recover\w*)\s+(?:for|with\s+respect\s+to|in\s+respect\s+of)|is\s+not\s+limited\s+for|"
    r"(?:shall|will)\s+not\s+(?:limit|restrict)"
    r"(?=\s+(?:the|a\s+party's|either\s+party's|any)\s+[\w\s,]{0,60}?obligations))\b",
    re.I)
# "Nothing in this Agreement limits liability for X": the subject follows the wording.
_UNCAPPED_BEFORE = re.compile(
    r"\b(?:nothing\s+(?:herein|in\s+(?:this|the)\s+(?:agreement|section|clause|article))(?:[^.;]|\.(?=\d)){0,40}?"
    r"(?:shall|will|is\s+intended\s+to)?\s*(?:limits?|excludes?|restricts?|relieves?|releases?)|"
    r"(?:neither|no)\s+party\s+(?:excludes|limits)(?:\s+or\s+(?:limits|excludes))?|"
    r"(?:full\s+responsibility|fully\s+liable),?\s+without\s+limit(?:ation)?,?|"
    r"without\s+limit(?:ation)?\s+(?:as\s+to\s+amount\s+)?for)", re.I)
# "Liability for X shall be unlimited": the subject comes first.
_UNCAPPED_AFTER = re.compile(
    r"\b(?:shall|will|is|are)\s+(?:be\s+)?(?:unlimited|uncapped|not\s+(?:be\s+)?(?:subject\s+to\s+(?:any|the)\s+"
    r"(?:limitation|limit|cap)|limited))\b", re.I)
# An exception ends where the main clause resumes: "Except for X, neither party shall ...".
_MAIN_RESUMES = re.compile(r",\s+(?:(?i:neither|in\s+no\s+event|in\s+the\s+event|under\s+no\s+circumstances|each|"
                           r"either|no|the|a|any|its|be|shall|will)|[A-Z][\w-]+(?:'s)?)\b"
                           # ... and only where a verb follows before the next comma: "a party's indemnification
                           # obligations, or ..." is still the list
                           r"(?=[^,;]*?\b(?i:shall|will|may|is|are|be)\b)")
_ENUMERATED = re.compile(r"\s*(?:and\s+|or\s+)?\(?(?:[ivx]{1,5}|[a-h]|\d{1,2})\)\s", re.I)


# A list of exceptions also ends where a new rule starts: "..., and in no event shall".
_REGION_CUT = re.compile(r",?\s+and,?\s+(?:in\s+no\s+event|nothing)\b", re.I)


def _exception_region(text: str, begin: int, limit: int, *, forward: bool) -> tuple[int, int]:
    """Where a carve-out or uncapped list named after `begin` ends: the sentence end, a main clause resuming,
    or a semicolon that is not followed by the next item of an enumeration."""
    cut = _REGION_CUT.search(text, begin, limit)
    limit = cut.start() if cut else limit
    end = begin
    while end < limit:
        semicolon = text.find(";", end, limit)
        stop = limit if semicolon < 0 else semicolon
        resumes = _MAIN_RESUMES.search(text, begin, stop) if forward else None
        if resumes:
            return begin, resumes.start()
        if semicolon < 0 or not _ENUMERATED.match(text, semicolon + 1):
            return begin, stop
        end = semicolon + 1
    return begin, limit


def _subject_fields(kind: str, text: str, begin: int, end: int, *, named_only: bool = False) -> list[Field]:
    """The named subjects of an exception or uncapped list in text[begin:end], one field per subject;
    without a named one, the words themselves (unless named_only)."""
    region = text[begin:end]
    fields: list[Field] = []
    hits: list[tuple[int, int]] = []  # every named mention, repeated ones too, in region offsets
    for name, pattern in _SUBJECT_PATTERNS:
        for m in pattern.finditer(region):
            if any(a <= m.start() < b for a, b in hits):
                continue  # "gross negligence" is not also "negligence"
            if name in _QUALIFIERS and _named_in_item(hits, region, m.start(), coarse=True):
                continue  # "death or personal injury caused by negligence": the cause, not another item
            hits.append((m.start(), m.end()))
            if all(f.value != name for f in fields):
                fields.append(Field(kind, name, begin + m.start(), begin + m.end()))
    for m in _SECTION_REF.finditer(region):
        enumerated = bool(_ENUMERATOR.search(region))  # "(iii) its indemnification obligation under Section 10.2"
        if _named_in_item(hits, region, m.start(), coarse=enumerated) or _named_in_item(hits, region, m.start(),
                                                                                       after=True):
            continue  # "confidentiality obligations under Section 12" is already named
        fields.append(Field(kind, "obligations under " + _reference(m.group(0)), begin + m.start(), begin + m.end()))
    if not fields and not named_only:
        cut = re.search(r"\)?\s*\b(?:shall|will)\b", region)
        region = region[:cut.start()] if cut else region
        phrase = _phrase(region)
        if len(re.findall(r"\w+", phrase)) >= 2:  # "Except as set out below" names nothing
            lead = len(region) - len(region.lstrip(" ,:(\"'"))
            fields.append(Field(kind, _short(phrase), begin + lead, begin + lead + len(region.strip(" ,:;.(\"'"))))
    return sorted(fields, key=lambda f: f.start)


def _reference(words: str) -> str:
    """'SECTIONS 12.4(C)' -> 'Sections 12.4(c)'."""
    ref = re.sub(r"\s+", " ", words)
    return ref[0].upper() + ref[1:].lower()


def _named_in_item(hits: list[tuple[int, int]], region: str, at: int, *, coarse: bool = False,
                   after: bool = False) -> bool:
    """Is a subject already named in the list item that holds `at`, before it (or, with `after`, after it)?
    Items end at commas, "and", "or"; coarse items only at semicolons and enumerators ("(ii)")."""
    if after:
        ends = [i for i in (region.find(sep, at) for sep in (",", ";", " and ", " or ", " AND ", " OR ")) if i >= 0]
        item_end = min(ends, default=len(region))
        return any(at < a < item_end for a, _ in hits)
    if coarse:
        starts = [region.rfind(";", 0, at)] + [m.start() for m in _ENUMERATOR.finditer(region, 0, at)]
    else:
        starts = [region.rfind(sep, 0, at) for sep in (",", ";", " and ", " or ", " AND ", " OR ")]
    item_start = max(starts)
    return any(item_start < a < at for a, _ in hits)


_ENUMERATOR = re.compile(r"\((?:[ivx]{1,5}|[a-h]|\d{1,2})\)", re.I)
# Words that qualify a subject already named in the same item rather than naming another one.
_QUALIFIERS = {"negligence", "third-party claims"}
_REFERENCED_EXCEPTION = re.compile(r"\s*as\s+(?:otherwise\s+)?(?:expressly\s+)?(?:provided|set\s+(?:forth|out)|stated)"
                                   r"\s+"
                                   r"(?:in|under)\s+(?!this\b)(?P<ref>(?:Sections?|Articles?|Clauses?)\s+\d+(?:\.\d+)*"
                                   r"(?:\([a-z0-9]+\))*)", re.I)
_NOT_A_SUBJECT = re.compile(r"\s*(?:as\s+(?:may\b|otherwise\b|required\b|(?:expressly\s+)?(?:provided|"
                            r"set\s+(?:forth|out)|stated|permitted|described))|to\s+the\s+extent|that|where|if|"
                            r"in\s+accordance|pursuant)\b", re.I)


def _exception_fields(text: str, start: int, end: int) -> list[Field]:
    sentence = text[start:end]
    fields: list[Field] = []
    taken_until = start
    for m in _UNCAPPED_BEFORE.finditer(sentence):
        begin, stop = _exception_region(text, start + m.end(), end, forward=False)
        fields += _subject_fields("uncapped", text, begin, stop)
        taken_until = max(taken_until, stop)
    for m in _UNCAPPED_AFTER.finditer(sentence):
        fields += _subject_fields("uncapped", text, start, start + m.start(), named_only=True)
    if not _mentions_limit(sentence):
        return fields  # "other than" in a definition is not an exception to a cap
    openings = [m for m in _CARVE_OUT_OPENING.finditer(sentence) if start + m.start() >= taken_until]
    regions: list[tuple[int, int]] = []
    for i, m in enumerate(openings):
        if m.group(0).lower().startswith("other") and any(a <= start + m.start() < b for a, b in regions):
            continue  # "... obligations other than those in Section 5.4": an exception to the exception
        ref = _REFERENCED_EXCEPTION.match(sentence, m.end())
        if ref:  # "Except as set forth in Section 6.3": what that section provides is the carve-out
            fields.append(Field("carve_out", "obligations under " + _reference(ref.group("ref")),
                                start + ref.start("ref"), start + ref.end("ref")))
            continue
        if _NOT_A_SUBJECT.match(sentence, m.end()):
            continue
        begin, stop = _exception_region(text, start + m.end(), end, forward=True)
        regions.append((begin, stop))
        later = [start + o.start() for o in openings[i + 1:] if start + o.start() < stop]
        fields += _subject_fields("carve_out", text, begin, later[0] if later else stop)
    return fields


_LIMIT_WORDING = re.compile(r"limit|exceed|\bcap\b|in\s+no\s+event|exclu|not\s+(?:be\s+)?liable|no\s+liability|"
                            r"foregoing|disclaim|waive", re.I)


def _mentions_limit(sentence: str) -> bool:
    return bool(_LIMIT_WORDING.search(sentence) or _EXCLUDING.search(sentence) or _CEILING.search(sentence))


# --- excluded damage types ----------------------------------------------------------------------

_EXCLUDING = re.compile(r"\b(?:in\s+no\s+event|under\s+no\s+circumstances|not\s+(?:be\s+)?(?:liable|responsible)|"
                        # "neither ABG nor Celebrity shall be liable", "neither party will, under any circumstances,
                        # be liable"
                        r"neither\b[^.;]{0,250}?\b(?:shall|will|is)\b[^.;]{0,40}?\b(?:be\s+)?"
                        r"(?:liable|subject\s+to\s+any\s+liability)|"
                        r"not\s+be\s+subject\s+to\s+any\s+liability|"
                        r"no\s+(?:liability|responsibility)|(?:neither|no)\s+party\s+(?:shall|will|is)|excludes?|"
                        r"disclaims?|waives?|not\s+(?:be\s+)?entitled\s+to\s+recover|shall\s+not\s+include)\b", re.I)
_DAMAGE_TYPES = tuple((name, re.compile(rf"\b(?:{pattern})\b", re.I)) for name, pattern in (
    ("consequential", r"consequential"),
    ("indirect", r"indirect"),
    ("incidental", r"incidental"),
    ("special", r"special(?=[\s,]+(?:[a-z]+[\s,]+(?:or|and)\s+)?(?:[a-z]+[\s,]+)*?(?:damages|losses))"),
    ("punitive", r"punitive"),
    ("exemplary", r"exemplary"),
    ("multiple damages", r"multiple|treble"),
    ("statutory damages", r"statutory(?=\s+damages)"),
    ("diminution in value", r"diminution\s+(?:in|of)\s+value"),
    ("loss of goodwill", r"damage\s+to\s+(?:business\s+)?reputation|loss\s+of\s+(?:business\s+)?reputation"),
    ("pure economic loss", r"(?:pure\s+)?economic\s+(?:loss|nature)"),
    ("increased costs", r"increased?\s+(?:\w+\s+)?costs"),
))
# "loss of use, data, business or profits": the words after "loss of" / "lost".
_LOSS_LIST = re.compile(r"\b(?:loss(?:es)?(?:\s+\([^)]{0,40}\))?\s+of|lost|loss\s+or\s+corruption\s+of)"
                        r"\s+[\w\s,/-]{0,80}",
                        re.I)
_LOSS_TYPES = tuple((name, re.compile(rf"\b(?:{pattern})\b", re.I)) for name, pattern in (
    ("lost profits", r"profits?"),
    ("lost revenue", r"revenues?|income|sales|turnover"),
    ("loss of data", r"data"),
    ("loss of goodwill", r"goodwill|reputation"),
    ("loss of business", r"business(?!\s+(?:interruption|reputation))|opportunit\w*|contracts?"),
    ("loss of use", r"use"),
    ("lost savings", r"savings"),
))
_BUSINESS_INTERRUPTION = re.compile(r"\bbusiness\s+interruption\b", re.I)


def _damage_fields(text: str, start: int, end: int) -> list[Field]:
    sentence = text[start:end]
    first = _EXCLUDING.search(sentence)
    if not first:
        return []
    fields: list[Field] = []
    seen: set[str] = set()

    def add(name: str, a: int, b: int) -> None:
        if name not in seen:
            seen.add(name)
            fields.append(Field("excluded_damages", name, start + a, start + b))

    for name, pattern in _DAMAGE_TYPES:
        for m in pattern.finditer(sentence, first.start()):
            add(name, m.start(), m.end())
    for loss in _LOSS_LIST.finditer(sentence, first.start()):
        window = loss.group(0)
        words = re.split(r"\b(?:damages|arising|whether|even|in\s+connection|resulting|caused|suffered|incurred)\b",
                         window, maxsplit=1, flags=re.I)[0]
        for name, pattern in _LOSS_TYPES:
            m = pattern.search(words)
            if m:
                add(name, loss.start(), loss.start() + m.end())
    m = _BUSINESS_INTERRUPTION.search(sentence, first.start())
    if m:
        add("business interruption", m.start(), m.end())
    return fields


# --- time bars ----------------------------------------------------------------------------------

_TIME_BAR = re.compile(
    rf"\b(?:brought|commenced|filed|instituted|initiated|asserted|made|presented|notified|begun)\s+"
    rf"(?:[\w,()]+\s+){{0,5}}?(?:within|no\s+later\s+than|not\s+later\s+than|more\s+than|after\s+the\s+expiration\s+of)"
    rf"\s+(?:a\s+period\s+of\s+)?(?P<count>{_COUNT})[\s-]*\(?(?P<unit>calendar\s+months?|months?|years?|days?)\b\)?",
    re.I)
_CLAIM_WORD = re.compile(r"\b(?:claims?|actions?|suits?|proceedings?|causes?\s+of\s+action)\b", re.I)


def _time_bar_fields(text: str, start: int, end: int) -> list[Field]:
    sentence = text[start:end]
    if not _CLAIM_WORD.search(sentence):
        return []
    fields = []
    for m in _TIME_BAR.finditer(sentence):
        value = _duration_value(m)
        if value:
            fields.append(Field("time_bar", value, start + m.start(), start + m.end()))
    return fields


# --- the whole clause ---------------------------------------------------------------------------

def extract_fields(text: str) -> list[Field]:
    """Every field of one clause, in the order of FIELD_KINDS, then by position; one per (kind, value)."""
    found: list[Field] = []
    for start, end in _sentences(text):
        for rule in (_cap_fields, _basket_fields, _exception_fields, _damage_fields, _time_bar_fields):
            found += rule(text, start, end)
    unique: dict[tuple[str, str], Field] = {}
    for f in found:
        unique.setdefault((f.kind, f.value.lower()), f)
    return sorted(unique.values(), key=lambda f: (FIELD_KINDS.index(f.kind), f.start))


# --- helpers ------------------------------------------------------------------------------------

_MAX_PHRASE = 80


def _phrase(words: str) -> str:
    text = re.sub(r"\s+", " ", words).strip(" ,.;:\"'()")
    text = re.sub(r"^(?:\((?:[ivx]+|[a-z]|\d+)\)\s*)+", "", text, flags=re.I)
    text = re.sub(r"^(?:for|to|of|any|all|claims?\s+(?:for|arising\s+(?:from|out\s+of)))\s+", "", text, flags=re.I)
    return text.lower() if text.isupper() else text


def _short(text: str) -> str:
    return text if len(text) <= _MAX_PHRASE else text[:_MAX_PHRASE].rsplit(" ", 1)[0] + "…"
