"""Reviewers draining the review queue at once, each thread with its own sessions, as separate
Streamlit sessions would; shared by the SQLite and PostgreSQL concurrency tests."""
from __future__ import annotations

import threading
from collections.abc import Callable

from app import services
from app.db import session_factory
from app.services import UnitOfWork
from app.views import ReviewTask


def drain_queue_concurrently(reviewer_ids: list[int], label: Callable[[ReviewTask], str], *,
                             hold_together: bool = False) -> dict[int, list[int]]:
    """Clause ids each reviewer claimed and labelled until the queue was empty. With `hold_together`
    every reviewer holds a first claim at the same moment before anyone submits, so the claims really
    race (without it one thread can, by scheduling alone, drain the whole queue). Any error in a
    reviewer's thread is raised here."""
    served: dict[int, list[int]] = {user_id: [] for user_id in reviewer_ids}
    errors: list[BaseException] = []
    all_holding = threading.Barrier(len(reviewer_ids))

    def review(user_id: int) -> None:
        try:
            mine = served[user_id]
            while task := services.claim_next_review(user_id, uow=UnitOfWork(session_factory())):
                mine.append(task.clause.id)
                if hold_together and len(mine) == 1:
                    all_holding.wait(timeout=120)
                services.submit_review(user_id, task.clause.id, label(task), uow=UnitOfWork(session_factory()))
        except BaseException as e:  # noqa: BLE001 - raised in the caller's thread below
            errors.append(e)

    threads = [threading.Thread(target=review, args=(user_id,)) for user_id in reviewer_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return served
