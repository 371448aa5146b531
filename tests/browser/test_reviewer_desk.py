"""The reviewer's desk in headless Chromium: double Enter, a stale Enter, undo, one contract through, progress,
release at logout."""
from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timezone

import pytest
from playwright.sync_api import Page, WebSocketRoute, expect
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tests.browser.test_review_flow import live, log_in, wait_idle

pytestmark = pytest.mark.browser


def db(app_env) -> sqlite3.Connection:
    return sqlite3.connect(app_env["LEXDORA_DATABASE_URL"].removeprefix("sqlite:///"))


def reviews_by(app_env, name: str, kind: str = "review") -> list[tuple[int, str]]:
    with db(app_env) as conn:
        return conn.execute("SELECT r.clause_id, r.new_label FROM reviews r JOIN users u ON u.id = r.reviewer_id "
                            "WHERE u.name = ? AND r.kind = ? ORDER BY r.id", (name, kind)).fetchall()


def clause_text(page: Page) -> str:
    """The clause on screen, once its buttons are drawn too: on a fresh page Streamlit draws text at once and
    loads the code of its buttons after, and a shortcut pressed before its button is drawn does nothing."""
    confirm = live(page, "review_confirm").get_by_role("button")
    expect(confirm).to_have_count(1)   # during a rerun the last clause's button may still be drawn beside it
    expect(confirm).to_be_visible()
    clause = live(page, "review_clause")
    expect(clause).to_be_visible()
    return clause.inner_text()


def words(text: str) -> str:
    return " ".join(text.split())


def reviewed_texts(app_env, name: str, after_id: int) -> list[str]:
    with db(app_env) as conn:
        rows = conn.execute("SELECT c.text FROM reviews r JOIN users u ON u.id = r.reviewer_id "
                            "JOIN clauses c ON c.id = r.clause_id WHERE u.name = ? AND r.id > ? ORDER BY r.id",
                            (name, after_id)).fetchall()
    return [words(t) for (t,) in rows]


def last_review_id(app_env) -> int:
    with db(app_env) as conn:
        return conn.execute("SELECT coalesce(max(id), 0) FROM reviews").fetchone()[0]


def test_a_double_enter_confirms_only_clauses_that_were_on_screen(new_page, app_env):
    # Whether the second Enter lands before or after the next clause is drawn is a race the test cannot
    # fix; what must hold either way: every saved review is of a clause that was on screen when its
    # Enter was pressed, and the first clause was saved once. The screen is read just before and just after
    # the second Enter, since it can change in between (the race is pinned down by the next test).
    page = new_page()
    log_in(page, "reviewer")
    first = words(clause_text(page))
    since = last_review_id(app_env)
    page.keyboard.press("Enter")
    page.wait_for_timeout(120)
    second = words(live(page, "review_clause").inner_text())
    page.keyboard.press("Enter")
    second += " " + words(live(page, "review_clause").inner_text())
    wait_idle(page)
    expect(live(page, "review_clause")).not_to_have_text(first, use_inner_text=True)
    wait_idle(page)
    saved = reviewed_texts(app_env, "reviewer", since)
    assert 1 <= len(saved) <= 2
    assert sum(t[:60] in first for t in saved) == 1          # the first clause, once
    assert all(t[:60] in first or t[:60] in second for t in saved)   # nothing that was never shown
    expect(page.locator(".st-key-review_saved")).to_be_visible()


def test_undo_brings_back_the_clause_as_it_was(new_page, app_env):
    page = new_page()
    log_in(page, "reviewer")
    shown = clause_text(page)
    page.keyboard.press("Enter")
    expect(live(page, "review_clause")).not_to_have_text(shown, use_inner_text=True)
    wait_idle(page)
    page.keyboard.press("u")
    back = ""
    for _ in range(60):   # the clause comes back after a rerun; compare words, not layout whitespace
        back = words(live(page, "review_clause").inner_text())
        if back == words(shown):
            break
        page.wait_for_timeout(500)
    assert back == words(shown)
    assert reviews_by(app_env, "reviewer", "undo")


def test_progress_counts_a_confirm(new_page):
    page = new_page()
    log_in(page, "reviewer2")
    # During a rerun the last clause's progress line can still be beside the new one: read the first,
    # then wait for any of them to count the confirm.
    progress = page.locator(".st-key-review_progress")
    expect(progress.first).to_contain_text("done today")
    done = int(progress.first.inner_text().split(" done today")[0].split()[-1])
    clause_text(page)   # once a single Confirm is drawn
    live(page, "review_confirm").get_by_role("button").click()
    expect(progress.filter(has_text=f"{done + 1} done today").first).to_be_visible()


