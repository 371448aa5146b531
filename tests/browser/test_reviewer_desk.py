"""The reviewer's desk in headless Chromium: double Enter, undo, one contract through, progress, release at logout."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_review_flow import log_in, wait_idle

pytestmark = pytest.mark.browser


def db(app_env) -> sqlite3.Connection:
    return sqlite3.connect(app_env["LEXDORA_DATABASE_URL"].removeprefix("sqlite:///"))


def reviews_by(app_env, name: str, kind: str = "review") -> list[tuple[int, str]]:
    with db(app_env) as conn:
        return conn.execute("SELECT r.clause_id, r.new_label FROM reviews r JOIN users u ON u.id = r.reviewer_id "
                            "WHERE u.name = ? AND r.kind = ? ORDER BY r.id", (name, kind)).fetchall()


def clause_text(page: Page) -> str:
    clause = page.locator(".st-key-review_clause")
    expect(clause).to_be_visible()
    return clause.inner_text()


def test_a_double_enter_confirms_only_the_clause_that_was_shown(new_page, app_env):
    page = new_page()
    log_in(page, "reviewer")
    shown = clause_text(page)
    before = len(reviews_by(app_env, "reviewer"))
    page.keyboard.press("Enter")
    page.wait_for_timeout(120)
    on_screen_at_second = page.locator(".st-key-review_clause").inner_text()
    page.keyboard.press("Enter")
    wait_idle(page)
    expect(page.locator(".st-key-review_clause")).not_to_have_text(shown)
    wait_idle(page)
    after = len(reviews_by(app_env, "reviewer"))
    if on_screen_at_second == shown:
        assert after == before + 1   # the second Enter named the clause already saved: ignored
    else:
        assert after <= before + 2   # the next clause was on screen: confirming it was what the reviewer saw
    expect(page.locator(".st-key-review_saved")).to_be_visible()


def test_undo_brings_back_the_clause_as_it_was(new_page, app_env):
    page = new_page()
    log_in(page, "reviewer")
    shown = clause_text(page)
    page.keyboard.press("Enter")
    expect(page.locator(".st-key-review_clause")).not_to_have_text(shown)
    wait_idle(page)
    page.keyboard.press("u")
    expect(page.locator(".st-key-review_clause")).to_have_text(shown)
    assert reviews_by(app_env, "reviewer", "undo")


def test_progress_counts_a_confirm(new_page):
    page = new_page()
    log_in(page, "reviewer2")
    progress = page.locator(".st-key-review_progress")
    expect(progress).to_contain_text("done today")
    done = int(progress.inner_text().split(" done today")[0].split()[-1])
    shown = clause_text(page)
    page.locator(".st-key-review_confirm").get_by_role("button").click()
    expect(page.locator(".st-key-review_clause")).not_to_have_text(shown)
    expect(progress).to_contain_text(f"{done + 1} done today")


def test_review_one_contract_through(new_page):
    page = new_page()
    log_in(page, "reviewer2")
    page.locator(".st-key-review_contract_choice").get_by_role("combobox").click()
    option = page.get_by_role("option", name="only ").first
    filename = option.inner_text().removeprefix("only ").strip()
    option.click()
    wait_idle(page)
    for _ in range(3):
        expect(page.locator(".st-key-review_source")).to_contain_text(filename)
        shown = clause_text(page)
        page.keyboard.press("Enter")
        expect(page.locator(".st-key-review_clause")).not_to_have_text(shown)
        wait_idle(page)
    expect(page.locator(".st-key-review_progress")).to_contain_text(f"left in {filename}")


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
