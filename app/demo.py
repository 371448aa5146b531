"""The quick start's demo accounts and sample contracts, loaded through the services (`python -m app demo`).

The demo accounts get random passwords made on this install when they are created: shown once by
`python -m app demo`, stored only as argon2 hashes. Nobody can log in with a password read in the
code; a forgotten one is replaced with `python -m app users reset-password NAME --generate`.
"""
from __future__ import annotations

from pathlib import Path

from app import services
from app.config import ROOT

DEMO_ACCOUNTS = (("lawyer", "lawyer"), ("reviewer", "reviewer"), ("reviewer2", "reviewer"), ("admin", "admin"))
SAMPLE_SUFFIXES = frozenset({".pdf", ".txt", ".docx", ".html"})


def create_demo_accounts() -> dict[str, str]:
    """Create the demo accounts that do not exist yet, each with a new random password.

    Returns name -> password of the accounts created now (empty when all existed); the passwords are
    not kept anywhere else. ServiceError when one cannot be made.
    """
    existing = {u.name for u in services.list_users()}
    created = {}
    for name, role in DEMO_ACCOUNTS:
        if name not in existing:
            password = services.generate_password()
            services.register_user(name, password, role)
            created[name] = password
    return created


def passwords_in(output: str) -> dict[str, str]:
    """name -> password from the lines `python -m app demo` prints when it creates the accounts."""
    found = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 3 and (parts[0], parts[1]) in DEMO_ACCOUNTS:
            found[parts[0]] = parts[2]
    return found


def demo_lawyer() -> services.UserInfo:
    """The demo lawyer, who uploads the samples (found by name: the command runs locally, no log-in)."""
    return services.find_user(DEMO_ACCOUNTS[0][0])


def sample_paths(samples_dir: Path = ROOT / "samples") -> list[Path]:
    return sorted(p for p in samples_dir.iterdir() if p.suffix in SAMPLE_SUFFIXES)