def test_review_one_contract_through(new_page):
    page = new_page()
    log_in(page, "reviewer2")
    choice = page.locator(".st-key-review_contract_choice").get_by_role("combobox")
    choice.click()
    option = page.get_by_role("option", name="only ").first
    filename = option.inner_text().removeprefix("only ").strip()
    option.click()
    # The page takes the choice by drawing a new box, which leaves the keyboard to the shortcuts (Streamlit
    # ignores them while an input has the focus); until then Enter goes to the box.
    expect(page.locator(".st-key-review_contract_choice input:focus")).to_have_count(0)
    wait_idle(page)
    progress = page.locator(".st-key-review_progress")
    for _ in range(3):
        # a rerun can briefly show the last clause's twin beside the new one: any of them names the contract
        expect(page.locator(".st-key-review_source").filter(has_text=filename).first).to_be_visible()
        clause_text(page)   # once a single Confirm is drawn
        done = int(progress.first.inner_text().split(" done today")[0].split()[-1])
        page.keyboard.press("Enter")
        # Counted, not compared by text: a contract's signature blocks ("By:") are clauses with equal text.
        expect(progress.filter(has_text=f"{done + 1} done today").first).to_be_visible()
        wait_idle(page)
    expect(page.locator(".st-key-review_progress").filter(has_text=f"left in {filename}").first).to_be_visible()


def test_logging_out_gives_the_held_clause_back(new_page, app_env):
    page = new_page()
    log_in(page, "reviewer")
    clause_text(page)
    now = datetime.now(timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
    held = ("SELECT count(*) FROM clauses c JOIN users u ON u.id = c.claimed_by_id "
            "WHERE u.name = 'reviewer' AND c.claim_expires_at > ?")
    with db(app_env) as conn:
        assert conn.execute(held, (now,)).fetchone()[0] == 1
    page.get_by_test_id("stSidebar").get_by_role("button", name="Log out").click()
    expect(page.locator(".st-key-login_username")).to_be_visible()
    with db(app_env) as conn:
        assert conn.execute(held, (now,)).fetchone()[0] == 0


class HeldUpdates:
    """A proxy of the app's websocket that can hold back what the server sends: the browser keeps the screen it
    has while the server moves on, as on a slow connection or a busy browser."""

    def __init__(self, page: Page):
        self.holding = False
        self.held: list[bytes | str] = []
        self.page = page
        page.route_web_socket(re.compile(r"/_stcore/stream$"), self._route)

    def _route(self, ws: WebSocketRoute) -> None:
        self.browser_side = ws
        server = ws.connect_to_server()
        ws.on_message(server.send)
        server.on_message(self._from_server)

    def _from_server(self, message: bytes | str) -> None:
        if self.holding:
            self.held.append(message)
        else:
            self.browser_side.send(message)

    def runs_finished(self) -> int:
        """Script runs the server finished while updates were held."""
        finished = 0
        for message in self.held:
            if isinstance(message, bytes):
                msg = ForwardMsg()
                msg.ParseFromString(message)
                finished += msg.WhichOneof("type") == "script_finished"
        return finished

    def wait_for_runs(self, n: int) -> None:
        for _ in range(240):   # the server runs the page on a loaded CI box: up to a minute
            if self.runs_finished() >= n:
                return
            self.page.wait_for_timeout(250)
        raise AssertionError(f"the server finished {self.runs_finished()} of {n} runs")

    def release(self) -> None:
        self.holding = False
        for message in self.held:
            self.browser_side.send(message)
        self.held.clear()


def test_an_enter_on_a_clause_already_saved_saves_nothing_else(new_page, app_env):
    # The server has saved the first clause and drawn the next, but the browser has not received it yet: a
    # second Enter names the clause on screen, which is saved already, so it must save nothing.
    page = new_page()
    updates = HeldUpdates(page)
    page.reload()   # the proxy serves websockets opened from now on
    log_in(page, "reviewer")
    first = words(clause_text(page))
    since = last_review_id(app_env)
    updates.holding = True
    page.keyboard.press("Enter")
    updates.wait_for_runs(1)
    assert words(live(page, "review_clause").inner_text()) == first
    page.keyboard.press("Enter")
    updates.wait_for_runs(2)
    updates.release()
    expect(live(page, "review_clause")).not_to_have_text(first, use_inner_text=True)
    wait_idle(page)
    assert [t[:60] in first for t in reviewed_texts(app_env, "reviewer", since)] == [True]
