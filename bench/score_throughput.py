"""Whole contracts end to end, before and after the levers of issue 15, measured side by side.

    python -m bench.score_throughput [--model VERSION] [--pdf] [--limit 24] [--rounds 2]

Each configuration is app.batch.score_files as `python -m app score` runs it (read, hash, ingest,
classify, route, append to a JSONL file with an fsync per contract) on the same CUAD development
contracts (the 40 PDFs with --pdf, else TXT files spread over the list):
- "every segment, fp32": the version's model reads every segment in fp32 (the product before);
- "first stage, fp32": segments the first stage's binary detector is sure are `none` skip the model
  (app/first_stage.py, the version's card);
- "first stage, <precision>": the same with the serving precision training.serving chose, if any.
All share one process and are timed in rotating rounds, so the ratios hold on a shared CPU where
absolute figures do not. Rows of every configuration must match the first one's clause count.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def development_contracts(limit: int, pdf: bool = False) -> list[Path]:
    """CUAD development contracts (TXT, or the PDFs); with a limit, that many spread evenly over the sorted list."""
    from app.config import get_settings

    cuad = Path(get_settings().shared_dir) / "data" / "cuad"
    files = sorted((cuad / "contracts_pdf").glob("*.pdf")) if pdf else sorted((cuad / "contracts_txt").glob("*.txt"))
    if limit and limit < len(files):
        step = len(files) / limit
        files = [files[int(i * step)] for i in range(limit)]
    return files


def configurations(model: str | None) -> dict:
    """Name -> Classifier, all on one set of loaded weights except a converted precision."""
    from app.classifier import Classifier, load_weights
    from app.precision import convert, merged
    from app.registry import Registry

    mv = Registry().get(model)
    serving = mv.card.get("serving") or {}
    model_fp32, tokenizer = load_weights(mv, "cpu", serving_precision=False)
    shipped = Classifier.from_weights(mv, model_fp32, tokenizer)
    before = Classifier.from_weights(mv, model_fp32, tokenizer)
    before.first_stage = None
    out = {"every segment, fp32": before}
    if shipped.first_stage is not None:
        out["first stage, fp32"] = shipped
    if serving.get("kept"):
        converted = convert(merged(model_fp32), serving["precision"]).eval()
        out[f"first stage, {serving['precision']}"] = Classifier.from_weights(mv, converted, tokenizer)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.score_throughput", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model version (default: the active one)")
    parser.add_argument("--pdf", action="store_true", help="the 40 CUAD development PDFs instead of TXT files")
    parser.add_argument("--limit", type=int, default=24, help="contracts to score, spread over the list; 0 = all")
    parser.add_argument("--rounds", type=int, default=2, help="rotating timing rounds")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    from app.batch import ClauseWriter, score_files
    from app.routing import load_policy

    tmp = Path(tempfile.mkdtemp(prefix="lexdora-bench-"))
    configs = configurations(args.model)
    first = next(iter(configs.values()))
    policy = load_policy(first.version)
    files = development_contracts(args.limit, args.pdf)
    for clf in configs.values():
        clf.predict_proba(["warm-up: first-call allocations are not scoring"] * 4)

    def pipeline(name: str, r: int) -> tuple[float, int]:
        out = tmp / f"scores-{r}-{len(times[name])}-{abs(hash(name))}.jsonl"
        start = time.perf_counter()
        with ClauseWriter(out) as writer:
            report = score_files(files, configs[name], policy, writer, {}, progress=False)
        elapsed = time.perf_counter() - start
        assert report.scored + len(report.failures) == len(files), report
        return elapsed, report.clauses

    times: dict[str, list[float]] = {name: [] for name in configs}
    clauses: dict[str, int] = {}
    names = list(configs)
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:  # rotate: no configuration always first
            elapsed, n = pipeline(name, r)
            times[name].append(elapsed)
            clauses.setdefault(name, n)
            assert n == clauses[names[0]] or names[0] not in clauses, (name, n, clauses)
            print(f"round {r + 1} {name:28s} {elapsed:8.1f} s", flush=True)

    base = sum(times[names[0]])
    n_clauses = clauses[names[0]]
    figures = {"model": first.version.name, "files": "pdf" if args.pdf else "txt", "contracts": len(files),
               "clauses": n_clauses, "rounds": args.rounds, "times_s": times,
               "contracts_per_s": {k: len(files) * args.rounds / sum(v) for k, v in times.items()},
               "speedup": {k: base / sum(v) for k, v in times.items()}}
    print(f"\nmodel {figures['model']}: {len(files)} CUAD development contracts ({figures['files']}), {n_clauses} "
          f"segments, {args.rounds} rounds, end to end (read, segment, classify, route, write)")
    print("| configuration | contracts/s | segments/s | vs every segment, fp32 |\n|---|---|---|---|")
    for name in names:
        cps = figures["contracts_per_s"][name]
        print(f"| {name} | {cps:.3f} | {cps * n_clauses / len(files):.1f} | {figures['speedup'][name]:.2f}x |")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
