"""Train the adapted top layers on cached activations of the frozen lower layers.

With `adapt_top_layers: N` the lower layers carry no adapter and never change, so their output
for a clause is the same in every epoch. Computing it once (bfloat16 on CPU, where that is 2.2x
faster than float32 on this machine) and training only the top N layers from the cache makes an
epoch cost N/num_layers of a forward-backward pass instead of a whole one. The loop is ours, not
the Hugging Face Trainer's: the Trainer would checkpoint the full base model every time and
cannot feed cached activations to a PreTrainedModel; here a checkpoint is the adapter, the head,
the optimiser and the position in the epoch, a few MB.

Padding is on the right and attention is causal, so a real token never attends to a pad: the
cached activation of a clause is the same whatever batch it was computed in, and the logits of
the cached path equal those of the full model up to the precision of the cache (checked after
training against app.classifier, and recorded in the card).
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from app.taxonomy import LABEL2ID

CACHE_DTYPE = torch.bfloat16


# --------------------------------------------------------------------------- layer plumbing

def causal_lm(model):
    """The LlamaForSequenceClassification-like module inside a PeftModel (or the model itself)."""
    return model.base_model.model if hasattr(model, "peft_config") else model


def run_layers(lm, hidden: torch.Tensor, attention_mask: torch.Tensor, layers) -> torch.Tensor:
    """Apply decoder `layers` to right-padded `hidden` (B, T, H) as the model's own forward would."""
    from transformers.masking_utils import create_causal_mask

    inner = lm.model
    positions = torch.arange(hidden.shape[1], device=hidden.device).unsqueeze(0)
    mask = create_causal_mask(config=inner.config, inputs_embeds=hidden, attention_mask=attention_mask,
                              cache=None, position_ids=positions)
    rope = inner.rotary_emb(hidden, position_ids=positions)
    for layer in layers:
        hidden = layer(hidden, attention_mask=mask, position_embeddings=rope, position_ids=positions)
    return hidden


