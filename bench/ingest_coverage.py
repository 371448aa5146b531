"""Span coverage of clause segmentation on the CUAD development contracts.

For every CUAD "Cap On Liability" and "Uncapped Liability" span in master_clauses_dev.csv: locate the
span's words in the ingested document, then ask whether at least 90% of them fall inside one single
clause. Also prints clause length (words): median and 95th percentile.

    python -m bench.ingest_coverage --route txt    # contracts_txt/*.txt (all development contracts)
    python -m bench.ingest_coverage --route pdf    # the 40 contracts_pdf/*.pdf, PDF route
"""
from __future__ import annotations

import argparse
import ast
import bisect
import csv
import difflib
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from app.config import get_settings
from app.ingest import IngestError, ingest_path

COLUMNS = ("Cap On Liability", "Uncapped Liability")
THRESHOLD = 0.9
_TOKEN = re.compile(r"[a-z0-9]+")
ANCHOR = 4  # words in the n-grams used to find where a span sits in the document


def load_spans(cuad: Path) -> dict[str, list[str]]:
    """contract stem -> span texts of the two liability columns."""
    csv.field_size_limit(sys.maxsize)
    spans: dict[str, list[str]] = defaultdict(list)
    with open(cuad / "master_clauses_dev.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            stem = Path(row["Filename"]).stem
            for col in COLUMNS:
                spans[stem].extend(s for s in ast.literal_eval(row[col] or "[]") if s.strip())
    return spans


def _tokens(text: str) -> list[tuple[str, int]]:
    return [(m.group(0), m.start()) for m in _TOKEN.finditer(text.lower())]


def span_share(span: str, doc_words: list[str], doc_clause: list[int], grams: dict) -> float | None:
    """Largest share of the span's words aligned inside one clause; None if the span is not found."""
    words = [w for w, _ in _tokens(span)]
    if not words:
        return None
    votes: Counter[int] = Counter()
    for i in range(max(1, len(words) - ANCHOR + 1)):
        for pos in grams.get(tuple(words[i:i + ANCHOR]), ()):
            votes[pos - i] += 1
    if not votes:
        return None
    offset = votes.most_common(1)[0][0]
    lo, hi = max(0, offset - 30), min(len(doc_words), offset + len(words) + 30)
    matcher = difflib.SequenceMatcher(None, doc_words[lo:hi], words, autojunk=False)
    per_clause: Counter[int] = Counter()
    for a, _, size in matcher.get_matching_blocks():
        for k in range(size):
            clause = doc_clause[lo + a + k]
            if clause >= 0:
                per_clause[clause] += 1
    return max(per_clause.values(), default=0) / len(words)


def span_shares(document, clauses, spans: list[str]) -> list[float | None]:
    """For each span, the largest share of its words inside one clause (None: not found in the text)."""
    tokens = _tokens(document.text)
    doc_words = [w for w, _ in tokens]
    starts = [c.start for c in clauses]
    doc_clause = []
    for _, off in tokens:
        i = bisect.bisect_right(starts, off) - 1
        doc_clause.append(i if i >= 0 and off < clauses[i].end else -1)
    grams: dict = defaultdict(list)
    for i in range(len(doc_words) - ANCHOR + 1):
        grams[tuple(doc_words[i:i + ANCHOR])].append(i)
    return [span_share(span, doc_words, doc_clause, grams) for span in spans]


def evaluate(route: str, cuad: Path, limit: int | None, show: int) -> dict:
    spans = load_spans(cuad)
    folder = cuad / ("contracts_txt" if route == "txt" else "contracts_pdf")
    files = sorted(folder.glob(f"*.{route}"))[:limit]
    lengths: list[int] = []
    total = covered = missing = failed = 0
    misses = []
    t0 = time.perf_counter()
    for path in files:
        try:
            document, clauses = ingest_path(path)
        except IngestError as e:
            failed += 1
            print(f"  ! {e}", file=sys.stderr)
            continue
        lengths.extend(len(c.text.split()) for c in clauses)
        contract_spans = spans.get(path.stem, [])
        if not contract_spans:
            continue
        for span, share in zip(contract_spans, span_shares(document, clauses, contract_spans)):
            total += 1
            if share is None:
                missing += 1
            elif share >= THRESHOLD:
                covered += 1
                continue
            misses.append((path.stem, share, span))
    elapsed = time.perf_counter() - t0
    lengths.sort()
    result = {
        "route": route, "contracts": len(files), "unreadable": failed, "spans": total,
        "covered": covered, "not_located": missing, "coverage": covered / total if total else float("nan"),
        "clauses": len(lengths), "median_words": statistics.median(lengths) if lengths else 0,
        "p95_words": lengths[int(0.95 * (len(lengths) - 1))] if lengths else 0, "seconds": elapsed,
    }
    for stem, share, span in misses[:show]:
        print(f"  miss {share if share is not None else 'not found'!s:.5} {stem[:50]}: {span[:160]!r}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--route", choices=["txt", "pdf", "both"], default="both")
    parser.add_argument("--cuad", type=Path, default=get_settings().shared_dir / "data" / "cuad")
    parser.add_argument("--limit", type=int, default=None, help="first N contracts only (for quick runs)")
    parser.add_argument("--show-misses", type=int, default=0, help="print this many uncovered spans")
    args = parser.parse_args(argv)
    routes = ["txt", "pdf"] if args.route == "both" else [args.route]
    ok = True
    for route in routes:
        r = evaluate(route, args.cuad, args.limit, args.show_misses)
        print(f"{r['route']}: contracts={r['contracts']} unreadable={r['unreadable']} spans={r['spans']} "
              f"covered={r['covered']} not_located={r['not_located']} coverage={r['coverage']:.3f} "
              f"clauses={r['clauses']} median_words={r['median_words']} p95_words={r['p95_words']} "
              f"time={r['seconds']:.1f}s")
        ok &= r["coverage"] >= 0.95 and r["median_words"] <= 120 and r["p95_words"] <= 400
    print("targets (coverage >= 0.95, median <= 120, p95 <= 400):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
