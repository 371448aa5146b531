"""Calibrated clause classifier: a registry version -> probabilities over the seven labels.

A version is either a base model plus a PEFT adapter (``adapter/``, served as a sidecar) or
a merged checkpoint (``merged/``, card["merged"] true). Clauses are encoded as the version was
trained (app/encoding.py: heading first, head and tail kept). Logits are divided by the
temperature of ``calibration.json`` and shifted by its per-label bias (both fitted by
``training.calibrate`` on validation segments in their real proportions) before the softmax.
A version with a first stage (app/first_stage.py) lets a binary TF-IDF detector answer alone for the
segments it is sure are `none`, and runs the model on the rest.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.config import get_settings
from app.registry import ModelVersion, Registry
from app.taxonomy import LABEL_IDS

DEFAULT_MAX_LENGTH = 512
_CACHE_SIZE = 2  # a 135M model is ~0.5 GB in fp32: the active version and one candidate fit


class ClassifierError(RuntimeError):
    """A model version cannot be loaded or used; the message says what to do."""


@dataclass(frozen=True)
class Prediction:
    label: str
    probs: dict[str, float]

    @property
    def confidence(self) -> float:
        return self.probs[self.label]


def softmax(logits: np.ndarray, temperature: float = 1.0, bias: np.ndarray | None = None) -> np.ndarray:
    """softmax(logits / temperature + bias), row-wise, in float64."""
    z = logits.astype(np.float64) / temperature
    if bias is not None:
        z = z + np.asarray(bias, dtype=np.float64)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def resolve_device(device: str | None = None) -> str:
    import torch

    device = device or get_settings().device
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ClassifierError(f"device {device!r} requested but no CUDA GPU is available; use --device cpu")
    return device


class Classifier:
    """Batched, deterministic inference for one model version."""

    def __init__(self, version: ModelVersion, model, tokenizer, *, device: str, temperature: float = 1.0,
                 batch_size: int | None = None, max_length: int = DEFAULT_MAX_LENGTH, tail_tokens: int = 0,
                 use_headings: bool = False, bias: list[float] | None = None, lexical=None,
                 lexical_weight: float = 0.0, first_stage=None):
        self.version = version
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.temperature = temperature
        self.bias = np.asarray(bias, dtype=np.float64) if bias is not None else None
        self.batch_size = batch_size or get_settings().batch_size
        self.max_length = max_length
        self.tail_tokens = tail_tokens
        self.use_headings = use_headings
        self.lexical = lexical  # app.lexical.LexicalModel whose logits join the model's (an ensemble), or None
        self.lexical_weight = lexical_weight
        self.first_stage = first_stage  # app.first_stage.FirstStage (needs `lexical`), or None

    @classmethod
    def load(cls, version: str | None = None, *, registry: Registry | None = None,
             device: str | None = None) -> "Classifier":
        """The named version (the active one when None), with weights cached across calls."""
        registry = registry or Registry()
        mv = registry.get(version)
        device = resolve_device(device)
        if device == "cpu":
            import torch

            # Inference only: every core the process may use (the default can be fewer).
            torch.set_num_threads(len(os.sched_getaffinity(0)))
        model, tokenizer = _cached_weights(mv, device)
        return cls.from_weights(mv, model, tokenizer, device=device)

    @classmethod
    def from_weights(cls, version: ModelVersion, model, tokenizer, *, device: str = "cpu") -> "Classifier":
        """A classifier over weights already in memory, with the version's temperature and max length."""
        card = version.card
        cfg = card.get("train_config") or {}
        from app.first_stage import FirstStage

        weight = float((card.get("ensemble") or {}).get("lexical_weight") or 0.0)
        first_stage = FirstStage.load(version)
        lexical = None
        if (weight or first_stage) and (version.path / "lexical").is_dir():
            from app.lexical import LexicalModel

            lexical = LexicalModel.load(version.path / "lexical")
        return cls(version, model, tokenizer, device=device, temperature=version.temperature, bias=version.bias,
                   max_length=int(cfg.get("max_length") or DEFAULT_MAX_LENGTH),
                   tail_tokens=int(cfg.get("tail_tokens") or 0), use_headings=bool(cfg.get("use_headings")),
                   lexical=lexical, lexical_weight=weight if lexical is not None else 0.0,
                   first_stage=first_stage if lexical is not None else None)

    def encode(self, texts: list[str], headings: list[str] | None = None) -> list[list[int]]:
        """Token ids as the version was trained on them (headings only if it was trained with them)."""
        from app.encoding import encode

        return encode(self.tokenizer, list(texts), list(headings) if (headings is not None and self.use_headings)
                      else None, max_length=self.max_length, tail=self.tail_tokens)

    def logits(self, texts: list[str], headings: list[str] | None = None) -> np.ndarray:
        """Raw (uncalibrated) logits, shape (n, 7), columns in app.taxonomy.LABEL_IDS order: the model's,
        plus the weighted lexical companion's when the version is an ensemble."""
        return self.model_logits(texts, headings) + self.lexical_logits(texts, headings)

    def lexical_logits(self, texts: list[str], headings: list[str] | None = None) -> np.ndarray:
        """The lexical companion's weighted share of the logits (zeros without one)."""
        if self.lexical is None or not self.lexical_weight or not len(texts):
            return np.zeros((len(texts), len(LABEL_IDS)), dtype=np.float32)
        return (self.lexical_weight * self.lexical.logits(self._model_texts(texts, headings))).astype(np.float32)

    def _model_texts(self, texts: list[str], headings: list[str] | None) -> list[str]:
        from app.encoding import model_text

        heads = headings if (headings is not None and self.use_headings) else [""] * len(texts)
        return [model_text(t, h) for t, h in zip(texts, heads)]

    def first_look(self, texts: list[str], headings: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(the first stage's p(none), the companion's raw logits) of every row; needs a first stage."""
        model_texts = self._model_texts(texts, headings)
        return self.first_stage.detector.p_none(model_texts), self.lexical.logits(model_texts)

    def model_reads(self, texts: list[str], headings: list[str] | None = None) -> np.ndarray:
        """Boolean mask of the rows the fine-tuned model reads (all of them without a first stage)."""
        if self.first_stage is None:
            return np.ones(len(texts), dtype=bool)
        return ~self.first_stage.skips(self.first_stage.detector.p_none(self._model_texts(texts, headings)))

    def screened(self, probs: np.ndarray, texts: list[str], headings: list[str] | None = None) -> np.ndarray:
        """Probabilities computed for every row, as serving returns them: rows the first stage skips take its
        probabilities. Evaluation uses this on saved logits; predict_proba skips the work instead."""
        if self.first_stage is None or not len(texts):
            return probs
        return self.first_stage.screen(probs, *self.first_look(texts, headings))

    def model_logits(self, texts: list[str], headings: list[str] | None = None) -> np.ndarray:
        """The fine-tuned model's own logits."""
        import torch
        from peft.helpers import DoraCaching

        out = np.zeros((len(texts), len(LABEL_IDS)), dtype=np.float32)
        if not texts:
            return out
        ids = self.encode(texts, headings)
        # Longest first: clauses of similar length share a batch, so padding stays small,
        # and a batch too large for memory fails at once rather than at the end.
        order = sorted(range(len(texts)), key=lambda i: (-len(ids[i]), i))
        # DoraCaching keeps each DoRA layer's weight norm between forwards (weights are frozen here);
        # without it a DoRA sidecar recomputes the norm of every adapted matrix on every batch.
        with torch.inference_mode(), DoraCaching():
            for start in range(0, len(order), self.batch_size):
                rows = order[start:start + self.batch_size]
                batch = self.tokenizer.pad({"input_ids": [ids[i] for i in rows]}, return_tensors="pt")
                batch = {k: v.to(self.device) for k, v in batch.items()}
                out[rows] = self.model(**batch).logits.float().cpu().numpy()
        return out

    def calibrate(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of raw logits: softmax(logits / temperature + bias)."""
        return softmax(logits, self.temperature, self.bias)

    def predict_proba(self, texts: list[str], headings: list[str] | None = None) -> np.ndarray:
        """Calibrated probabilities, shape (n, 7), columns in app.taxonomy.LABEL_IDS order; with a first
        stage, the segments it skips get its probabilities (`screened` gives the same numbers)."""
        if self.first_stage is None or not len(texts):
            return self.calibrate(self.logits(texts, headings))
        p_none, raw = self.first_look(texts, headings)
        skip = self.first_stage.skips(p_none)
        probs = np.zeros((len(texts), len(LABEL_IDS)))
        probs[skip] = self.first_stage.probs(p_none[skip], raw[skip])
        rest = np.flatnonzero(~skip)
        if len(rest):
            heads = [headings[i] for i in rest] if headings is not None else None
            z = self.model_logits([texts[i] for i in rest], heads) + (self.lexical_weight * raw[rest]).astype(np.float32)
            probs[rest] = self.calibrate(z)
        return probs

    def predict(self, texts: list[str], headings: list[str] | None = None) -> list[Prediction]:
        probs = self.predict_proba(texts, headings)
        return [Prediction(LABEL_IDS[int(p.argmax())], {label: float(x) for label, x in zip(LABEL_IDS, p)})
                for p in probs]


_cache: OrderedDict[tuple, tuple] = OrderedDict()
_cache_lock = threading.Lock()


def weights_stamp(mv: ModelVersion) -> tuple:
    """Changes when the version's weights are rewritten, so a stale cache entry is never served."""
    files = [mv.path / "card.json", *sorted((mv.path / ("merged" if mv.merged else "adapter")).glob("*"))]
    return tuple((f.name, f.stat().st_mtime_ns) for f in files if f.is_file())


def _cached_weights(mv: ModelVersion, device: str) -> tuple:
    key = (str(mv.path.resolve()), device, weights_stamp(mv))
    with _cache_lock:  # Streamlit serves sessions from threads: load each version once
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        loaded = load_weights(mv, device)
        _cache[key] = loaded
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
        return loaded


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def load_weights(mv: ModelVersion, device: str, *, serving_precision: bool = True) -> tuple:
    """(model, tokenizer) of a version, freshly loaded (uncached), in eval mode on `device`; on the CPU in the
    serving precision its card names, unless `serving_precision` is False (fp32, as trained)."""
    from app.modeling import BaseModelError, load_base_model, load_tokenizer

    card = mv.card
    try:
        if mv.merged:
            merged = mv.path / "merged"
            if not (merged / "config.json").exists():
                raise ClassifierError(f"model version {mv.name!r} is marked merged but {merged} holds no "
                                      "weights; re-run python -m training.merge")
            model, tokenizer = _load_merged(merged)
        else:
            adapter = mv.path / "adapter"
            if not (adapter / "adapter_config.json").exists():
                raise ClassifierError(f"model version {mv.name!r} has no adapter at {adapter}; "
                                      "train it again or pick another version with --model")
            from peft import PeftModel

            base_ref = card.get("base_model")
            if not base_ref:
                raise ClassifierError(f"card.json of model version {mv.name!r} names no base_model")
            quantization = card.get("quantization") or "none"
            tokenizer = load_tokenizer(base_ref)
            # bitsandbytes places 4-bit weights at load time; they cannot be moved afterwards.
            base = load_base_model(base_ref, quantization=quantization, tokenizer=tokenizer,
                                   device_map=None if quantization == "none" else {"": device})
            model = PeftModel.from_pretrained(base, adapter)
            from app.fast_dora import enable_fast_dora

            enable_fast_dora(model)  # no-op for LoRA adapters; same numbers as peft's DoRA, cheaper norms
            if quantization != "none":
                return model.eval(), tokenizer
    except BaseModelError as e:
        raise ClassifierError(f"cannot load model version {mv.name!r}: {e}") from e
    serving = card.get("serving") or {}
    if serving_precision and serving.get("kept") and device == "cpu":  # verified against fp32 by training.serving
        from app.precision import SMOOTH_ALPHA, SMOOTH_FILE, convert, load_absmax, merged

        absmax = load_absmax(mv.path / SMOOTH_FILE) if serving["precision"] == "int8-smooth" else None
        model = convert(merged(model), serving["precision"], absmax=absmax, alpha=serving.get("alpha", SMOOTH_ALPHA))
    model.to(device).eval()
    return model, tokenizer


def _load_merged(path: Path) -> tuple:
    from transformers import AutoModelForSequenceClassification

    from app.modeling import load_tokenizer

    tokenizer = load_tokenizer(str(path))
    model = AutoModelForSequenceClassification.from_pretrained(path)
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer
