"""Peak memory and time of reading each crafted hostile file (issue 12), each in a fresh process.

    .venv/bin/python bench/crafted_files.py

Peak memory is the reading process's maximum resident set (ru_maxrss), including the interpreter and
the readers' libraries; "baseline" is that process doing nothing but those imports.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024

_CHILD = r"""
import json, resource, sys, time
from app.ingest import IngestError, ingest_path
import bs4, docx, lxml.etree, pypdfium2  # the readers' libraries, imported before the clock starts
path, max_mb = sys.argv[1], float(sys.argv[2])
t = time.perf_counter()
if path == "-":
    outcome = "imports only"
else:
    try:
        document, clauses = ingest_path(path, max_bytes=int(max_mb * 1024 * 1024))
        outcome = f"read: {len(document.text):,} characters, {len(clauses):,} clauses"
    except IngestError as e:
        outcome = f"refused: {e}"
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": time.perf_counter() - t, "peak_mb": peak_mb, "outcome": outcome}))
"""


def crafted(folder: Path) -> dict[str, tuple[Path, float]]:
    sys.path.insert(0, str(ROOT))
    from tests.fixtures import crafted as c

    files = {
        "100k nested <div>": ("nested.html", c.nested_html(100_000)),
        "100k flat <p>": ("flat.html", c.flat_html(100_000)),
        "DOCX 1 GB said 4 KB (CRC of 4 KB)": ("liar-crc-ok.docx", c.understated_docx(1024, 4096, "declared")),
        "DOCX 1 GB said 4 KB (CRC of 1 GB)": ("liar-crc-bad.docx", c.understated_docx(1024, 4096, "inflated")),
        "DOCX 300 MB, honest headers": ("bomb.docx", c.understated_docx(300, 300 * MB, "inflated")),
        "zip of 60,000 parts": ("parts.docx", c.many_parts_zip(60_000)),
        "UTF-16LE text without BOM (1 MB)": ("nobom.txt", c.utf16_without_bom(
            "12.3 Neither party's liability shall exceed the fees paid.\n" * 9000)),
    }
    out = {}
    for label, (name, data) in files.items():
        path = folder / name
        path.write_bytes(data)
        out[label] = (path, 50)
    out["600 MB file by stat (sparse)"] = (c.huge_sparse_file(folder / "huge.txt", 600 * MB), 50)
    return out


def measure(path: str, max_mb: float) -> dict:
    result = subprocess.run([sys.executable, "-c", _CHILD, path, str(max_mb)], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    if result.returncode:
        return {"seconds": float("nan"), "peak_mb": float("nan"), "outcome": result.stderr.strip()[-200:]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rows = [("baseline (imports only)", measure("-", 50))]
        for label, (path, max_mb) in crafted(Path(tmp)).items():
            rows.append((label, measure(str(path), max_mb)))
    print(f"| file | time (s) | peak RSS (MB) | outcome |\n|---|---:|---:|---|")
    for label, r in rows:
        print(f"| {label} | {r['seconds']:.2f} | {r['peak_mb']:.0f} | {r['outcome'][:150]} |")


if __name__ == "__main__":
    main()
