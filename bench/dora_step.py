"""Training step time and peak memory: LoRA vs stock peft DoRA vs app.fast_dora, side by side.

    nice -n 10 python -m bench.dora_step [--batch-sizes 8 32] [--quantizations none nf4] [--rounds 3]

The real SmolLM2-135M base (the embedded default), adapted with the recipe's adapter: q/k/v/o,
r=16, alpha=32, dropout 0, the score head trained in full, on the top 12 layers (configs/default.yaml
adapts only the top 2 and trains them from cached activations; 12 give the adapters a share of a
whole-model step that a ratio can see).
For each base precision (fp32, NF4) the three models are built from one base with the same seed
and take turns on the same batch, round after round, the order rotated every round, so a change
in the load of a shared machine hits all three alike; only ratios measured this way mean
anything on a shared CPU. A step is forward + backward + AdamW step + zero_grad on a batch of
`--seq` random token ids. The first `--warmup` rounds are not counted.

Peak memory is the tensor-level peak of one extra step of each model (weights, gradients,
AdamW state, activations, temporaries), followed op by op with a TorchDispatchMode: the CPU
counterpart of CUDA's max_memory_allocated (the process RSS is too noisy to compare three
models living in one process); on a GPU, torch.cuda.max_memory_allocated is used instead.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]
NAMES = ("lora", "dora_stock", "dora_fast")


def build_models(base_ref: str, quantization: str, *, r: int, alpha: float, top_layers: int, device: str,
                 seed: int = 13) -> dict:
    """LoRA, stock DoRA and fast DoRA adapters on copies of one base, built like training.train.build_model."""
    from peft import LoraConfig, TaskType, get_peft_model, prepare_model_for_kbit_training

    from app.fast_dora import enable_fast_dora
    from app.modeling import load_base_model

    base = load_base_model(base_ref, quantization=quantization,
                           device_map=None if quantization == "none" else {"": device})
    if quantization == "nf4":
        base = prepare_model_for_kbit_training(base, use_gradient_checkpointing=False)
    base.to(device)
    n_layers = base.config.num_hidden_layers
    models = {}
    for name in NAMES:
        torch.manual_seed(seed)
        config = LoraConfig(task_type=TaskType.SEQ_CLS, r=r, lora_alpha=alpha, lora_dropout=0.0,
                            target_modules=list(TARGETS), use_dora=name != "lora", modules_to_save=["score"],
                            layers_to_transform=list(range(n_layers - top_layers, n_layers)))
        model = get_peft_model(copy.deepcopy(base), config)
        if name == "dora_fast":
            assert enable_fast_dora(model) == len(TARGETS) * top_layers
        models[name] = model
    del base
    return models


def make_batches(n: int, batch_size: int, seq: int, vocab: int, device: str, seed: int = 0) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    return [{"input_ids": torch.randint(min(100, vocab // 2), vocab, (batch_size, seq), generator=g).to(device),
             "attention_mask": torch.ones(batch_size, seq, dtype=torch.long, device=device),
             "labels": torch.randint(0, 7, (batch_size,), generator=g).to(device)} for _ in range(n)]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _step(model, optimiser, batch) -> None:
    model(**batch).loss.backward()
    optimiser.step()
    optimiser.zero_grad(set_to_none=True)


def time_steps(models: dict, optimisers: dict, batches: list[dict], *, warmup: int, device: str,
               log=print) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per-round wall and process-CPU step times of every model on the same batch, order rotated each round.

    CPU time (all threads of this process) is the less noisy of the two on a shared machine:
    other jobs taking the cores lengthen the wall time of a step, not the work it does.
    """
    times = {name: [] for name in models}
    cpu = {name: [] for name in models}
    names = list(models)
    for i, batch in enumerate(batches):
        order = names[i % len(names):] + names[:i % len(names)]
        for name in order:
            models[name].train()
            _sync(device)
            t0, c0 = time.perf_counter(), time.process_time()
            _step(models[name], optimisers[name], batch)
            _sync(device)
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            if i >= warmup:
                times[name].append(dt)
                cpu[name].append(dc)
            log(f"  round {i}{' (warm-up)' if i < warmup else ''} {name}: {dt:.2f}s wall, {dc:.2f}s cpu")
    return times, cpu


