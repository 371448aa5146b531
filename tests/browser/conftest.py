"""A real Streamlit server and its scoring worker (subprocesses) on a temp database, queue and upload folder,
and headless Debian Chromium.

The model is the shipped default (models/default) when it is there, else a version built on the tiny Llama
of tests/conftest.py; LEXDORA_E2E_MODEL=tiny picks the tiny one anyway (a quick local run of the UI flows).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
STARTUP_TIMEOUT_S = 120
# The first use of the real model converts its embedded GGUF base (minutes), then scores on 2 CPU cores.
SCORING_TIMEOUT_S = 1800
DEMO_PASSWORDS: dict[str, str] = {}  # filled by app_env from what `python -m app demo` printed
QUEUE_SAMPLE = ROOT / "samples" / "paxmedica-master-service-agreement.txt"  # fills the review queue up front


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_health(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)  # polling a server that is starting: no event to wait on
    raise RuntimeError(f"streamlit not healthy after {STARTUP_TIMEOUT_S}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def app_env(tmp_path_factory, tiny_model_dir) -> dict[str, str]:
    """Environment of the app under test: temp DB, uploads and registry; demo accounts created."""
    tmp = tmp_path_factory.mktemp("app")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEXDORA_")}
    env.update(LEXDORA_DATABASE_URL=f"sqlite:///{tmp / 'lexdora.db'}", LEXDORA_UPLOAD_DIR=str(tmp / "uploads"),
               LEXDORA_REGISTRY_DIR=str(tmp / "registry"), LEXDORA_QUEUE_URL=f"sqlite:///{tmp / 'queue.db'}",
               LEXDORA_DEVICE="cpu")
    if os.environ.get("LEXDORA_E2E_MODEL") == "tiny" or not (ROOT / "models" / "default" / "card.json").exists():
        env["LEXDORA_DEFAULT_MODEL_DIR"] = str(_tiny_default_version(tmp / "default", tiny_model_dir))
    # Every clause goes to review whatever the model says, so the queue tests never find it empty.
    (tmp / "policy.yaml").write_text("floor: 1.0\nnear_miss_margin: 0.1\nthresholds: {}\n"
                                     "source: browser tests, review everything\n")
    env["LEXDORA_POLICY_FILE"] = str(tmp / "policy.yaml")
    done = subprocess.run([sys.executable, "-m", "app", "demo", str(QUEUE_SAMPLE)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=SCORING_TIMEOUT_S)
    assert done.returncode == 0, done.stdout + done.stderr
    # The demo passwords are made per install and printed once.
    from app.demo import passwords_in

    DEMO_PASSWORDS.update(passwords_in(done.stdout))
    assert len(DEMO_PASSWORDS) == 4, done.stdout
    return env


def _tiny_default_version(path: Path, tiny_model_dir: Path) -> Path:
    """A merged registry version whose weights are the tiny Llama (fast, deterministic, uncertain)."""
    import shutil

    from app.registry import ModelVersion
    from app.taxonomy import LABEL_IDS

    shutil.copytree(tiny_model_dir, path / "merged")
    ModelVersion("default", path).write_card({
        "version": "default", "base_model": str(tiny_model_dir), "method": "dora", "quantization": "none",
        "labels": list(LABEL_IDS), "merged": True, "parent": None, "metrics": {},
        "train_config": {"max_length": 64}})
    return path


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    """`python -m app worker`, the real consumer process that scores uploads, on the app's database and queue."""
    with log.open("a") as out:
        return subprocess.Popen([sys.executable, "-m", "app", "worker"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM (for the worker: stop now, a contract in hand is resumed by the next start), then SIGKILL."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def app_url(app_env, tmp_path_factory) -> str:
    """The app at its address, with its scoring worker running beside it (as scripts/start.sh runs them)."""
    port = _free_port()
    logs = tmp_path_factory.mktemp("streamlit")
    log = logs / "server.log"
    worker = start_worker(app_env, logs / "worker.log")
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=app_env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(url, proc, log)
        yield url
    finally:
        stop(proc)
        stop(worker)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import expect, sync_playwright

    # A 2-core CI box scoring contracts on a CPU: 5 s (the default) is too short for a rerun under load.
    expect.set_options(timeout=30_000)

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: apt-get install chromium (scripts/test.sh does it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.failed_call = report.failed  # read by new_page's teardown
    return report


@pytest.fixture
def new_page(request, browser, app_url):
    """Factory of logged-out pages, each in its own browser context (its own Streamlit session).

    A failed test leaves a screenshot of each of its pages in /tmp/lexdora-failed-<test>-<n>.png.
    """
    contexts = []

    def make():
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(app_url)
        return page

    yield make
    for n, context in enumerate(contexts):
        if getattr(request.node, "failed_call", False):
            for page in context.pages:
                page.screenshot(path=f"/tmp/lexdora-failed-{request.node.name}-{n}.png", full_page=True)
        context.close()
