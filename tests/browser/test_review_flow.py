"""End to end in headless Chromium: upload as a lawyer, review with the keyboard, export, two reviewers."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from app.taxonomy import LABELS
from tests.browser.conftest import DEMO_PASSWORDS, SCORING_TIMEOUT_S
from tests.conftest import ROOT

pytestmark = pytest.mark.browser
PASSWORDS = DEMO_PASSWORDS  # filled when the app_env fixture has run the demo command


def wait_idle(page: Page) -> None:
    """Until the script run finishes (Streamlit's toolbar shows a "Running..." image meanwhile) and the previous
    run's elements, which Streamlit keeps beside the new ones marked `data-stale` until the run is over, are gone."""
    expect(page.get_by_role("img", name="Running...")).to_have_count(0)
    expect(page.locator("[data-stale='true']")).to_have_count(0)


def live(page: Page, key: str):
    """The element with Streamlit key `key` drawn by the current run, not its stale twin from the run before
    (a rerun can begin just after wait_idle has passed). A widget's key is on its element container, which
    carries `data-stale`; a keyed container's mark is on the elements inside it."""
    return page.locator(f".st-key-{key}:not([data-stale='true']):not(:has([data-stale='true']))")


def log_in(page: Page, name: str) -> None:
    page.locator(".st-key-login_username input").fill(name)
    page.locator(".st-key-login_password input").fill(PASSWORDS[name])
    page.locator(".st-key-login_submit button").click()
    expect(page.get_by_test_id("stSidebar")).to_contain_text(f"Signed in as {name}")
    wait_idle(page)


def open_page(page: Page, nav_title: str, heading: str | None = None) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(nav_title, exact=True).click()
    expect(page.get_by_role("heading", name=heading or nav_title, level=1)).to_be_visible()
    wait_idle(page)


def test_lawyer_uploads_a_cuad_pdf_and_sees_its_clauses(new_page, tmp_path):
    page = new_page()
    log_in(page, "lawyer")
    open_page(page, "Upload", "Upload contracts")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(ROOT / "samples" / "xybernaut-sponsorship.pdf")
    page.locator(".st-key-upload_submit button").click()
    # Stored at once; the worker scores it in the background (tests/browser/test_contract_list.py follows it).
    expect(page.get_by_role("heading", name="Last upload")).to_be_visible()
    result = page.locator(".st-key-upload_results")
    expect(result).to_contain_text("queued: ")
    n = int(re.search(r"queued: (\d+) clauses", result.inner_text()).group(1))
    page.screenshot(path="/tmp/lexdora-upload.png", full_page=True)

    # Scoring a whole contract on a CPU: the list shows when the worker is done. (Its grid draws on a
    # canvas; the grid's accessible twin, a table of gridcells, carries the same text.)
    open_page(page, "Contracts")
    row = page.locator(".st-key-contract_table [role=row]").filter(has_text="xybernaut-sponsorship.pdf")
    expect(row).to_contain_text("waiting for review", timeout=SCORING_TIMEOUT_S * 1000)
    open_page(page, "Document", "Contracts")
    choose_contract(page, "xybernaut-sponsorship.pdf")
    expect(page.get_by_text(f"{n} of {n} clauses. Select a row")).to_be_visible()
    # The grid draws on a canvas: select the first clause by its row marker, then read it in full below.
    grid = page.locator(".st-key-clauses_table").get_by_test_id("stDataFrameResizable")
    grid.click(position={"x": 15, "y": 35 + 17})
    expect(page.locator(".st-key-clause_detail .label-badge")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Page \d+ of \d+$"))).to_be_visible()   # the PDF page it is on
    page.screenshot(path="/tmp/lexdora-contract.png", full_page=True)
    wait_idle(page)  # selecting a row reruns the page; a click during the rerun hits a button being replaced

    download = download_excel(page)
    assert download.suggested_filename == "xybernaut-sponsorship-report.xlsx"
    download.save_as(tmp_path / download.suggested_filename)
    workbook = openpyxl.load_workbook(tmp_path / download.suggested_filename)
    assert workbook["Summary"]["B1"].value == "xybernaut-sponsorship.pdf"
    assert workbook["Clauses"].max_row == n + 1  # a header, then one row per clause


def download_excel(page: Page, tries: int = 3):
    """The Excel report's download. A click that lands while the page is still rerunning (the row selection
    reruns it, and wait_idle can pass before that rerun has begun) hits a button being replaced and
    starts nothing, so the click is made again, at most `tries` times."""
    for attempt in range(tries):
        wait_idle(page)
        try:
            with page.expect_download(timeout=20_000) as download_info:
                page.locator(".st-key-export_excel").get_by_role("button").click()
            return download_info.value
        except PlaywrightTimeoutError:
            if attempt == tries - 1:
                raise


def _model_label(page: Page) -> str:
    side = page.locator(".st-key-review_side")
    expect(side).to_contain_text("Model: ")
    text = side.inner_text()
    for label in LABELS:
        if f"Model: {label.display} ·" in text:
            return label.id
    raise AssertionError(f"no model label shown in {text!r}")


def pick_button(page: Page, label_id: str):
    # get_by_role skips the hidden twin Streamlit renders for a button with a tooltip.
    return page.locator(f".st-key-pick_{label_id}").get_by_role("button")


def choose_contract(page: Page, filename: str) -> None:
    page.locator(".st-key-contract_id").get_by_role("combobox").click()
    option = page.get_by_role("option").filter(has_text=filename)
    n = int(re.search(r"(\d+) clauses", option.inner_text()).group(1))
    option.click()
    # The rerun may not have started when the click returns: wait for this contract's own clause count.
    expect(page.get_by_text(f"{n} of {n} clauses. Select a row")).to_be_visible()
    wait_idle(page)
    expect(page.locator(".st-key-contract_id").get_by_role("combobox")).to_have_value(
        re.compile(re.escape(filename)))


def test_reviewer_corrects_a_clause_with_the_keyboard_and_the_export_has_it(new_page):
    page = new_page()
    log_in(page, "reviewer")
    expect(page.get_by_role("heading", name="Review queue", level=1)).to_be_visible()
    # Keys act once the buttons are drawn: on a fresh page Streamlit loads their code after drawing the text.
    expect(live(page, "review_confirm").get_by_role("button")).to_be_visible()
    clause = live(page, "review_clause")
    shown = clause.inner_text()
    filename = page.locator(".st-key-review_source").first.inner_text().split(" · ")[0]
    model_label = _model_label(page)
    # Pick a label other than the model's by its number key, then confirm with Enter.
    n, new = next((n, label) for n, label in enumerate(LABELS, start=1) if label.id != model_label)
    page.keyboard.press(str(n))
    # During a rerun the last clause's buttons can still be beside the new ones: one of them is chosen.
    expect(page.locator(f".st-key-pick_{new.id} [data-testid=stBaseButton-primary]").first).to_be_visible()
    expect(page.locator(".st-key-review_side").filter(has_text=f"your label: {new.display}").first).to_be_visible()
    page.screenshot(path="/tmp/lexdora-review.png", full_page=True)
    page.keyboard.press("Enter")
    expect(clause).not_to_have_text(shown, use_inner_text=True)  # the next clause is there without any click

    open_page(page, "Document", "Contracts")
    choose_contract(page, filename)
    with page.expect_download() as download_info:
        page.locator(".st-key-export_csv").get_by_role("button").click()
    rows = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text(encoding="utf-8-sig"))))
    # The page lays the clause out (line breaks of the PDF become spaces): compare words, not whitespace.
    corrected = [r for r in rows if r["label_source"] == "review" and " ".join(r["text"].split()) in " ".join(shown.split())]
    assert [(r["label"], r["previous_label"], r["reviewed_by"]) for r in corrected] == [
        (new.id, model_label, "reviewer")]


def test_a_second_reviewer_does_not_receive_the_same_clause(new_page):
    first, second = new_page(), new_page()
    log_in(first, "reviewer")
    log_in(second, "reviewer2")
    one = first.locator(".st-key-review_clause")
    two = second.locator(".st-key-review_clause")
    expect(one).to_be_visible()
    expect(two).to_be_visible()
    assert one.inner_text() != two.inner_text()
