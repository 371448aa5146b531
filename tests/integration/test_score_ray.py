"""`python -m app score --engine ray` on a local Ray: same rows as the local engine, bad files reported."""
from __future__ import annotations

import shutil

import pytest

pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'lexdora[ray]' to test --engine ray")

from typer.testing import CliRunner  # noqa: E402

from app.batch import read_rows  # noqa: E402
from app.cli import cli  # noqa: E402
from app.config import ROOT  # noqa: E402


@pytest.fixture
def local_ray(active_tiny_registry, monkeypatch):
    import ray

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    # Workers inherit LEXDORA_* through the runtime env that app.batch.ray sets up.
    yield active_tiny_registry
    ray.shutdown()


def test_ray_engine_gives_the_local_engines_rows(local_ray, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("paxmedica-master-service-agreement.txt", "xybernaut-sponsorship.pdf"):
        shutil.copy(ROOT / "samples" / name, src / name)
    (src / "broken.pdf").write_bytes(b"%PDF-1.4\n garbage")
    runner = CliRunner()
    local = runner.invoke(cli, ["score", str(src), "--output", str(tmp_path / "local.jsonl"), "--quiet"])
    distributed = runner.invoke(cli, ["score", str(src), "--output", str(tmp_path / "ray.jsonl"), "--quiet",
                                      "--engine", "ray", "--workers", "2"])
    assert local.exit_code == distributed.exit_code == 1, distributed.output
    assert "broken.pdf" in distributed.output and "2 contracts scored" in distributed.output

    def by_clause(path):
        return {(r["contract"], r["index"]): r for r in read_rows(path)}

    a, b = by_clause(tmp_path / "local.jsonl"), by_clause(tmp_path / "ray.jsonl")
    assert a.keys() == b.keys() and len(a) > 100
    for key, row in a.items():
        other = b[key]
        assert {k: v for k, v in other.items() if k != "probabilities"} == \
               {k: v for k, v in row.items() if k != "probabilities"}
        assert other["probabilities"] == pytest.approx(row["probabilities"], abs=1e-5)

    again = runner.invoke(cli, ["score", str(src), "--output", str(tmp_path / "ray.jsonl"), "--quiet",
                                "--engine", "ray"])
    assert "0 contracts scored" in again.output and "2 already done" in again.output
