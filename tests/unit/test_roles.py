"""app.roles: one table of who may do what, read by the services and by the UI's page list."""
from __future__ import annotations

import pytest

from app.roles import (CLAUSE_STATUSES, CONTRACT_STATUSES, PERMISSIONS, ROLES, ClauseStatus, Role, denial, may,
                       status_name)


def test_roles_and_statuses_are_plain_strings_everywhere():
    assert ROLES == ("lawyer", "reviewer", "admin")
    assert CLAUSE_STATUSES == ("needs_review", "auto_accepted", "reviewed")
    assert {ClauseStatus.REVIEWED: 1}["reviewed"] == 1 and {"admin": 1}[Role.ADMIN] == 1


@pytest.mark.parametrize("permission, allowed", [
    ("upload", {"lawyer", "admin"}), ("review", {"reviewer", "admin"}), ("read", set(ROLES)),
    ("dashboard", {"admin"}), ("manage_users", {"admin"}), ("manage_models", {"admin"}),
])
def test_who_may_do_what(permission, allowed):
    assert {r for r in ROLES if may(r, permission)} == allowed


def test_the_ui_shows_a_page_only_to_roles_the_services_let_in():
    from app.ui import session

    assert {permission for *_, permission in session._PAGES} <= set(PERMISSIONS)
    dashboard = next(permission for path, *_, permission in session._PAGES if path.endswith("dashboard.py"))
    assert {r for r in ROLES if may(r, dashboard)} == {"admin"}
    assert denial("reviewer", "dashboard") == "A reviewer cannot see the dashboard."


def test_every_status_has_words_a_lawyer_reads():
    from app.ui.render import STATUS_NAMES

    assert status_name("in_review") == "waiting for review" and status_name("needs_review") == "waiting for review"
    assert status_name("auto_accepted") == "auto-accepted" and status_name("complete") == "reviewed"
    for status in (*CLAUSE_STATUSES, *CONTRACT_STATUSES):
        assert "_" not in status_name(status)
    assert STATUS_NAMES == {s: status_name(s) for s in CLAUSE_STATUSES}  # the UI's table is the same one
    assert status_name("scoring_queued") == "scoring queued"  # a status added later still reads as words