class TensorPeak:
    """Peak bytes of live tensor storages while the block runs, on the CPU (CUDA's max_memory_allocated, by hand).

    A TorchDispatchMode sees every tensor an ATen op returns; storages are followed by weak
    reference, so one freed is no longer counted. `baseline` tensors (weights, optimizer state)
    are counted from the start. The live total is refreshed lazily: only when the running total,
    an upper bound, would raise the peak.
    """

    def __init__(self, baseline=()):
        from torch.multiprocessing.reductions import StorageWeakRef
        from torch.utils._python_dispatch import TorchDispatchMode
        from torch.utils._pytree import tree_leaves

        live: dict[int, tuple] = {}
        state = {"cur": 0, "peak": 0}

        def add(t) -> None:
            if not isinstance(t, torch.Tensor) or t.device.type == "meta":
                return
            try:
                storage = t.untyped_storage()
            except (RuntimeError, NotImplementedError):
                return
            ref = StorageWeakRef(storage)
            if ref.cdata not in live:
                live[ref.cdata] = (ref, storage.nbytes())
                state["cur"] += storage.nbytes()

        def refresh() -> None:
            for key in [k for k, (ref, _) in live.items() if ref.expired()]:
                state["cur"] -= live.pop(key)[1]

        def bump() -> None:
            if state["cur"] > state["peak"]:
                refresh()
                state["peak"] = max(state["peak"], state["cur"])

        class _Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                for t in tree_leaves(out):
                    add(t)
                bump()
                return out

        for t in baseline:
            add(t)
        bump()
        self._mode, self._state = _Mode(), state

    def __enter__(self):
        self._mode.__enter__()
        return self

    def __exit__(self, *exc):
        return self._mode.__exit__(*exc)

    @property
    def peak_mb(self) -> float:
        return self._state["peak"] / 2**20


def peak_memory_mb(model, optimiser, batch, device: str) -> dict:
    """Peak tensor memory of one training step in MB (weights, AdamW state, activations, gradients, temporaries)."""
    model.train()
    if device.startswith("cuda"):
        _sync(device)
        torch.cuda.reset_peak_memory_stats()
        _step(model, optimiser, batch)
        _sync(device)
        return {"total": torch.cuda.max_memory_allocated() / 2**20, "kind": "cuda_max_allocated"}
    baseline = [*model.parameters(), *model.buffers(),
                *(v for st in optimiser.state.values() for v in st.values() if isinstance(v, torch.Tensor))]
    with TensorPeak(baseline) as peak:
        _step(model, optimiser, batch)
    return {"total": peak.peak_mb, "kind": "cpu_tensor_peak"}


