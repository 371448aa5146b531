"""Background jobs on a Huey task queue: an uploaded contract is scored here, outside the browser's session.

Start the consumer with `python -m app worker` (or `huey_consumer app.worker.huey`); scripts/start.sh starts
it beside the app. The queue is settings.queue_url: a SQLite file by default, which serves one machine.
When the app and its workers outgrow one machine, point every process at a shared queue:

    pip install redis;  LEXDORA_QUEUE_URL=redis://queue-host:6379/0
    (or pip install 'psycopg[binary]';  LEXDORA_QUEUE_URL=postgresql://user:password@host/lexdora)

and the database at PostgreSQL (LEXDORA_DATABASE_URL), since workers write the scores there.
The state of every contract is in the database (app.services.background), not in the queue: a task lost
with a stopped worker is found again by resume_unfinished when a worker starts.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from huey import Huey, PostgresHuey, RedisHuey, SqliteHuey

from app import services
from app.config import get_settings

log = logging.getLogger(__name__)


class QueueConfigError(ValueError):
    """settings.queue_url names no queue Huey can use; the message lists those it can."""


def make_huey(url: str) -> Huey:
    """The Huey instance for a queue URL: sqlite:///path, redis://... or postgresql://..."""
    # results=False: nothing reads a task's return value, and kept results would pile up in the queue.
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey("lexdora", filename=str(path), results=False)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey("lexdora", url=url, results=False)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresHuey("lexdora", dsn=url, results=False)
    raise QueueConfigError(f"queue_url {url!r} is not a queue: use sqlite:///path/queue.db, "
                           "redis://host:6379/0 or postgresql://user:password@host/db")


huey = make_huey(get_settings().queue_url)


@huey.task()
def score_contract(contract_id: int) -> None:
    """Score one queued contract (a no-op when it is not queued any more: scored, archived or taken)."""
    status = services.score_queued_contract(contract_id)
    log.info("contract %s: %s", contract_id, status or "not queued, skipped")


def enqueue_scoring(contract_id: int) -> None:
    """Hand a stored contract to the worker (services.queue_contract's `enqueue`)."""
    score_contract(contract_id)


_resumed = False
_resume_lock = threading.Lock()


@huey.on_startup()
def resume_unfinished() -> None:
    """Queue again what a stopped worker left queued or half scored; once per consumer process.

    Huey calls startup hooks in each of the consumer's worker threads; the first does the work.
    """
    global _resumed
    with _resume_lock:
        if _resumed:
            return
        _resumed = True
    ids = services.resume_unfinished()
    for contract_id in ids:
        score_contract(contract_id)
    if ids:
        log.info("resumed %d unfinished contract(s): %s", len(ids), ids)


def run(workers: int = 1) -> None:
    """Run the consumer in this process until SIGINT (finish the task in hand) or SIGTERM (stop now)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Threads: the model is loaded once per process and shared (Classifier.load caches it per version).
    huey.create_consumer(workers=workers, worker_type="thread", periodic=False).run()
