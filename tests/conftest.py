"""Shared fixtures, and the three speeds kept apart.

Unit tests use a tiny Llama made from a config: fast, and the same code path
(LlamaForSequenceClassification, PEFT, tokenizer files) as the real 135M model. Every test under
tests/integration is marked `integration` and every one under tests/browser `browser`, so
`pytest -m "not integration and not browser"` is the fast suite; a test outside those that loads
the real 135M model fails.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("LEXDORA_SHARED_DIR", ROOT.parent / "shared"))
CUAD = SHARED / "data" / "cuad"

# Words enough for the clause texts of the tests to tokenise to something other than [UNK].
_TINY_WORDS = """the a an of to and or in for by with any all no not shall be is are this that
agreement party parties liability liable limited limitation exceed fees paid amount damages
consequential indirect special punitive lost profits except foregoing apply indemnify defend
hold harmless claims losses breach confidentiality gross negligence wilful misconduct cap capped
uncapped unlimited basket deductible threshold aggregate sole exclusive remedy governing law
state term terminate payment insurance warranty section notice months twelve $ 1,000,000 . , ; ( )""".split()


def build_tiny_llama(path: Path, num_labels: int = 7, seed: int = 0) -> Path:
    """Write a 2-layer, 32-wide LlamaForSequenceClassification and a word-level tokenizer to `path`."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import LlamaConfig, LlamaForSequenceClassification, PreTrainedTokenizerFast

    from app.taxonomy import ID2LABEL, LABEL2ID

    vocab = {"[PAD]": 0, "[UNK]": 1, "[BOS]": 2, "[EOS]": 3}
    for w in _TINY_WORDS:
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.normalizer = normalizers.Lowercase()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]",
                                        bos_token="[BOS]", eos_token="[EOS]", model_max_length=256)
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         pad_token_id=0, bos_token_id=2, eos_token_id=3, num_labels=num_labels,
                         id2label=dict(ID2LABEL), label2id=dict(LABEL2ID))
    model = LlamaForSequenceClassification(config)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


_SPEEDS = {"integration": "integration", "browser": "browser"}   # folder under tests/ -> marker


def pytest_collection_modifyitems(config, items):
    for item in items:
        folder = Path(item.fspath).relative_to(ROOT / "tests").parts[0]
        if folder in _SPEEDS:
            item.add_marker(_SPEEDS[folder])


class RealModelInFastTest(AssertionError):
    """A test without the `integration` marker reached for the 135M model."""


@pytest.fixture(autouse=True)
def _no_real_model_in_fast_tests(request, monkeypatch):
    """Fail a fast test (no integration/browser marker) that loads the real base model."""
    if request.node.get_closest_marker("integration") or request.node.get_closest_marker("browser"):
        yield
        return
    import app.modeling

    real = app.modeling.resolve_base_model
    reached: list[str] = []
    big = (ROOT / "models").resolve()

    def guarded(ref: str) -> str:
        resolved = Path(ref).resolve() if not ref.startswith(app.modeling.EMBEDDED_PREFIX) else None
        if ref == app.modeling.EMBEDDED_DEFAULT or (resolved is not None and resolved.is_relative_to(big)):
            reached.append(ref)
            raise RealModelInFastTest(f"{request.node.nodeid} loads the real base model ({ref}); use the tiny "
                                      "model fixtures or mark the test integration")
        return real(ref)

    monkeypatch.setattr(app.modeling, "resolve_base_model", guarded)
    yield reached   # a test of this guard empties it after provoking it
    if reached:  # also when the code under test caught the error
        pytest.fail(f"loads the real base model ({reached[0]}) without the integration marker", pytrace=False)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny Llama sequence classifier on disk, usable wherever a base model path is accepted."""
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def cuad_dir() -> Path:
    if not CUAD.exists():
        pytest.fail(f"CUAD data not found at {CUAD}; set LEXDORA_SHARED_DIR")
    return CUAD


@pytest.fixture
def active_tiny_registry(tmp_path, tiny_model_dir, monkeypatch):
    """Settings pointed at a temp registry whose active version is a tiny DoRA adapter (T = 1.3)."""
    from app.classifier import clear_cache
    from app.config import get_settings
    from app.registry import Registry
    from tests.tiny_versions import make_adapter_version

    monkeypatch.setenv("LEXDORA_REGISTRY_DIR", str(tmp_path / "registry"))
    monkeypatch.setenv("LEXDORA_DEFAULT_MODEL_DIR", str(tmp_path / "default"))
    monkeypatch.setenv("LEXDORA_DEVICE", "cpu")
    get_settings.cache_clear()
    registry = Registry()
    make_adapter_version(registry, tiny_model_dir, "v-tiny", temperature=1.3)
    registry.activate("v-tiny")
    yield registry
    get_settings.cache_clear()
    clear_cache()
