"""training.dry_run: the 7B QDoRA recipe built on the meta device, counted and sized without weights."""
from __future__ import annotations

from app.config import ROOT
from training.config import TrainConfig, load_config
from training.dry_run import arch_path_for, dry_run, main

QDORA_7B = ROOT / "configs" / "qdora-7b.yaml"


def test_qdora_7b_recipe_counts_and_fits_24gb():
    config = load_config(QDORA_7B)
    report = dry_run(config)
    assert report.arch_file == "configs/arch/Qwen2.5-7B-Instruct.json"
    # Qwen2.5-7B: 28 layers, hidden 3584, k/v 512 wide; q/k/v/o at rank 16, DoRA magnitudes, the 7-label head
    lora = 28 * 16 * ((3584 + 3584) * 2 + (3584 + 512) * 2)
    magnitude = 28 * (3584 + 512 + 512 + 3584)
    assert report.trainable_by_kind == {"lora_A": 28 * 16 * 3584 * 4, "lora_B": 28 * 16 * (3584 * 2 + 512 * 2),
                                        "lora_magnitude_vector": magnitude, "score (head, in full)": 3584 * 7}
    assert report.trainable_params == lora + magnitude + 3584 * 7 == 10_347_008
    assert 7.0e9 < report.total_params < 7.2e9  # 7.6 B less the 0.54 B LM head a classifier does not have
    # all seven projections at rank 16, the case study's kind of count (42.7 M on its 7B)
    assert 40e6 < report.alternatives["all seven projections, every layer, DoRA"] < 43e6
    assert report.fits and 6 < report.peak_gib < 24
    assert report.memory_gib["frozen linear weights, NF4 + double-quant absmax"] < 3.5
    stock = dry_run(config, fast_dora=False)
    assert stock.peak_gib > report.peak_gib  # peft's DoRA keeps more per layer and forms W + sBA


def test_dry_run_count_matches_a_real_build(tiny_model_dir):
    from app.modeling import load_tokenizer
    from training.train import build_model, count_params

    config = TrainConfig(base_model=str(tiny_model_dir), r=4, alpha=8, adapt_top_layers=1,
                         target_modules=["q_proj", "v_proj", "down_proj"])
    real = build_model(config, load_tokenizer(str(tiny_model_dir)))
    report = dry_run(config)
    assert arch_path_for(str(tiny_model_dir)) == tiny_model_dir / "config.json"
    assert report.trainable_params == count_params(real)["trainable"]
    assert report.total_params == count_params(real)["total"]


def test_cli_prints_the_report(capsys):
    assert main(["--config", str(QDORA_7B)]) == 0
    out = capsys.readouterr().out
    assert "trainable 10,347,008" in out and "against 24 GiB" in out and "fits" in out


def test_missing_architecture_is_reported(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("base_model: some-org/Unknown-7B\n")
    assert main(["--config", str(cfg)]) == 2
    assert "configs/arch/Unknown-7B.json" in capsys.readouterr().err
