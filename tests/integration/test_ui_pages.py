"""Streamlit AppTest: every page runs, and page tests drive widgets by key against the real services.

Real temp SQLite (settings by env), real ingestion of the sample contracts; the scorer is a deterministic
fake injected into services.upload_contract, since the model is not what these tests are about.
"""
from __future__ import annotations

import csv
import functools
import io
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app import services
from app.config import get_settings
from app.registry import ModelVersion
from app.taxonomy import LABEL_IDS
from tests.conftest import ROOT
from app.ui.render import escape_markdown

pytestmark = pytest.mark.integration
APP = str(ROOT / "streamlit_app.py")
PAGES = ("contract_list", "upload", "review", "history", "contracts", "dashboard", "adjudication", "models", "users")
PASSWORD = "correct-horse"
SAMPLE = ROOT / "samples" / "paxmedica-master-service-agreement.txt"


class KeywordScorer:
    """Deterministic probabilities: liability wording is a near miss (carve_out vs uncapped), the rest 'none'."""

    # Named like the registry's default; without a policy.yaml, so routing uses configs/policy.yaml.
    version = ModelVersion("default", Path("/nonexistent/default"))

    def predict_proba(self, texts: list[str], headings: list[str] | None = None) -> np.ndarray:
        rows = []
        for text in texts:
            p = dict.fromkeys(LABEL_IDS, 0.005)
            if "liab" in text.lower():
                p.update(carve_out=0.50, uncapped=0.47)
            else:
                p["none"] = 0.97
            rows.append([p[label] for label in LABEL_IDS])
        return np.array(rows) / np.array(rows).sum(axis=1, keepdims=True)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A fresh database, upload folder and registry (a default version with metrics and a PNG)."""
    default = tmp_path / "default"
    (default / "eval").mkdir(parents=True)
    (default / "card.json").write_text(json.dumps({"version": "default", "method": "dora", "base_model": "tiny",
                                                   "metrics": {"test": {"macro_f1": 0.71, "ece": 0.04,
                                                                        "per_label_f1": {"capped": 0.5}}}}))
    _png(default / "eval" / "reliability.png")
    for key, value in {"DATABASE_URL": f"sqlite:///{tmp_path / 'lexdora.db'}", "UPLOAD_DIR": tmp_path / "uploads",
                       "REGISTRY_DIR": tmp_path / "registry", "DEFAULT_MODEL_DIR": default}.items():
        monkeypatch.setenv(f"LEXDORA_{key}", str(value))
    monkeypatch.delenv("LEXDORA_POLICY_FILE", raising=False)
    get_settings.cache_clear()
    monkeypatch.setenv("LEXDORA_QUEUE_URL", f"sqlite:///{tmp_path / 'queue.db'}")
    monkeypatch.setattr(services, "upload_contract",
                        functools.partial(services.upload_contract, scorer_factory=KeywordScorer))
    # The upload page hands contracts to the worker; here the "worker" scores at once, in this process.
    import app.worker
    monkeypatch.setattr(app.worker, "enqueue_scoring", lambda contract_id: services.score_queued_contract(
        contract_id, scorer_factory=KeywordScorer))
    users = {role: services.register_user(role, PASSWORD, role) for role in ("lawyer", "reviewer", "admin")}
    yield users
    get_settings.cache_clear()


def _png(path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    fig.savefig(path)
    plt.close(fig)


@pytest.fixture
def contract(env) -> int:
    return services.upload_contract(env["lawyer"].id, SAMPLE.name, SAMPLE.read_bytes()).contract_id


def app_as(user, page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["user"] = user
    at.run()
    if page:
        at.switch_page(f"app/ui/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_for_an_admin(env, contract, page):
    at = app_as(env["admin"], page)
    assert at.title


def test_logging_in_with_a_wrong_password_says_so_and_stays_logged_out(env):
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.text_input(key="login_username").input("lawyer")
    at.text_input(key="login_password").input("wrong-password")
    at.button(key="login_submit").click().run()
    # messages are shown as literal text: Markdown characters escaped (a name cannot become a link)
    assert [e.value for e in at.error] == [escape_markdown("Wrong user name or password.")]
    assert "user" not in at.session_state


@pytest.mark.parametrize("role, landing", [("reviewer", "Review queue"), ("lawyer", "Contracts"),
                                           ("admin", "Contracts")])
def test_logging_in_opens_the_first_page_of_the_role(env, role, landing):
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.text_input(key="login_username").input(role)
    at.text_input(key="login_password").input(PASSWORD)
    at.button(key="login_submit").click().run()
    assert at.session_state["user"].role == role
    assert [t.value for t in at.title] == [landing]
    # A session was started for the cookie that keeps the log-in across a refresh.
    assert services.resume_session(at.session_state["session_token"]).name == role


def test_logging_out_ends_the_session_its_cookie_names(env):
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.text_input(key="login_username").input("lawyer")
    at.text_input(key="login_password").input(PASSWORD)
    at.button(key="login_submit").click().run()
    token = at.session_state["session_token"]
    at.button(key="logout").click().run()
    assert "user" not in at.session_state and services.resume_session(token) is None
    assert [t.value for t in at.title] == ["lexdora"]   # the log-in form


@pytest.mark.parametrize("role, allowed", [
    ("lawyer", {"contract_list", "upload", "contracts"}),
    ("reviewer", {"contract_list", "review", "history", "contracts"}),
    ("admin", set(PAGES)),
])
def test_each_role_sees_only_its_pages(env, role, allowed):
    at = app_as(env[role])
    for page in PAGES:
        if page in allowed:
            at.switch_page(f"app/ui/{page}.py").run()
            assert not at.exception, (page, [e.value for e in at.exception])
        else:
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                at.switch_page(f"app/ui/{page}.py")


def test_upload_of_several_files_reports_each_and_recognises_the_duplicate(env):
    at = app_as(env["lawyer"], "upload")
    data = SAMPLE.read_bytes()
    at.file_uploader(key="upload_files").set_value([
        (SAMPLE.name, data, "text/plain"),
        ("copy.txt", data, "text/plain"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "application/pdf"),
    ])
    at.run()
    at.button(key="upload_submit").click().run()
    assert not at.exception, [e.value for e in at.exception]
    results = {r["file"]: r["result"] for r in at.session_state["upload_results"]}
    assert results[SAMPLE.name].startswith("queued: ") and results[SAMPLE.name].endswith(" clauses to score")
    assert results["copy.txt"] == f"already uploaded as {SAMPLE.name}; nothing scored again"
    assert results["broken.pdf"].startswith("broken.pdf: ")
    assert any(e.value.startswith(escape_markdown("broken.pdf: ")) for e in at.error)
    [row] = services.contract_overview(env["lawyer"].id)
    assert row.contract.status == "in_review" and row.contract.filename == SAMPLE.name


def test_contract_view_shows_exposure_and_filters_by_decision(env, contract):
    at = app_as(env["lawyer"], "contracts")
    detail = services.get_contract(env["lawyer"].id, contract)
    table = at.dataframe[0].value
    assert list(table["number"]) == [c.number or "" for c in detail.clauses]
    assert {"heading", "page", "bucket", "probability", "decision"} <= set(table.columns)
    exposure = "\n".join(t.value for t in at.text)
    assert detail.exposure and all(item.line in exposure for item in detail.exposure)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Cap with carve-out"] == str(detail.contract.label_counts.get("carve_out", 0))

    at.multiselect(key="filter_decisions").set_value(["needs_review"]).run()
    shown = at.dataframe[0].value
    assert 0 < len(shown) < len(detail.clauses)
    assert set(shown["decision"]) == {"waiting for review"}


def desk_button(at: AppTest, control: str):
    """A button of the review desk: its key names the clause on screen (app/ui/review.py)."""
    return at.button(key=f"{control}_{at.session_state['review_item'].clause.id}")


def test_reviewer_corrects_a_clause_and_the_next_one_loads_at_once(env, contract):
    at = app_as(env["reviewer"], "review")
    first = at.session_state["review_item"].clause
    assert first.rule == "near_miss"
    desk_button(at, "pick_uncapped").click().run()
    at.text_input(key="review_comment").input("carve-out names no claims").run()
    desk_button(at, "confirm").click().run()
    assert not at.exception
    nxt = at.session_state["review_item"]
    assert nxt is not None and nxt.clause.id != first.id
    rows = list(csv.DictReader(io.StringIO(services.export_labels(env["reviewer"].id, "csv").decode("utf-8-sig"))))
    row = next(r for r in rows if int(r["clause_id"]) == first.id)
    assert (row["label"], row["previous_label"], row["comment"]) == ("uncapped", "carve_out",
                                                                   "carve-out names no claims")


def test_skip_gives_the_clause_back_and_shows_another(env, contract):
    at = app_as(env["reviewer"], "review")
    first = at.session_state["review_item"].clause.id
    desk_button(at, "skip").click().run()
    assert at.session_state["review_item"].clause.id != first
    other = services.claim_next_review(env["admin"].id)
    assert other is not None  # the skipped clause is back in the queue for others


def test_dashboard_shows_queue_and_model_metrics(env, contract):
    at = app_as(env["admin"], "dashboard")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Contracts"] == "1"
    assert int(metrics["Waiting for review"]) > 0
    tables = [df.value for df in at.dataframe]
    model_metrics = next(t for t in tables if "split" in t.columns)
    assert model_metrics.to_dict("records") == [{"split": "test", "macro_f1": 0.71, "ece": 0.04}]
    per_label = next(t for t in tables if "label" in t.columns)
    assert per_label.to_dict("records") == [{"label": "Capped", "test": 0.5}]
    assert at.image[0].captions == ["Reliability diagram from the version's evaluation (test clauses)"]


def test_admin_adds_a_user_who_can_then_log_in(env):
    at = app_as(env["admin"], "users")
    at.text_input(key="new_username").input("rita")
    at.text_input(key="new_password").input("rita-password")
    at.selectbox(key="new_role").select("reviewer")
    at.button(key="new_user_submit").click().run()
    assert [s.value for s in at.success] == [f"{escape_markdown('rita')} can now log in as reviewer."]
    assert services.authenticate("rita", "rita-password").role == "reviewer"


def test_a_too_short_password_is_refused_with_the_services_message(env):
    at = app_as(env["admin"], "users")
    at.text_input(key="new_username").input("bob")
    at.text_input(key="new_password").input("short")
    at.button(key="new_user_submit").click().run()
    assert [e.value for e in at.error] == [escape_markdown("A password needs at least 8 characters.")]


def test_the_list_names_the_file_the_worker_could_not_score_when_the_model_cannot_load(env, monkeypatch):
    # The registry's default version has a card but no weights: loading it fails. Classifier.load directly,
    # since services keeps scorers by version name per process, and another test may have loaded a "default".
    from app.classifier import Classifier

    import app.worker
    monkeypatch.setattr(app.worker, "enqueue_scoring", lambda contract_id: services.score_queued_contract(
        contract_id, scorer_factory=Classifier.load))
    at = app_as(env["lawyer"], "upload")
    at.file_uploader(key="upload_files").set_value([(SAMPLE.name, SAMPLE.read_bytes(), "text/plain")])
    at.run()
    at.button(key="upload_submit").click().run()
    assert not at.exception, [e.value for e in at.exception]
    [result] = at.session_state["upload_results"]
    assert result["result"].startswith("queued: ")   # stored; the worker is the one that cannot score it
    at.switch_page("app/ui/contract_list.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(e.value.startswith(escape_markdown(f"{SAMPLE.name}: The model cannot score contracts right now: "))
               for e in at.error)
    [row] = services.contract_overview(env["lawyer"].id)
    assert row.contract.status == "failed" and row.has_cap is None


# ---------------------------------------------------------------- the reviewer's desk (issue 13)

def test_a_stale_confirm_for_a_clause_already_saved_is_ignored(env, contract):
    at = app_as(env["reviewer"], "review")
    first = at.session_state["review_item"].clause
    desk_button(at, "confirm").click().run()
    assert at.session_state["review_item"].clause.id != first.id
    assert at.get("markdown") and any("Saved" in m.value for m in at.markdown)
    # The buttons are keyed by the clause they act on: none of the first clause's is left to run a callback.
    shown = at.session_state["review_item"].clause.id
    desk = [b.key for b in at.button if (b.key or "").startswith(("confirm_", "skip_", "pick_"))]
    assert len(desk) == 9 and all(key.endswith(f"_{shown}") for key in desk)
    at.run()   # an ignored key press reruns the page without a callback: what was saved is still said
    assert any("Saved" in m.value for m in at.markdown)
    # What a second Enter ~120 ms later does: its button still carries the first clause's id.
    n_before = len(services.review_history(env["reviewer"].id)[0].reviews)
    with pytest.raises(services.NotHeld):
        services.submit_shown(env["reviewer"].id, first.id, "none")
    assert len(services.review_history(env["reviewer"].id)[0].reviews) == n_before


def test_undo_brings_the_last_clause_back_and_history_reopens_it(env, contract):
    at = app_as(env["reviewer"], "review")
    first = at.session_state["review_item"].clause
    desk_button(at, "pick_uncapped").click().run()
    desk_button(at, "confirm").click().run()
    at.button(key="review_undo").click().run()
    assert not at.exception
    assert at.session_state["review_item"].clause.id == first.id
    desk_button(at, "confirm").click().run()
    at.switch_page("app/ui/history.py").run()
    assert not at.exception and at.title[0].value == "History"
    at.button(key=f"reopen_{first.id}").click().run()
    assert not at.exception
    assert at.session_state["review_item"].clause.id == first.id and at.session_state["review_item"].reopened


def test_progress_and_one_contract_mode(env, contract):
    at = app_as(env["reviewer"], "review")
    assert any("done today" in m.value for m in at.markdown)
    next(box for box in at.selectbox if box.label == "Review").set_value(contract).run()
    assert not at.exception and at.session_state["review_contract"] == contract
    assert at.session_state["review_item"].clause.contract_id == contract


def test_logging_out_releases_the_held_clause(env, contract):
    at = app_as(env["reviewer"], "review")
    held = at.session_state["review_item"].clause.id
    at.button(key="logout").click().run()
    assert "user" not in at.session_state
    assert services.claim_next_review(env["admin"].id).clause.id == held


def test_admin_settles_a_disagreement(env, contract):
    rita, admin = env["reviewer"].id, env["admin"].id
    task = services.claim_next_review(rita)
    services.submit_shown(rita, task.clause.id, "uncapped")
    services.reopen_clause(admin, task.clause.id)
    services.submit_shown(admin, task.clause.id, "carve_out")
    at = app_as(env["admin"], "adjudication")
    at.selectbox(key=f"adjudicate_label_{task.clause.id}").set_value("uncapped").run()
    at.button(key=f"adjudicate_{task.clause.id}").click().run()
    assert not at.exception and services.list_disputes(admin) == []
    assert [s.value for s in at.success] == [escape_markdown("Settled as Uncapped.")]


# ---------------------------------------------------------------- the contracts list (issue 14)

def test_the_contracts_list_shows_each_contracts_status_and_answers_and_filters(env, contract):
    at = app_as(env["lawyer"])   # a lawyer lands on the list
    assert at.title[0].value == "Contracts" and not at.exception
    df = at.dataframe(key="contract_table").value
    assert list(df["contract"]) == [SAMPLE.name] and list(df["status"]) == ["waiting for review"]
    [row] = services.contract_overview(env["lawyer"].id)
    assert df["has cap"][0] == f"{'Yes' if row.has_cap else 'No'} ({row.p_cap:.0%})"
    assert df["uploaded by"][0] == "lawyer" and df["to review"][0] == row.contract.n_needs_review > 0
    at.text_input(key="list_search").input("no such contract").run()
    assert at.dataframe(key="contract_table").value.empty
    at.text_input(key="list_search").input("PAXMEDICA").run()   # any case
    assert len(at.dataframe(key="contract_table").value) == 1
    at.multiselect(key="list_status").set_value(["queued"]).run()
    assert at.dataframe(key="contract_table").value.empty


def test_a_contract_being_scored_shows_its_progress(env, contract):
    from sqlalchemy import update

    from app.db import Contract, session_factory

    with session_factory()() as s, s.begin():
        s.execute(update(Contract).values(status="scoring", progress=0.42))
    at = app_as(env["lawyer"])
    assert list(at.dataframe(key="contract_table").value["status"]) == ["scoring 42%"]
    assert at.session_state["list_busy"]   # the list reloads itself until the worker is done
