"""The cached-activation training path (training/cached.py) on the tiny Llama and a slice of the real
segment file: the cached logits equal a plain forward of the same model, and a run registers a version
whose saved logits the evaluation reads."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from app.registry import Registry
from data.build import DataConfig
from training import cached
from training.config import TrainConfig
from training.train import build_model, train

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def segment_sources(tmp_path_factory, cuad_dir) -> DataConfig:
    """Every segment of 30 contracts that hold a liability clause, plus the clause files of those contracts."""
    out = tmp_path_factory.mktemp("segments")
    segments = [json.loads(line) for line in (cuad_dir / "segments_dev.jsonl").open()]
    liable = list(dict.fromkeys(s["contract"] for s in segments if s["label"] != "none"))[:30]
    keep = set(liable)
    rows = {"segments.jsonl": [s for s in segments if s["contract"] in keep],
            "labeled.jsonl": [json.loads(x) for x in (cuad_dir / "clauses_labeled.jsonl").open()
                              if json.loads(x)["contract"] in keep],
            "other.jsonl": [json.loads(x) for x in (cuad_dir / "clauses_other_categories.jsonl").open()
                            if json.loads(x)["contract"] in keep]}
    for name, data in rows.items():
        (out / name).write_text("".join(json.dumps(r) + "\n" for r in data))
    return DataConfig(segments_path=out / "segments.jsonl", labeled_path=out / "labeled.jsonl",
                      other_path=out / "other.jsonl", synthetic_path=None, none_ratio=0.2, auto_none_pool=60,
                      auto_none_per_epoch=20, eval_auto_none_fraction=0.1, val_fraction=0.2, test_fraction=0.2)


def _config(tiny_model_dir, data, **kw) -> TrainConfig:
    base = dict(base_model=str(tiny_model_dir), data=data, batch_size=8, max_length=48, tail_tokens=16,
                use_headings=True, adapt_top_layers=1, cache_lower_layers=True, cache_workers=1, epochs=2,
                logging_steps=5, checkpoint_every=5, r=4, alpha=8)
    return TrainConfig(**{**base, **kw})


def test_cached_top_layers_give_the_logits_of_the_full_model(tiny_model_dir, segment_sources):
    from app.modeling import load_tokenizer

    config = _config(tiny_model_dir, segment_sources)
    tokenizer = load_tokenizer(config.base_model)
    model = build_model(config, tokenizer).eval()
    # a non-identity adapter, so the top layers' adapter takes part in the comparison
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.2)
    texts = ["The aggregate liability shall not exceed the fees paid.", "Governing law: Delaware.",
             "Except for breach of confidentiality, neither party shall be liable for indirect damages " * 3]
    ids = [tokenizer(t)["input_ids"] for t in texts]
    split_at = model.config.num_hidden_layers - 1
    lm = cached.causal_lm(model)
    states = [s.float() for s in cached.lower_states(lm, ids, split_at)]
    fast = cached.predict_logits(model, states, split_at)
    batch = tokenizer.pad({"input_ids": ids}, return_tensors="pt")
    with torch.inference_mode():
        full = model(**batch).logits.float().numpy()
    # bfloat16 cache: agreement to the cache's precision, and the same labels
    assert np.abs(full - fast).max() < 0.05 * max(1.0, np.abs(full).max())
    assert (full.argmax(-1) == fast.argmax(-1)).all()
    # and the padding of a batch changes nothing: one clause alone gives the same logits
    alone = cached.predict_logits(model, states[:1], split_at)
    np.testing.assert_allclose(alone[0], fast[0], rtol=1e-4, atol=1e-4)


def test_a_cached_run_registers_a_version_with_its_split_logits_and_resumes(tmp_path, tiny_model_dir,
                                                                            segment_sources):
    registry = Registry(root=tmp_path / "registry", default_dir=tmp_path / "default")
    config = _config(tiny_model_dir, segment_sources)
    run_dir = tmp_path / "run"
    result = train(config, run_dir=run_dir, registry=registry, log=lambda *_: None)
    card = result.version.card
    assert card["cached_training"]["check_against_full_model"]["argmax_agreement"] == 1.0
    assert card["steps"] > 0 and card["cached_training"]["history"]
    saved = np.load(result.version.path / "logits.npz")
    assert saved["validation_logits"].shape == (len(saved["validation_ids"]), 7)
    assert (run_dir / "cache" / "train.pt").exists() and (run_dir / "checkpoint.pt").exists()
    # a resumed run reuses the cache and the checkpoint: it trains no further step
    again = train(config, run_dir=run_dir, registry=registry, resume=True, log=lambda *_: None)
    assert again.version.card["steps_this_run"] == 0
