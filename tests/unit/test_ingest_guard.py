"""app.ingest.guard: every file read in a child with a time and memory budget (issue 12)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.ingest import IngestError, ingest_path
from app.ingest.guard import ingest_bytes_guarded, ingest_file_guarded
from tests.fixtures.crafted import nested_html

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_TXT = ROOT / "samples" / "paxmedica-master-service-agreement.txt"
SAMPLE_PDF = ROOT / "samples" / "xybernaut-sponsorship.pdf"


@pytest.mark.parametrize("path", [SAMPLE_TXT, SAMPLE_PDF], ids=["txt", "pdf"])
def test_guarded_reading_gives_what_direct_reading_gives(path):
    assert ingest_file_guarded(path) == ingest_path(path)
    assert ingest_bytes_guarded(path.read_bytes(), path.name) == ingest_path(path)


def test_a_file_over_its_time_budget_is_stopped(tmp_path):
    path = tmp_path / "nested.html"
    path.write_bytes(nested_html(100_000))  # about 0.5 s of work, far over 0.05 s
    ingest_file_guarded(SAMPLE_TXT)  # the fork server is up: only the file's time is measured
    t = time.perf_counter()
    with pytest.raises(IngestError) as err:
        ingest_file_guarded(path, timeout_s=0.05)
    assert time.perf_counter() - t < 2
    assert str(err.value).startswith("nested.html: reading took longer than 0.05 s and was stopped")


def test_a_file_over_its_memory_budget_is_stopped(tmp_path):
    path = tmp_path / "nested.html"
    path.write_bytes(nested_html(100_000))  # ~50 MB of parser state
    with pytest.raises(IngestError) as err:
        ingest_file_guarded(path, memory_mb=16)
    assert str(err.value).startswith("nested.html: reading needed more than 16 MB of memory")
    assert "\n" not in str(err.value)


def test_an_unreadable_file_gives_the_readers_own_one_line_error(tmp_path):
    path = tmp_path / "garbage.bin"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(IngestError) as direct:
        ingest_path(path)
    with pytest.raises(IngestError) as guarded:
        ingest_file_guarded(path)
    assert str(guarded.value) == str(direct.value)
    with pytest.raises(IngestError, match="missing.txt: file not found"):
        ingest_file_guarded(tmp_path / "missing.txt")


def test_settings_of_the_caller_apply_in_the_child(monkeypatch, tmp_path):
    from app.config import get_settings

    path = tmp_path / "big.txt"
    path.write_bytes(b"Clause. " * (1024 * 1024 // 8))
    ingest_file_guarded(SAMPLE_TXT)  # the server started before the setting changed
    monkeypatch.setenv("LEXDORA_MAX_UPLOAD_MB", "0.5")
    get_settings.cache_clear()
    try:
        with pytest.raises(IngestError, match="big.txt: the file is 1.0 MB, over the 0.5 MB limit"):
            ingest_file_guarded(path)
    finally:
        get_settings.cache_clear()


def test_a_child_that_dies_is_reported_in_one_line_by_what_stopped_it():
    import signal

    from app.ingest.guard import _died

    assert "took longer than 5 s" in str(_died("a.pdf", -signal.SIGXCPU, 5, 100))
    killed = str(_died("a.pdf", -signal.SIGSEGV, 5, 100))
    assert killed.startswith("a.pdf: the reader was stopped by signal") and "more than 100 MB" in killed
    assert "could not run (exit code 1)" in str(_died("a.pdf", 1, 5, 100))
