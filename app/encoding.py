"""What the classifier reads of a clause: its heading, its text, and which tokens survive truncation.

Training and serving both encode through here, so a model sees at serving time exactly the
input it was trained on. Two choices, both measured on the development segments:

- The heading ("12 LIMITATION OF LIABILITY > 12.2") goes first: a bare "(b)" paragraph is
  often a liability term only because of the section it sits in.
- Long clauses keep their head AND tail: 34% of liability segments exceed 256 tokens, and a
  carve-out is usually the end of a cap ("... except for breach of Section 9"); cutting the
  tail would turn `carve_out` into `capped`.
"""
from __future__ import annotations

HEADING_SEPARATOR = "\n"


def model_text(text: str, heading: str | None = None) -> str:
    """The string the tokenizer sees: heading, a line break, then the clause text."""
    heading = (heading or "").strip()
    return f"{heading}{HEADING_SEPARATOR}{text}" if heading else text


def head_and_tail(ids: list[int], max_length: int, tail: int) -> list[int]:
    """`ids` cut to `max_length` tokens keeping the first max_length - tail and the last `tail`."""
    if len(ids) <= max_length:
        return ids
    tail = min(tail, max_length - 1)
    return ids[:max_length - tail] + (ids[-tail:] if tail else [])


def encode(tokenizer, texts: list[str], headings: list[str] | None = None, *, max_length: int,
           tail: int = 0) -> list[list[int]]:
    """Token ids per clause (unpadded), heading first, head-and-tail truncated."""
    headings = headings if headings is not None else [""] * len(texts)
    if len(headings) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(headings)} headings")
    ids = tokenizer([model_text(t, h) for t, h in zip(texts, headings)], add_special_tokens=True)["input_ids"]
    return [head_and_tail(x, max_length, tail) for x in ids]
