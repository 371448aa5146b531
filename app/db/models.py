"""ORM models: users, their log-in sessions, contracts, clauses, predictions, reviews, audit events.

Alembic owns the schema (app/db/migrations); a change here needs a new revision.
Times are naive UTC throughout, so SQLite and PostgreSQL compare them alike.
Nothing a user made is deleted: contracts are archived, reviews are appended.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, MetaData, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.roles import CLAUSE_STATUSES, CONTRACT_STATUSES, ROLES, ContractStatus  # noqa: F401  (kept for importers)


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    # Named constraints so Alembic can alter them later, on SQLite (batch mode) too.
    metadata = MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LoginSession(Base):
    """A browser's log-in, named by a random token kept in a cookie; only the token's SHA-256 is stored."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)  # logged out: the cookie no longer works


class Contract(Base):
    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(16))
    size_bytes: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=ContractStatus.IN_REVIEW.value)
    text: Mapped[str] = mapped_column(Text)  # the extracted text; clause offsets point into it
    # Share of its clauses the worker has scored (0..1); 1 for a contract scored when it was stored.
    progress: Mapped[float] = mapped_column(Float, default=1.0, server_default="1")
    error: Mapped[str | None] = mapped_column(Text)  # why scoring failed (status failed), shown as-is

    uploaded_by: Mapped[User] = relationship()
    clauses: Mapped[list[Clause]] = relationship(back_populates="contract", order_by="Clause.index")


class Clause(Base):
    __tablename__ = "clauses"
    __table_args__ = (UniqueConstraint("contract_id", "index"),
                      Index("ix_clauses_status", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    index: Mapped[int] = mapped_column(Integer)  # position in the contract, from 0
    number: Mapped[str | None] = mapped_column(String(64))
    heading: Mapped[str | None] = mapped_column(Text)  # the heading path, e.g. "12 LIABILITY > 12.3"
    text: Mapped[str] = mapped_column(Text)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    page: Mapped[int | None] = mapped_column(Integer)
    page_end: Mapped[int | None] = mapped_column(Integer)
    # Current state, kept beside the history (predictions, reviews) so the queue is one indexed query.
    status: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(16))  # latest review's label, else the model's
    # A claim is a lease: whoever holds an unexpired one is the only reviewer served this clause.
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claim_expires_at: Mapped[datetime | None] = mapped_column(DateTime)

    contract: Mapped[Contract] = relationship(back_populates="clauses")
    predictions: Mapped[list[Prediction]] = relationship(back_populates="clause", order_by="Prediction.id")
    reviews: Mapped[list[Review]] = relationship(back_populates="clause", order_by="Review.id")


class Prediction(Base):
    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(primary_key=True)
    clause_id: Mapped[int] = mapped_column(ForeignKey("clauses.id"), index=True)
    current: Mapped[bool] = mapped_column(Boolean, default=True)  # a rescoring adds a row and clears this
    model_version: Mapped[str] = mapped_column(String(128))
    probs: Mapped[dict[str, float]] = mapped_column(JSON)
    label: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float)
    decision: Mapped[str] = mapped_column(String(16))  # auto_accept | review
    rule: Mapped[str] = mapped_column(String(16))      # near_miss | below_floor | below_threshold | confident
    reason: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    clause: Mapped[Clause] = relationship(back_populates="predictions")


class Review(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    clause_id: Mapped[int] = mapped_column(ForeignKey("clauses.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    previous_label: Mapped[str] = mapped_column(String(16))
    new_label: Mapped[str] = mapped_column(String(16))
    model_label: Mapped[str] = mapped_column(String(16))  # for reviewer-vs-model agreement
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # review: a reviewer's label; undo: restores the state before that reviewer's last review;
    # adjudication: an admin settles a disagreement (what retraining takes). See app.services.review.
    kind: Mapped[str] = mapped_column(String(16), default="review", server_default="review")
    seconds: Mapped[float | None] = mapped_column(Float)  # time from showing the clause to the submit

    clause: Mapped[Clause] = relationship(back_populates="reviews")
    reviewer: Mapped[User] = relationship()


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
