"""Batch scoring throughput on the CUAD development contracts, and its ratio to the classifier alone.

    nice -n 5 python -m bench.score_throughput [--model VERSION] [--limit 24] [--rounds 2]

"pipeline" is app.batch.score_files as `python -m app score` runs it: read each file, hash it,
ingest it, classify its clauses, route them and append the rows to a JSONL file (fsync per
contract). "classifier" is Classifier.predict_proba on the very same clause texts, contract by
contract, already ingested. Both use one loaded model and are timed in interleaved rounds in one
process, so the ratio holds on a shared CPU where absolute figures do not. Target: ratio >= 0.9.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def development_contracts(limit: int) -> list[Path]:
    """The TXT development contracts of CUAD; with a limit, that many spread evenly over the sorted list."""
    from app.config import get_settings

    files = sorted((Path(get_settings().shared_dir) / "data" / "cuad" / "contracts_txt").glob("*.txt"))
    if limit and limit < len(files):
        step = len(files) / limit
        files = [files[int(i * step)] for i in range(limit)]
    return files


def fresh_adapter_version(base: str, root: Path):
    """A registry version with a freshly initialised DoRA adapter on `base`: speed does not depend on training."""
    import torch
    from peft import LoraConfig, get_peft_model

    from app.modeling import load_base_model, load_tokenizer
    from app.registry import ModelVersion
    from app.taxonomy import LABEL_IDS

    torch.manual_seed(0)
    model = load_base_model(base, tokenizer=load_tokenizer(base))
    config = LoraConfig(task_type="SEQ_CLS", r=16, lora_alpha=32, use_dora=True, init_lora_weights=False,
                        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
    version = ModelVersion("bench-fresh-dora", root / "bench-fresh-dora")
    get_peft_model(model, config).save_pretrained(version.path / "adapter")
    version.write_card({"version": version.name, "base_model": base, "method": "dora", "quantization": "none",
                        "labels": list(LABEL_IDS), "merged": False, "train_config": {}})
    return version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.score_throughput", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model version (default: the active one)")
    parser.add_argument("--fresh-adapter", metavar="BASE",
                        help="instead of --model, time a fresh DoRA adapter on this base "
                             "(e.g. embedded:SmolLM2-135M-Instruct)")
    parser.add_argument("--limit", type=int, default=24, help="contracts to score, spread over the list; 0 = all")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved timing rounds")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    from app.batch import ClauseWriter, score_files
    from app.classifier import Classifier
    from app.ingest import ingest_path
    from app.routing import load_policy

    tmp = Path(tempfile.mkdtemp(prefix="lexdora-bench-"))
    if args.fresh_adapter:
        from app.registry import Registry

        version = fresh_adapter_version(args.fresh_adapter, tmp / "registry")
        classifier = Classifier.load(version.name, registry=Registry(root=tmp / "registry"))
    else:
        classifier = Classifier.load(args.model)
    policy = load_policy(classifier.version)
    files = development_contracts(args.limit)
    texts = [[c.text for c in ingest_path(f)[1]] for f in files]  # for the classifier-alone runs, untimed
    n_clauses = sum(map(len, texts))
    classifier.predict_proba(texts[0][:32])  # warm-up: first-call allocations are not scoring

    def pipeline(r: int) -> float:
        out = tmp / f"scores-{r}.jsonl"
        start = time.perf_counter()
        with ClauseWriter(out) as writer:
            report = score_files(files, classifier, policy, writer, {}, progress=False)
        elapsed = time.perf_counter() - start
        assert report.scored == len(files) and report.clauses == n_clauses, report
        return elapsed

    def classifier_alone() -> float:
        start = time.perf_counter()
        for contract in texts:
            classifier.predict_proba(contract)
        return time.perf_counter() - start

    times: dict[str, list[float]] = {"pipeline": [], "classifier": []}
    for r in range(args.rounds):
        # Alternate which runs first, so a slow patch of the shared CPU does not fall on one side only.
        order = ("pipeline", "classifier") if r % 2 == 0 else ("classifier", "pipeline")
        for name in order:
            times[name].append(pipeline(r) if name == "pipeline" else classifier_alone())
            print(f"round {r + 1} {name:10s} {times[name][-1]:8.1f} s", flush=True)

    total = {k: sum(v) for k, v in times.items()}
    figures = {
        "model": classifier.version.name, "contracts": len(files), "clauses": n_clauses, "rounds": args.rounds,
        "pipeline_contracts_per_s": len(files) * args.rounds / total["pipeline"],
        "pipeline_clauses_per_s": n_clauses * args.rounds / total["pipeline"],
        "classifier_clauses_per_s": n_clauses * args.rounds / total["classifier"],
        "ratio_pipeline_to_classifier": total["classifier"] / total["pipeline"],
        "times_s": times,
    }
    print(f"\nmodel {figures['model']}: {len(files)} CUAD development contracts, {n_clauses} clauses, "
          f"{args.rounds} rounds")
    print("| run | contracts/s | clauses/s |\n|---|---|---|")
    print(f"| pipeline (score) | {figures['pipeline_contracts_per_s']:.3f} | {figures['pipeline_clauses_per_s']:.1f} |")
    print(f"| classifier alone | {len(files) * args.rounds / total['classifier']:.3f} | "
          f"{figures['classifier_clauses_per_s']:.1f} |")
    print(f"ratio pipeline / classifier: {figures['ratio_pipeline_to_classifier']:.3f} (target >= 0.9)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
