"""The document view against real files and a real SQLite database: the stored text and clause spans, PDF
pages rendered with the liability clauses found on them, and the contracts page driven through AppTest.

Labels are set by the test (the clause whose wording caps liability is `capped`, the others `none`): the model
is not what these tests are about.
"""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from app import services
from app.config import get_settings
from app.exposure_fields import extract_fields
from app.ingest import ingest_bytes
from app.routing import Decision
from app.scoring import ScoredClause
from app.services.contracts import upload_path
from app.taxonomy import BY_ID, LABEL_IDS
from tests.conftest import CUAD, ROOT

pytestmark = pytest.mark.integration
PDF = ROOT / "samples" / "corio-license-and-hosting.pdf"
TXT = CUAD / "contracts_txt" / "WebmdHealthCorp_20050908_S-1A_EX-10.7_1027007_EX-10.7_Content License Agreement.txt"


@pytest.fixture
def lawyer(tmp_path, monkeypatch):
    monkeypatch.setenv("LEXDORA_DATABASE_URL", f"sqlite:///{tmp_path / 'lexdora.db'}")
    monkeypatch.setenv("LEXDORA_UPLOAD_DIR", str(tmp_path / "uploads"))
    get_settings.cache_clear()
    yield services.register_user("lawyer", "correct-horse", "lawyer")
    get_settings.cache_clear()


def store(user, path: Path) -> tuple[int, str]:
    """Store `path` with its first cap clause labelled `capped`; returns the contract id and that clause's text."""
    data = path.read_bytes()
    document, clauses = ingest_bytes(data, path.name)
    cap = next(c for c in clauses if any(f.kind in ("cap_amount", "cap_basis") for f in extract_fields(c.text)))
    rows = []
    for c in clauses:
        label = "capped" if c is cap else "none"
        probs = {k: (0.91 if k == label else 0.015) for k in LABEL_IDS}
        rows.append(ScoredClause(c, probs, Decision(label, "auto_accept", "set by the test", 0.91), "test"))
    return services.store_scored_contract(user.id, path.name, data, document, rows).contract_id, cap.text


def test_the_stored_text_holds_every_clause_at_its_offsets(lawyer):
    contract_id, _ = store(lawyer, TXT)
    document = services.get_document(lawyer.id, contract_id)
    detail = services.get_contract(lawyer.id, contract_id)
    assert document.format == "txt" and document.page_count is None
    texts = {c.id: c.text for c in detail.clauses}
    assert len(document.spans) == len(texts)
    assert all(document.text[s.start:s.end] == texts[s.clause_id] for s in document.spans)


def test_a_pdf_page_is_rendered_with_the_capped_clause_filled_in_its_colour(lawyer):
    contract_id, _ = store(lawyer, PDF)
    detail = services.get_contract(lawyer.id, contract_id)
    capped = next(c for c in detail.clauses if c.label == "capped")
    document = services.get_document(lawyer.id, contract_id)
    assert document.page_count == 13  # the sample's pages, as PDFium counts them

    page = services.render_contract_page(lawyer.id, contract_id, capped.page, selected_clause_id=capped.id)
    assert set(page.boxes) == {capped.id}  # `none` clauses are not drawn
    image = Image.open(io.BytesIO(page.png)).convert("RGB")
    assert image.size == (page.width, page.height)
    # Inside a box the page is tinted towards the bucket's colour; blank paper stays white elsewhere.
    colour = tuple(int(BY_ID["capped"].colour[i:i + 2], 16) for i in (1, 3, 5))
    tinted = _mostly(image, page.boxes[capped.id])
    assert tinted != (255, 255, 255)
    assert all(abs(t - (255 + (c - 255) * 90 / 255)) < 40 for t, c in zip(tinted, colour))
    assert image.getpixel((5, 5)) == (255, 255, 255)

    other = services.render_contract_page(lawyer.id, contract_id, 1)
    assert other.boxes == {}


def _mostly(image: Image.Image, boxes) -> tuple[int, int, int]:
    """The most common colour inside the clause's boxes (paper between the letters)."""
    from collections import Counter

    seen = Counter()
    for x0, y0, x1, y1 in boxes:
        for x in range(int(x0) + 1, int(x1) - 1, 3):
            for y in range(int(y0) + 1, int(y1) - 1, 3):
                seen[image.getpixel((x, y))] += 1
    return seen.most_common(1)[0][0]


def test_without_its_original_file_a_pdf_is_shown_as_text(lawyer):
    contract_id, _ = store(lawyer, PDF)
    sha = services.get_contract(lawyer.id, contract_id).contract.sha256
    upload_path(get_settings().upload_dir, sha).unlink()
    assert services.get_document(lawyer.id, contract_id).page_count is None
    with pytest.raises(services.NotFound, match="no longer in the upload folder"):
        services.render_contract_page(lawyer.id, contract_id, 1)


def test_a_text_contract_has_no_pages_to_render(lawyer):
    contract_id, _ = store(lawyer, TXT)
    with pytest.raises(services.NotFound, match="not a PDF"):
        services.render_contract_page(lawyer.id, contract_id, 1)


def test_the_contracts_page_shows_the_selected_clause_and_its_evidence(lawyer):
    contract_id, cap_text = store(lawyer, TXT)
    detail = services.get_contract(lawyer.id, contract_id)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.session_state["user"] = lawyer
    at.session_state["contract_id"] = contract_id
    at.run()
    at.switch_page("app/ui/contracts.py").run()
    assert not at.exception, [e.value for e in at.exception]

    # A new contract opens at its worst exposure: the capped clause, marked in the document text.
    capped = next(c for c in detail.clauses if c.label == "capped")
    assert at.session_state["clause_id"] == capped.id
    html = "\n".join(m.value for m in at.markdown)
    assert html.count('class="clause-mark') == 1 and 'class="clause-mark selected" data-label="capped"' in html
    assert 'data-label="capped"' in html and "label-badge" in html
    fields = [f for f in detail.fields if f.clause_id == capped.id]
    assert {f.kind for f in fields} >= {"cap_amount"}
    assert all(f'data-field="{f.kind}"' in html for f in fields)

    # Picking the next clause shows its label instead; the capped one, close by, stays marked.
    other = next(c for c in detail.clauses if c.index == capped.index + 1)
    at.selectbox(key="clause_id").set_value(other.id).run()
    assert not at.exception
    html = "\n".join(m.value for m in at.markdown)
    assert 'class="clause-mark" data-label="capped"' in html  # still marked, no longer selected
    assert 'class="label-badge" data-label="none"' in html

    # Far from it, the text shown is the first clause's surroundings, without the capped clause.
    at.selectbox(key="clause_id").set_value(detail.clauses[0].id).run()
    shown = next(m.value for m in at.markdown if "CONTENT LICENSE AGREEMENT" in m.value)  # the document's text
    assert "Exhibit 10.7" in shown and "clause-mark" not in shown
    at.toggle(key="doc_whole").set_value(True).run()
    shown = next(m.value for m in at.markdown if "CONTENT LICENSE AGREEMENT" in m.value)
    assert 'class="clause-mark" data-label="capped"' in shown
