"""Training end to end on the tiny Llama and a slice of the real clause files."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from app.registry import CARD_FIELDS, Registry
from app.taxonomy import LABEL_IDS
from data.build import DataConfig, build_dataset
from training.config import TrainConfig
from training.train import (IdentityCheckFailed, TrainingError, build_model, promote_to_default, train,
                            verify_identity_init)


@pytest.fixture(scope="module")
def small_sources(tmp_path_factory, cuad_dir) -> DataConfig:
    """The first 40 contracts of the real labelled files and 20 synthetic clauses: enough to split."""
    out = tmp_path_factory.mktemp("sources")
    labeled = [json.loads(line) for line in (cuad_dir / "clauses_labeled.jsonl").open()]
    contracts = list(dict.fromkeys(r["contract"] for r in labeled))[:40]
    keep = set(contracts)
    others = [json.loads(line) for line in (cuad_dir / "clauses_other_categories.jsonl").open()]
    synthetic = [json.loads(line) for line in (cuad_dir.parent / "synthetic" / "clauses_synthetic.jsonl").open()]
    files = {"labeled.jsonl": [r for r in labeled if r["contract"] in keep],
             "other.jsonl": [r for r in others if r["contract"] in keep],
             "synthetic.jsonl": synthetic[::16]}
    for name, rows in files.items():
        (out / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return DataConfig(labeled_path=out / "labeled.jsonl", other_path=out / "other.jsonl",
                      synthetic_path=out / "synthetic.jsonl", none_ratio=0.5, val_fraction=0.2, test_fraction=0.2)


def _config(tiny_model_dir, small_sources, **kw) -> TrainConfig:
    base = dict(base_model=str(tiny_model_dir), data=small_sources, batch_size=8, eval_batch_size=16,
                max_length=48, max_steps=4, eval_steps=2, logging_steps=1, r=4, alpha=8)
    return TrainConfig(**{**base, **kw})


def test_built_dataset_never_shares_a_contract_across_splits_nor_evaluates_synthetic(small_sources):
    ds, info = build_dataset(small_sources)
    contracts = {s: set(ds[s]["contract"]) for s in ds}
    assert not contracts["train"] & contracts["validation"]
    assert not contracts["train"] & contracts["test"]
    assert not contracts["validation"] & contracts["test"]
    assert all(len(ds[s]) for s in ds)
    assert set(ds["validation"]["source"]) == set(ds["test"]["source"]) == {"cuad"}
    assert "synthetic" in set(ds["train"]["source"])
    assert len(info.data_hash) == 64
    assert build_dataset(small_sources)[1].data_hash == info.data_hash  # deterministic


def test_fixed_split_and_corrections_keep_evaluation_contracts_in_place(small_sources):
    ds, info = build_dataset(small_sources)
    target = ds["test"][0]
    corrected = "carve_out" if target["label"] != "carve_out" else "capped"
    new = {"id": "review-1", "contract": "uploaded-contract.pdf", "text": "Liability is unlimited.",
           "label": "uncapped", "source": "review"}
    ds2, info2 = build_dataset(small_sources, fixed_split=info.split_by_contract,
                               corrections=[{**target, "label": corrected, "source": "review"}, new])
    assert set(ds2["test"]["contract"]) == set(ds["test"]["contract"])
    row = ds2["test"].filter(lambda r: r["id"] == target["id"])[0]
    assert row["label"] == corrected
    assert "review-1" in ds2["train"]["id"]  # a contract the old split never saw goes to train
    assert info2.data_hash != info.data_hash


@pytest.mark.parametrize("method", ["lora", "dora"])
def test_a_short_run_registers_a_version_with_a_complete_card(tmp_path, tiny_model_dir, small_sources, method):
    registry = Registry(root=tmp_path / "registry", default_dir=tmp_path / "default")
    result = train(_config(tiny_model_dir, small_sources, method=method, tag=f"tiny-{method}"),
                   run_dir=tmp_path / "run", registry=registry, log=lambda *_: None)
    version = registry.get(result.version.name)
    card = version.card
    assert set(CARD_FIELDS) - {"version"} <= set(card) and card["version"] == version.name
    assert card["method"] == method and card["labels"] == list(LABEL_IDS)
    assert card["base_model"] == str(tiny_model_dir)
    assert len(card["data_hash"]) == 64 and card["steps"] == 4
    assert 0 < card["params"]["trainable"] < card["params"]["total"]
    assert card["wall_time_s"] > 0 and card["peak_memory_mb"] is not None
    for split in ("validation", "test"):
        assert 0 <= card["metrics"][split]["macro_f1"] <= 1
    adapter = json.loads((version.path / "adapter" / "adapter_config.json").read_text())
    assert adapter["use_dora"] is (method == "dora") and "score" in adapter["modules_to_save"]
    assert (version.path / "adapter" / "adapter_model.safetensors").exists()
    assert "Data hash" in (version.path / "README.md").read_text()
    assert json.loads((version.path / "split.json").read_text())

    shipped = promote_to_default(version, tmp_path / "default")
    assert registry.get("default").card["data_hash"] == card["data_hash"] and shipped.exists()


@pytest.mark.parametrize("method", ["lora", "dora"])
def test_identity_check_passes_on_a_fresh_adapter_and_fails_on_a_tampered_one(tiny_model_dir, method):
    from app.modeling import load_tokenizer

    tokenizer = load_tokenizer(str(tiny_model_dir))
    model = build_model(TrainConfig(base_model=str(tiny_model_dir), method=method, r=4, alpha=8), tokenizer)
    batch = tokenizer(["the liability of a party shall not exceed the fees paid", "indemnify and hold harmless"],
                      padding=True, return_tensors="pt")
    assert verify_identity_init(model, batch) <= 1e-5
    with torch.no_grad():
        for name, param in model.named_parameters():
            # DoRA: a magnitude that is not the row norm; LoRA: a non-zero B
            if ("lora_magnitude_vector" in name) if method == "dora" else ("lora_B" in name):
                param.mul_(1.5) if method == "dora" else param.add_(0.05)
    with pytest.raises(IdentityCheckFailed, match="changes the base model's logits"):
        verify_identity_init(model, batch)


def test_resume_continues_from_the_last_checkpoint(tmp_path, tiny_model_dir, small_sources):
    registry = Registry(root=tmp_path / "registry", default_dir=tmp_path / "default")
    config = _config(tiny_model_dir, small_sources, tag="resume")
    run_dir = tmp_path / "run"
    train(config, run_dir=run_dir, registry=registry, log=lambda *_: None)
    ckpts = run_dir / "checkpoints"
    # Pretend the run was killed after step 2: only the first checkpoint survives.
    import shutil
    shutil.rmtree(ckpts / "checkpoint-4")
    with pytest.raises(TrainingError, match="--resume"):
        train(config, run_dir=run_dir, registry=registry, log=lambda *_: None)
    result = train(config, run_dir=run_dir, registry=registry, resume=True, log=lambda *_: None)
    assert result.card["steps"] == 4
    assert result.card["resumed_from"] == "checkpoint-2"
    assert result.card["steps_this_run"] == 2
    with pytest.raises(TrainingError, match="different from the one"):
        train(config.model_copy(update={"r": 8}), run_dir=run_dir, registry=registry, resume=True)


def test_resume_without_an_earlier_run_says_so(tmp_path, tiny_model_dir, small_sources):
    with pytest.raises(TrainingError, match="nothing to resume"):
        train(_config(tiny_model_dir, small_sources), run_dir=tmp_path / "empty", resume=True)


def test_qdora_outputs_stay_right_after_an_evaluation_pass(tiny_model_dir):
    """bitsandbytes repacks 4-bit weights on AVX512-BF16 CPUs at the first eval forward, which
    peft's DoRA then misreads; app.modeling keeps the standard layout so the check still passes."""
    from app.modeling import load_tokenizer

    tokenizer = load_tokenizer(str(tiny_model_dir))
    model = build_model(TrainConfig(base_model=str(tiny_model_dir), method="dora", quantization="nf4", r=4, alpha=8),
                        tokenizer)
    batch = tokenizer(["the liability of a party shall not exceed the fees paid", "indemnify and hold harmless"],
                      padding=True, return_tensors="pt")
    model.eval()
    with torch.no_grad():
        model(**batch)  # the pass that would trigger the repacking
    assert verify_identity_init(model, batch) <= 1e-4
