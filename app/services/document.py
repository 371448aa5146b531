"""The document view's reads: a contract's stored text with its clause spans, and its PDF pages rendered."""
from __future__ import annotations

from sqlalchemy import select

from app.config import Settings, get_settings
from app.db.models import Clause, Contract
from app.pdf_highlight import PageClause, RenderedPage, page_count, render_page
from app.services.contracts import upload_path
from app.services.errors import NotFound
from app.services.uow import UnitOfWork, actor, begin, find_contract
from app.taxonomy import BY_ID
from app.views import ClauseSpan, ContractDocument


def get_document(user_id: int, contract_id: int, *, settings: Settings | None = None,
                 uow: UnitOfWork | None = None) -> ContractDocument:
    """A contract's stored text and where each clause sits in it (offsets, PDF pages)."""
    with begin(uow) as uow:
        actor(uow.session, user_id, "read")
        contract = find_contract(uow.session, contract_id)
        rows = uow.session.execute(select(Clause.id, Clause.start, Clause.end, Clause.page, Clause.page_end,
                                          Clause.label).where(Clause.contract_id == contract_id)
                                   .order_by(Clause.index)).all()
        spans = [ClauseSpan(*row) for row in rows]
        pages = None
        if contract.format == "pdf":
            try:
                pages = page_count(_stored_bytes(contract, settings or get_settings()))
            except NotFound:
                pages = None  # the text view still works without the original file
        return ContractDocument(contract.id, contract.filename, contract.format, contract.text, spans, pages)


def render_contract_page(user_id: int, contract_id: int, page: int, *, selected_clause_id: int | None = None,
                         settings: Settings | None = None, uow: UnitOfWork | None = None) -> RenderedPage:
    """Page `page` (1-based) of a PDF contract, its liability clauses filled in their bucket colours."""
    with begin(uow) as uow:
        actor(uow.session, user_id, "read")
        contract = find_contract(uow.session, contract_id)
        if contract.format != "pdf":
            raise NotFound(f"{contract.filename} is not a PDF; it has no pages to show.")
        data = _stored_bytes(contract, settings or get_settings())
        # A clause sits on the pages page..page_end; only those touching this page are looked for on it.
        clauses = uow.session.scalars(select(Clause).where(
            Clause.contract_id == contract_id, Clause.label != "none", Clause.page <= page,
            Clause.page_end >= page).order_by(Clause.index)).all()
        on_page = [PageClause(c.id, c.text, BY_ID[c.label].colour, starts_here=c.page == page) for c in clauses]
    return render_page(data, page, on_page, selected=selected_clause_id)


def _stored_bytes(contract: Contract, settings: Settings) -> bytes:
    """The uploaded file, kept by SHA-256 under the upload folder (app.services.contracts.store_upload)."""
    path = upload_path(settings.upload_dir, contract.sha256)
    if not path.exists():
        raise NotFound(f"The original file of {contract.filename} is no longer in the upload folder; "
                       "upload it again to see its pages.")
    return path.read_bytes()
