"""End to end in headless Chromium: upload as a lawyer, review with the keyboard, export, two reviewers."""
from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import Page, expect

from app.demo import DEMO_ACCOUNTS
from app.taxonomy import LABELS
from tests.conftest import ROOT

pytestmark = pytest.mark.browser
PASSWORDS = {name: password for name, _, password in DEMO_ACCOUNTS}


def log_in(page: Page, name: str) -> None:
    page.locator(".st-key-login_username input").fill(name)
    page.locator(".st-key-login_password input").fill(PASSWORDS[name])
    page.locator(".st-key-login_submit button").click()
    expect(page.get_by_test_id("stSidebar")).to_contain_text(f"Signed in as {name}")


def open_page(page: Page, nav_title: str, heading: str | None = None) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(nav_title, exact=True).click()
    expect(page.get_by_role("heading", name=heading or nav_title, level=1)).to_be_visible()


def test_lawyer_uploads_a_cuad_pdf_and_sees_its_clauses(new_page):
    page = new_page()
    log_in(page, "lawyer")
    open_page(page, "Upload", "Upload contracts")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(ROOT / "samples" / "xybernaut-sponsorship.pdf")
    page.locator(".st-key-upload_submit button").click()
    expect(page.get_by_test_id("stExpander").filter(has_text="xybernaut-sponsorship.pdf: ")).to_contain_text(
        "clauses", timeout=300_000)
    page.screenshot(path="/tmp/lexdora-upload.png", full_page=True)

    open_page(page, "Contracts")
    page.locator(".st-key-contract_id").click()
    page.get_by_role("option", name="xybernaut-sponsorship.pdf", exact=False).click()
    table = page.locator(".st-key-clauses_table")
    expect(table.locator("[id^=glide-cell-]").first).to_be_visible()
    expect(page.get_by_text("clauses. Select a row")).to_be_visible()
    page.screenshot(path="/tmp/lexdora-contract.png", full_page=True)


def _model_label(page: Page) -> str:
    text = page.locator(".st-key-review_side").inner_text()
    for label in LABELS:
        if f"Model: {label.display}" in text:
            return label.id
    raise AssertionError(f"no model label shown in {text!r}")


def test_reviewer_corrects_a_clause_with_the_keyboard_and_the_export_has_it(new_page):
    page = new_page()
    log_in(page, "reviewer")
    open_page(page, "Review queue")
    clause = page.locator(".st-key-review_clause")
    expect(clause).to_be_visible()
    first_text = clause.inner_text()
    heading = page.locator(".st-key-review_clause_heading").inner_text()
    model_label = _model_label(page)
    # Pick a label other than the model's by its number key, then confirm with Enter.
    n, new = next((n, label) for n, label in enumerate(LABELS, start=1) if label.id != model_label)
    page.locator("body").press(str(n))
    expect(page.locator(f".st-key-pick_{new.id} button")).to_have_attribute("data-testid", "stBaseButton-primary")
    page.screenshot(path="/tmp/lexdora-review.png", full_page=True)
    page.locator("body").press("Enter")
    expect(clause).not_to_have_text(first_text)

    open_page(page, "Contracts")
    with page.expect_download() as download_info:
        page.locator(".st-key-export_csv button").click()
    rows = list(csv.DictReader(io.StringIO(download_info.value.path().read_text())))
    assert any(row["label"] == new.id and row["number"] in heading for row in rows), rows[:3]


def test_a_second_reviewer_does_not_receive_the_same_clause(new_page):
    first, second = new_page(), new_page()
    log_in(first, "reviewer")
    log_in(second, "reviewer2")
    open_page(first, "Review queue")
    open_page(second, "Review queue")
    one = first.locator(".st-key-review_clause")
    two = second.locator(".st-key-review_clause")
    expect(one).to_be_visible()
    expect(two).to_be_visible()
    assert one.inner_text() != two.inner_text()