def run(args) -> list[dict]:
    rows = []
    for quantization in args.quantizations:
        print(f"== base {'NF4' if quantization == 'nf4' else 'fp32'}: building LoRA, stock DoRA, fast DoRA",
              flush=True)
        models = build_models(args.base_model, quantization, r=args.rank, alpha=args.alpha,
                              top_layers=args.top_layers, device=args.device)
        vocab = models["lora"].config.vocab_size
        for batch_size in args.batch_sizes:
            optimisers = {n: torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-4)
                          for n, m in models.items()}
            batches = make_batches(args.warmup + args.rounds, batch_size, args.seq, vocab, args.device)
            print(f"-- batch {batch_size} x {args.seq} tokens, {args.warmup} warm-up + {args.rounds} rounds",
                  flush=True)
            times, cpu = time_steps(models, optimisers, batches, warmup=args.warmup, device=args.device)
            mean_cpu = {n: statistics.mean(t) for n, t in cpu.items()}
            memory = {n: peak_memory_mb(models[n], optimisers[n], batches[0], args.device) for n in models}
            mean = {n: statistics.mean(t) for n, t in times.items()}
            round_ratio = {n: statistics.median(a / b for a, b in zip(times[n], times["lora"])) for n in models}
            row = {"base": "nf4" if quantization == "nf4" else "fp32", "batch": batch_size, "seq": args.seq,
                   "rounds": args.rounds, "mean_step_s": {n: round(v, 4) for n, v in mean.items()},
                   "step_ratio_mean": {n: round(mean[n] / mean["lora"], 4) for n in models},
                   "step_ratio_median_of_rounds": {n: round(v, 4) for n, v in round_ratio.items()},
                   "mean_cpu_s": {n: round(v, 4) for n, v in mean_cpu.items()},
                   "cpu_ratio_mean": {n: round(mean_cpu[n] / mean_cpu["lora"], 4) for n in models},
                   "peak_mb": {n: round(m["total"], 1) for n, m in memory.items()},
                   "peak_ratio": {n: round(memory[n]["total"] / memory["lora"]["total"], 4) for n in models},
                   "memory_kind": memory["lora"]["kind"], "times_s": times, "cpu_s": cpu}
            rows.append(row)
            print(f"   mean step s: " + ", ".join(f"{n} {v:.3f}" for n, v in mean.items()))
            print(f"   DoRA/LoRA step (mean; median of rounds): stock {row['step_ratio_mean']['dora_stock']:.3f}; "
                  f"{row['step_ratio_median_of_rounds']['dora_stock']:.3f} | fast "
                  f"{row['step_ratio_mean']['dora_fast']:.3f}; {row['step_ratio_median_of_rounds']['dora_fast']:.3f}")
            print(f"   DoRA/LoRA process CPU time: stock {row['cpu_ratio_mean']['dora_stock']:.3f} | "
                  f"fast {row['cpu_ratio_mean']['dora_fast']:.3f}")
            print(f"   peak MB: " + ", ".join(f"{n} {v}" for n, v in row["peak_mb"].items())
                  + f" | DoRA/LoRA: stock {row['peak_ratio']['dora_stock']:.3f}, fast {row['peak_ratio']['dora_fast']:.3f}",
                  flush=True)
            del optimisers
        del models
    return rows


def summary(rows: list[dict]) -> str:
    lines = ["| base | batch | LoRA s/step | stock DoRA / LoRA | fast DoRA / LoRA | CPU time stock / LoRA | "
             "CPU time fast / LoRA | peak stock / LoRA | peak fast / LoRA |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['base']} | {r['batch']} | {r['mean_step_s']['lora']:.2f} | "
                     f"{r['step_ratio_mean']['dora_stock']:.3f} ({r['step_ratio_median_of_rounds']['dora_stock']:.3f}) | "
                     f"{r['step_ratio_mean']['dora_fast']:.3f} ({r['step_ratio_median_of_rounds']['dora_fast']:.3f}) | "
                     f"{r['cpu_ratio_mean']['dora_stock']:.3f} | {r['cpu_ratio_mean']['dora_fast']:.3f} | "
                     f"{r['peak_ratio']['dora_stock']:.3f} | {r['peak_ratio']['dora_fast']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from app.modeling import EMBEDDED_DEFAULT

    parser = argparse.ArgumentParser(prog="python -m bench.dora_step", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-model", default=EMBEDDED_DEFAULT)
    parser.add_argument("--quantizations", nargs="+", default=["none", "nf4"], choices=["none", "nf4"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[8, 32])
    parser.add_argument("--seq", type=int, default=128, help="tokens per clause")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--alpha", type=float, default=32)
    parser.add_argument("--top-layers", type=int, default=12)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=None, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    rows = run(args)
    print()
    print(summary(rows))
    print("(ratios: mean over rounds; in brackets the median of per-round ratios)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"argv": sys.argv[1:], "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
