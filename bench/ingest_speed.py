"""Pages per second on the 40 CUAD PDFs: lexdora's PDF route beside the PDF libraries' raw text extraction.

Side by side in one run, the same files in memory, the methods interleaved file by file:
  raw-pdfium  pypdfium2 text of every page, nothing else (the floor for our reader)
  raw-pypdf   pypdf extract_text of every page (the alternative we measured against; --no-pypdf skips it)
  read        app.ingest.read_document: extraction + header/footer removal + paragraph repair
  ingest      app.ingest.ingest_bytes: read + clause segmentation

    python -m bench.ingest_speed [--repeat 5] [--no-pypdf]
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

from app.config import get_settings
from app.ingest import ingest_bytes, read_document


def raw_pdfium(data: bytes) -> int:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    for page in pdf:
        textpage = page.get_textpage()
        textpage.get_text_range()
        textpage.close()
        page.close()
    n = len(pdf)
    pdf.close()
    return n


def raw_pypdf(data: bytes) -> int:
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(data))
    for page in reader.pages:
        page.extract_text()
    return len(reader.pages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pdfs", type=Path, default=get_settings().shared_dir / "data" / "cuad" / "contracts_pdf")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved passes over all files")
    parser.add_argument("--no-pypdf", action="store_true", help="skip pypdf (it is ~7x slower)")
    args = parser.parse_args(argv)

    files = [(p.name, p.read_bytes()) for p in sorted(args.pdfs.glob("*.pdf"))]
    pages = sum(raw_pdfium(data) for _, data in files)  # also warms the OS cache and imports
    methods = {
        "raw-pdfium": lambda name, data: raw_pdfium(data),
        "read": lambda name, data: read_document(data, name),
        "ingest": lambda name, data: ingest_bytes(data, name),
    }
    if not args.no_pypdf:
        methods["raw-pypdf"] = lambda name, data: raw_pypdf(data)
    for name, data in files[:1]:
        ingest_bytes(data, name)  # loads pysbd's rules once, outside the timing
    # Interleaved file by file, so that load from other processes falls on every method alike; each
    # pass gives one time per method, and the ratios are taken within a pass.
    passes = []
    for _ in range(args.repeat):
        spent = dict.fromkeys(methods, 0.0)
        for name, data in files:
            for method, fn in methods.items():
                t0 = time.perf_counter()
                fn(name, data)
                spent[method] += time.perf_counter() - t0
        passes.append(spent)
    best = {m: min(p[m] for p in passes) for m in methods}
    ratio = {m: statistics.median(p[m] / p["raw-pdfium"] for p in passes) for m in methods}
    print(f"{len(files)} PDFs, {pages} pages, {args.repeat} interleaved passes (fastest pass shown)")
    for method, seconds in best.items():
        print(f"  {method:<11} {pages / seconds:8.1f} pages/s  ({seconds:.2f} s)")
    for method in ("read", "ingest"):
        print(f"{method} takes {ratio[method]:.2f}x the time of raw-pdfium (median over passes; target <= 2x)")
    if "raw-pypdf" in ratio:
        print(f"raw-pypdf takes {ratio['raw-pypdf']:.1f}x the time of raw-pdfium")
    return 0 if ratio["ingest"] <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
