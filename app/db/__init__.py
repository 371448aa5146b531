"""Database: ORM models, engine and session factory, Alembic migrations."""
from app.db.models import AuditEvent, Base, Clause, Contract, LoginSession, Prediction, Review, User, utcnow
from app.db.session import make_engine, session_factory, upgrade

__all__ = ["AuditEvent", "Base", "Clause", "Contract", "LoginSession", "Prediction", "Review", "User", "make_engine",
           "session_factory", "upgrade", "utcnow"]
