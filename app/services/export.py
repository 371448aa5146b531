"""Exports: reviewed clauses for retraining, labels as CSV/JSONL, a contract as an Excel report."""
from __future__ import annotations

import csv
import io
import json
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.safe_csv import CSV_ENCODING, neutralise_row
from app.db.models import Clause, Contract, Review
from app.roles import DECISION_NAMES, ContractStatus, status_name
from app.services.contracts import contract_detail
from app.services.errors import InvalidInput
from app.services.uow import UnitOfWork, actor, audit, begin, find_contract
from app.taxonomy import BY_ID, LABEL_IDS
from app.views import clause_infos, effective_reviews, load_clauses


def reviewed_clauses(*, actor_id: int | None = None, uow: UnitOfWork | None = None) -> list[dict]:
    """Every reviewed clause with its settled label, for retraining: clause_id, filename, sha256, text,
    label, model_label, reviewers ({name: that reviewer's latest label}), adjudicated.

    Reviews that were undone do not count (app.views.effective_reviews). The label is the latest
    adjudication's when an admin settled the clause, else the latest review's.
    actor_id: an admin; None only for local commands such as `python -m training.retrain`.
    """
    with begin(uow) as uow:
        if actor_id is not None:
            actor(uow.session, actor_id, "manage_models")
        clauses = uow.session.scalars(
            select(Clause).join(Contract, Contract.id == Clause.contract_id)
            .where(Contract.status != ContractStatus.ARCHIVED, Clause.reviews.any())
            .options(selectinload(Clause.reviews).selectinload(Review.reviewer), selectinload(Clause.contract))
            .order_by(Clause.id)).all()
        out = []
        for clause in clauses:
            in_force = effective_reviews(clause.reviews)
            if not in_force:
                continue
            adjudications = [r for r in in_force if r.kind == "adjudication"]
            settled = adjudications[-1] if adjudications else in_force[-1]
            out.append({"clause_id": clause.id, "filename": clause.contract.filename,
                        "sha256": clause.contract.sha256, "text": clause.text, "label": settled.new_label,
                        "model_label": in_force[0].model_label,
                        # rows come oldest first: each reviewer's last one stays
                        "reviewers": {r.reviewer.name: r.new_label for r in in_force if r.kind == "review"},
                        "adjudicated": bool(adjudications)})
    return out


ExportFormat = Literal["csv", "jsonl"]
# p_<label>: the model's calibrated probability of each label, one column each (CSV and JSONL alike).
PROBABILITY_FIELDS = tuple(f"p_{label}" for label in LABEL_IDS)
EXPORT_FIELDS = ("contract_id", "filename", "sha256", "clause_id", "index", "number", "heading", "page", "text",
                 "label", "label_source", "model_label", "confidence", *PROBABILITY_FIELDS, "decision", "reason",
                 "model_version", "reviewed_by", "reviewed_at", "previous_label", "comment")


def export_labels(user_id: int, fmt: ExportFormat = "csv", *, contract_id: int | None = None,
                  uow: UnitOfWork | None = None) -> bytes:
    """Every clause's current label (latest correction, else the model's) as CSV or JSONL bytes."""
    if fmt not in ("csv", "jsonl"):
        raise InvalidInput(f"Unknown export format {fmt!r}; choose csv or jsonl.")
    with begin(uow) as uow:
        actor(uow.session, user_id, "export")
        rows = _export_rows(uow.session, contract_id)
        audit(uow.session, user_id, "export", "contract" if contract_id else "labels", contract_id,
               format=fmt, rows=len(rows))
        uow.commit()
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows).encode()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    writer.writerows(map(neutralise_row, rows))  # no formula injection when opened in a spreadsheet
    return out.getvalue().encode(CSV_ENCODING)


