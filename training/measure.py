"""Peak memory and step time of a training run, for model cards and the compare report."""
from __future__ import annotations

import threading
import time

import psutil
import torch
from transformers import TrainerCallback


class PeakMemory:
    """Peak memory in MB while the block runs: CUDA allocator peak, else process RSS above the start.

    ru_maxrss would be simpler on the CPU, but it never goes down, so a second run in the same
    process (compare.py) would inherit the first one's peak; a sampling thread measures each run.
    """

    def __init__(self, interval_s: float = 0.05):
        self.interval_s = interval_s
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._cuda = torch.cuda.is_available()

    def __enter__(self):
        if self._cuda:
            torch.cuda.reset_peak_memory_stats()
        else:
            self._proc = psutil.Process()
            self._start = self._proc.memory_info().rss
            self._peak = self._start
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self._peak = max(self._peak, self._proc.memory_info().rss)
            self._stop.wait(self.interval_s)

    def __exit__(self, *exc):
        if self._cuda:
            self.peak_mb = torch.cuda.max_memory_allocated() / 2**20
        else:
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, self._proc.memory_info().rss)
            self.peak_mb = (self._peak - self._start) / 2**20
        return False

    @property
    def kind(self) -> str:
        return "cuda_max_allocated" if self._cuda else "cpu_rss_increase"


class StepTimer(TrainerCallback):
    """Wall time of each optimiser step (forward, backward, optimiser), the first one excluded as warm-up."""

    def __init__(self):
        self.times: list[float] = []
        self._t0 = None

    def on_step_begin(self, args, state, control, **kwargs):
        self._t0 = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if self._t0 is not None:
            self.times.append(time.perf_counter() - self._t0)
            self._t0 = None

    @property
    def mean_s(self) -> float | None:
        steady = self.times[1:] or self.times
        return sum(steady) / len(steady) if steady else None


def interleaved_step_times(models: dict, batches: list[dict], *, lr: float = 1e-4, warmup_rounds: int = 1,
                           log=None) -> dict[str, list[float]]:
    """Time forward+backward+AdamW steps of several models taking turns on the same batches.

    Round i runs every model on batch i before round i+1 starts, so a change in the load of a
    shared machine hits all models alike and their ratio stays meaningful. Rounds below
    `warmup_rounds` are run but not counted.
    """
    optimisers = {name: torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=lr)
                  for name, m in models.items()}
    times: dict[str, list[float]] = {name: [] for name in models}
    for i, batch in enumerate(batches):
        for name, model in models.items():
            model.train()
            t0 = time.perf_counter()
            model(**batch).loss.backward()
            optimisers[name].step()
            optimisers[name].zero_grad(set_to_none=True)
            dt = time.perf_counter() - t0
            if i >= warmup_rounds:
                times[name].append(dt)
            if log:
                log(f"round {i} {name}: {dt:.2f}s ({tuple(batch['input_ids'].shape)})")
    return times