def pad(states: list[torch.Tensor], dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T, H) right-padded activations and the (B, T) attention mask."""
    longest = max(len(s) for s in states)
    hidden = torch.zeros(len(states), longest, states[0].shape[-1], dtype=dtype)
    mask = torch.zeros(len(states), longest, dtype=torch.long)
    for i, s in enumerate(states):
        hidden[i, :len(s)] = s.to(dtype)
        mask[i, :len(s)] = 1
    return hidden, mask


def lower_states(lm, ids: list[list[int]], split_at: int, batch_size: int = 16, progress=None) -> list[torch.Tensor]:
    """Activations after the first `split_at` layers, one (len_i, H) tensor per clause, CACHE_DTYPE.
    `progress(done, total)` is called after each batch."""
    out: list[torch.Tensor | None] = [None] * len(ids)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    embed = lm.model.embed_tokens
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            longest = max(len(ids[i]) for i in rows)
            input_ids = torch.zeros(len(rows), longest, dtype=torch.long)
            mask = torch.zeros(len(rows), longest, dtype=torch.long)
            for j, i in enumerate(rows):
                input_ids[j, :len(ids[i])] = torch.tensor(ids[i])
                mask[j, :len(ids[i])] = 1
            hidden = run_layers(lm, embed(input_ids), mask, lm.model.layers[:split_at])
            for j, i in enumerate(rows):
                out[i] = hidden[j, :len(ids[i])].to(CACHE_DTYPE).clone()
            if progress is not None:
                progress(start + len(rows), len(ids))
    return out  # type: ignore[return-value]


def top_logits(model, states: list[torch.Tensor], split_at: int) -> torch.Tensor:
    """(B, labels) logits of the top layers, norm and head applied to cached lower activations."""
    lm = causal_lm(model)
    hidden, mask = pad(states)
    hidden = run_layers(lm, hidden, mask, lm.model.layers[split_at:])
    hidden = lm.model.norm(hidden)
    last = mask.sum(dim=1) - 1  # the rightmost real token: where the sequence classifier pools
    return lm.score(hidden[torch.arange(len(states)), last]).float()


# --------------------------------------------------------------------------- the cache

def _cache_worker(args) -> str:
    """Subprocess: load the base in bfloat16 with one thread, cache one shard, save it, return the path."""
    base_ref, ids, split_at, out = args
    torch.set_num_threads(1)
    from app.modeling import load_base_model

    lm = load_base_model(base_ref, dtype=CACHE_DTYPE).eval()
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:  # a line per batch that `tail` can follow during a long build
        with open(out + ".progress", "a") as f:
            f.write(f"{done}/{total} clauses {time.perf_counter() - started:.0f}s\n")

    torch.save(lower_states(lm, ids, split_at, progress=progress), out)
    os.remove(out + ".progress")
    return out


def build_cache(base_ref: str, ids: list[list[int]], split_at: int, path: Path, *, workers: int,
                log=print) -> list[torch.Tensor]:
    """Lower-layer activations of every clause, computed once and kept at `path` (reused on resume).

    Shards run in `workers` single-threaded processes: on a shared CPU, one thread per process
    loses nothing when a neighbour takes a core, where two OpenMP threads of one process wait for
    each other at every matmul (measured: 7x slower under load).
    """
    meta = {"base": base_ref, "split_at": split_at, "n": len(ids),
            "digest": _digest(ids)}
    if path.exists() and (path.with_suffix(".json")).exists() and json.loads(path.with_suffix(".json").read_text()) == meta:
        log(f"cache {path.name}: reusing {len(ids)} clauses")
        return torch.load(path)
    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Interleaved shards give every worker the same mix of short and long clauses.
    shards = [(base_ref, ids[w::workers], split_at, str(path.with_suffix(f".part{w}")))
              for w in range(workers)]
    if workers == 1:
        parts = [_cache_worker(shards[0])]
    else:
        import multiprocessing

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = list(pool.map(_cache_worker, shards))
    loaded = [torch.load(p) for p in parts]
    states: list[torch.Tensor] = [None] * len(ids)  # type: ignore[list-item]
    for w, part in enumerate(loaded):
        states[w::workers] = part
    torch.save(states, path)
    path.with_suffix(".json").write_text(json.dumps(meta))
    for p in parts:
        os.remove(p)
    n_tokens = sum(len(x) for x in ids)
    log(f"cache {path.name}: {len(ids)} clauses, {n_tokens} tokens through {split_at} layers in "
        f"{time.perf_counter() - started:.0f}s ({n_tokens / (time.perf_counter() - started):.0f} tokens/s)")
    return states


def _digest(ids: list[list[int]]) -> str:
    import hashlib

    h = hashlib.sha256()
    for x in ids:
        h.update(np.asarray(x, dtype=np.int32).tobytes())
        h.update(b"|")
    return h.hexdigest()


# --------------------------------------------------------------------------- training

@dataclass
class Epochs:
    """Which training clauses each epoch sees: every fixed one, plus a fresh draw of the unread pool."""
    fixed: list[int]
    pool: list[int]
    per_epoch: int
    seed: int

    def order(self, epoch: int, batch_size: int, states: list[torch.Tensor]) -> list[list[int]]:
        rng = random.Random(self.seed * 1000 + epoch)
        rows = self.fixed + rng.sample(self.pool, min(self.per_epoch, len(self.pool)))
        rng.shuffle(rows)
        # Length-bucketed batches: sort chunks of 32 batches by length, then shuffle the batches,
        # so padding stays small and the order still changes every epoch.
        chunk = batch_size * 32
        batches = []
        for start in range(0, len(rows), chunk):
            part = sorted(rows[start:start + chunk], key=lambda i: len(states[i]))
            batches += [part[k:k + batch_size] for k in range(0, len(part), batch_size)]
        rng.shuffle(batches)
        return batches


@dataclass
class FitResult:
    best_epoch: int
    history: list[dict] = field(default_factory=list)
    steps: int = 0
    step_times: list[float] = field(default_factory=list)
    tokens_per_s: float | None = None
    finished: bool = False
    steps_this_run: int = 0


def trainable_state(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable_state(model, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    with torch.no_grad():
        for n, v in state.items():
            params[n].copy_(v)


def predict_logits(model, states: list[torch.Tensor], split_at: int, batch_size: int = 32) -> np.ndarray:
    out = np.zeros((len(states), len(LABEL2ID)), dtype=np.float32)
    order = sorted(range(len(states)), key=lambda i: len(states[i]))
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            out[rows] = top_logits(model, [states[i] for i in rows], split_at).numpy()
    model.train(was_training)
    return out


def fit(model, *, split_at: int, train_states: list[torch.Tensor], train_labels: list[int], epochs: Epochs,
        val_states: list[torch.Tensor], val_labels: list[int], config, weights: torch.Tensor | None,
        run_dir: Path, resume: bool, score, log=print) -> FitResult:
    """Train the trainable parameters of `model`; keep the weights of the best validation epoch.

    `score(logits, labels) -> float` ranks epochs (validation macro-F1). A checkpoint after every
    `checkpoint_every` steps and every epoch lets `resume` continue where a kill stopped the run.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    n_epochs = math.ceil(config.epochs)
    steps_per_epoch = math.ceil((len(epochs.fixed) + min(epochs.per_epoch, len(epochs.pool))) / config.batch_size)
    total = config.max_steps if config.max_steps > 0 else steps_per_epoch * n_epochs
    warmup = int(config.warmup_ratio * total)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / max(1, warmup) if s < warmup else max(0.0, (total - s) / max(1, total - warmup)))
    labels = torch.tensor(train_labels)
    ckpt_path = run_dir / "checkpoint.pt"
    result = FitResult(best_epoch=-1)
    start_epoch, start_batch, best_score, best_state, bad_epochs = 0, 0, -1.0, None, 0
    if resume and ckpt_path.exists():
        ckpt = torch.load(ckpt_path, weights_only=False)
        load_trainable_state(model, ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        start_epoch, start_batch = ckpt["epoch"], ckpt["batch"]
        best_score, best_state, bad_epochs = ckpt["best_score"], ckpt["best_state"], ckpt["bad_epochs"]
        result = ckpt["result"]
        log(f"resuming at epoch {start_epoch + 1}, batch {start_batch} (step {result.steps})")
    steps_before = result.steps

    def save(epoch: int, batch: int) -> None:
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save({"model": trainable_state(model), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "epoch": epoch, "batch": batch, "best_score": best_score,
                    "best_state": best_state, "bad_epochs": bad_epochs, "result": result}, tmp)
        os.replace(tmp, ckpt_path)  # a kill mid-write leaves the previous checkpoint intact

    model.train()
    tokens, token_time = 0, 0.0
    for epoch in range(start_epoch, n_epochs if not result.finished else start_epoch):
        batches = epochs.order(epoch, config.batch_size, train_states)
        running = []
        for b, rows in enumerate(batches):
            if epoch == start_epoch and b < start_batch:
                continue
            if 0 < config.max_steps <= result.steps:
                break
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.cache_bf16_autocast):
                logits = top_logits(model, [train_states[i] for i in rows], split_at)
            w = weights.to(logits.dtype) if weights is not None else None
            loss = torch.nn.functional.cross_entropy(logits, labels[rows], weight=w)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            dt = time.perf_counter() - t0
            result.steps += 1
            result.step_times.append(dt)
            tokens += sum(len(train_states[i]) for i in rows)
            token_time += dt
            running.append(float(loss.detach()))
            if result.steps % config.logging_steps == 0:
                log(f"epoch {epoch + 1} batch {b + 1}/{len(batches)} step {result.steps}: loss "
                    f"{np.mean(running[-config.logging_steps:]):.4f} ({dt:.2f}s/step)")
            if result.steps % config.checkpoint_every == 0:
                save(epoch, b + 1)
        val_logits = predict_logits(model, val_states, split_at)
        s = score(val_logits, np.asarray(val_labels))
        result.history.append({"epoch": epoch + 1, "step": result.steps, "validation_macro_f1": s,
                               "train_loss": float(np.mean(running)) if running else None})
        log(f"epoch {epoch + 1}: validation macro-F1 {s:.4f}")
        if s > best_score:
            best_score, best_state, bad_epochs, result.best_epoch = s, trainable_state(model), 0, epoch + 1
        else:
            bad_epochs += 1
        stop = bad_epochs >= config.early_stopping_patience or 0 < config.max_steps <= result.steps
        result.finished = stop or epoch + 1 == n_epochs
        save(epoch + 1, 0)
        if stop:
            break
    if best_state is not None:
        load_trainable_state(model, best_state)
    result.tokens_per_s = tokens / token_time if token_time else result.tokens_per_s
    result.steps_this_run = result.steps - steps_before
    model.eval()
    return result