def _export_rows(session: Session, contract_id: int | None) -> list[dict]:
    if contract_id is not None:
        find_contract(session, contract_id)
        contracts = {contract_id: session.get(Contract, contract_id)}
    else:
        contracts = {c.id: c for c in session.scalars(select(Contract).where(Contract.status != ContractStatus.ARCHIVED))}
    clauses = load_clauses(session, Clause.contract_id.in_(list(contracts)))
    rows = []
    for info in clause_infos(session, clauses):
        contract, review = contracts[info.contract_id], info.latest_review
        rows.append({
            "contract_id": contract.id, "filename": contract.filename, "sha256": contract.sha256,
            "clause_id": info.id, "index": info.index, "number": info.number, "heading": info.heading,
            "page": info.page, "text": info.text, "label": info.label,
            "label_source": "review" if review else "model", "model_label": info.model_label,
            "confidence": round(info.confidence, 4), **_probability_columns(info.probs),
            "decision": info.decision, "reason": info.reason,
            "model_version": info.model_version, "reviewed_by": review.reviewer if review else None,
            "reviewed_at": review.created_at.isoformat() if review else None,
            "previous_label": review.previous_label if review else None, "comment": review.comment if review else None,
        })
    return rows


def _probability_columns(probs: dict[str, float]) -> dict[str, float | None]:
    return {f"p_{label}": round(float(probs[label]), 4) if label in probs else None for label in LABEL_IDS}


def export_contract_excel(user_id: int, contract_id: int, *, uow: UnitOfWork | None = None) -> bytes:
    """An .xlsx report for one contract: a summary sheet with its exposure, and every clause coloured by label."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    with begin(uow) as uow:
        actor(uow.session, user_id, "export")
        detail = contract_detail(uow.session, contract_id)
        audit(uow.session, user_id, "export", "contract", contract_id, format="xlsx")
        uow.commit()

    def put(sheet, row: int, values: list) -> None:
        for col, value in enumerate(values, start=1):
            cell = sheet.cell(row=row, column=col, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # clause text starting with "=" must stay text, not become a formula

    c = detail.contract
    wb = Workbook()
    summary = wb.active
    summary.title = "Summary"
    for r, pair in enumerate([("Contract", c.filename), ("SHA-256", c.sha256), ("Uploaded by", c.uploaded_by),
                              ("Uploaded at (UTC)", c.uploaded_at.isoformat(timespec="seconds")),
                              ("Status", status_name(c.status)), ("Clauses", c.n_clauses),
                              ("Awaiting review", c.n_needs_review)], start=1):
        put(summary, r, list(pair))
        summary.cell(row=r, column=1).font = Font(bold=True)
    row = len(summary["A"]) + 2
    put(summary, row, ["Exposure"])
    summary.cell(row=row, column=1).font = Font(bold=True)
    for i, item in enumerate(detail.exposure, start=row + 1):
        put(summary, i, [BY_ID[item.label].display, item.line])
    summary.column_dimensions["A"].width, summary.column_dimensions["B"].width = 22, 90

    sheet = wb.create_sheet("Clauses")
    # (header, width); one probability column per label, named as the CSV names it.
    columns = [("#", 5), ("Number", 9), ("Heading", 28), ("Page", 6), ("Label", 20), ("Source", 8),
               ("Model label", 20), ("Confidence", 11), *((f, 11) for f in PROBABILITY_FIELDS), ("Decision", 14),
               ("Status", 18), ("Reason", 40), ("Reviewed by", 14), ("Comment", 30), ("Text", 100)]
    put(sheet, 1, [name for name, _ in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    label_col, text_col = 5, len(columns)
    for r, cl in enumerate(detail.clauses, start=2):
        review = cl.latest_review
        put(sheet, r, [cl.index + 1, cl.number, cl.heading, cl.page, BY_ID[cl.label].display,
                       "review" if review else "model", BY_ID[cl.model_label].display, round(cl.confidence, 3),
                       *_probability_columns(cl.probs).values(), DECISION_NAMES.get(cl.decision, cl.decision),
                       status_name(cl.status), cl.reason, review.reviewer if review else None,
                       review.comment if review else None, cl.text])
        colour = BY_ID[cl.label].colour.lstrip("#")
        sheet.cell(row=r, column=label_col).fill = PatternFill("solid", start_color=colour, end_color=colour)
        sheet.cell(row=r, column=label_col).font = Font(color="FFFFFF", bold=True)
        sheet.cell(row=r, column=text_col).alignment = Alignment(wrap_text=True, vertical="top")
    for i, (_, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
