"""The quick start's demo accounts and sample contracts, loaded through the services (`python -m app demo`)."""
from __future__ import annotations

from pathlib import Path

from app import services
from app.config import ROOT

# Demo accounts only: anyone reading this file knows the passwords. Real ones: `python -m app users add`.
DEMO_ACCOUNTS = (
    ("lawyer", "lawyer", "lawyer-demo-pass"),
    ("reviewer", "reviewer", "reviewer-demo-pass"),
    ("reviewer2", "reviewer", "reviewer2-demo-pass"),
    ("admin", "admin", "admin-demo-pass"),
)
SAMPLE_SUFFIXES = frozenset({".pdf", ".txt", ".docx", ".html"})


def create_demo_accounts() -> None:
    """Create the demo accounts that do not exist yet; ServiceError when one cannot be made."""
    existing = {u.name for u in services.list_users()}
    for name, role, password in DEMO_ACCOUNTS:
        if name not in existing:
            services.register_user(name, password, role)


def demo_lawyer() -> services.UserInfo:
    """The demo lawyer, who uploads the samples."""
    name, _, password = DEMO_ACCOUNTS[0]
    return services.authenticate(name, password)


def sample_paths(samples_dir: Path = ROOT / "samples") -> list[Path]:
    return sorted(p for p in samples_dir.iterdir() if p.suffix in SAMPLE_SUFFIXES)
