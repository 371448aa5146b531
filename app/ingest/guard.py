"""Reading a contract with a time and memory budget: one hostile or unlucky file can never stall a
batch or the app, or take the machine's memory.

    from app.ingest.guard import ingest_file_guarded, ingest_bytes_guarded
    document, clauses = ingest_file_guarded(path, timeout_s=60, memory_mb=2048)
    document, clauses = ingest_bytes_guarded(data, "upload.docx", timeout_s=60, memory_mb=2048)

Each call reads the file in a child process forked from a small server process that has the readers
already imported (multiprocessing's "forkserver": the child starts in milliseconds, and forks
nothing of the caller's threads, model or locks). The child sets an address-space limit of
`memory_mb` on top of what it started with, and a CPU-time limit; the caller waits at most
`timeout_s` and kills the child after that. Every outcome is a (Document, clauses) or an
IngestError with a one-line message:

    "<name>: reading took longer than 60 s; ..."
    "<name>: reading needed more than 2048 MB of memory; ..."

The first call in a process starts the server, which imports the readers and runs each once
(1 to 3 s); later calls cost a fork, a pickled result and a few process switches, measured on two cores
shared with a training run: about 40 ms per file at load 2, 90 to 180 ms at load 4
(tests/unit/test_ingest_guard.py::test_overhead_per_file_is_small prints it).
On platforms without fork (Windows) the child is spawned instead, and no memory limit is set.
As with any multiprocessing use, a script that calls these functions must keep its top-level
work under `if __name__ == "__main__":` (python -m app, pytest and Streamlit's launcher do).
"""
from __future__ import annotations

import math
import multiprocessing
import os
import signal
import sys
import threading
from pathlib import Path

from app.ingest.document import Clause, Document, IngestError

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MEMORY_MB = 2048
# Imported once by the fork server, so that children do not import them per file.
# "__main__" too: the server imports the caller's main script once (guarded by `if __name__ == "__main__":`,
# as multiprocessing requires), so each child need not. _guard_preload runs each reader once.
_PRELOAD = ["__main__", "app.ingest._guard_preload"]
_context = None
_context_lock = threading.Lock()


def _get_context():
    global _context
    with _context_lock:
        if _context is None:
            methods = multiprocessing.get_all_start_methods()
            if "forkserver" in methods:
                _context = multiprocessing.get_context("forkserver")
                _context.set_forkserver_preload(_PRELOAD)
            else:
                _context = multiprocessing.get_context("spawn")
        return _context


def ingest_file_guarded(path, *, timeout_s: float = DEFAULT_TIMEOUT_S, memory_mb: float = DEFAULT_MEMORY_MB,
                        max_bytes: int | None = None) -> tuple[Document, list[Clause]]:
    """ingest_path(path) in a child process with a time and memory budget; see the module docstring."""
    path = Path(path)
    return _guarded("path", (str(path), max_bytes), path.name or str(path), timeout_s, memory_mb)


def ingest_bytes_guarded(data: bytes, name: str, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                         memory_mb: float = DEFAULT_MEMORY_MB,
                         max_bytes: int | None = None) -> tuple[Document, list[Clause]]:
    """ingest_bytes(data, name) in a child process with a time and memory budget."""
    return _guarded("bytes", (data, name, max_bytes), name, timeout_s, memory_mb)


def _guarded(kind: str, args: tuple, name: str, timeout_s: float, memory_mb: float):
    ctx = _get_context()
    receiver, sender = ctx.Pipe(duplex=False)
    # The fork server's environment is the one it started with: pass the settings of now.
    env = {k: v for k, v in os.environ.items() if k.startswith("LEXDORA_")}
    child = ctx.Process(target=_child, args=(sender, kind, args, env, timeout_s, memory_mb), daemon=True,
                        name=f"lexdora-ingest-{name[:40]}")
    child.start()
    sender.close()
    outcome = None
    try:
        if not receiver.poll(timeout_s):
            raise _too_slow(name, timeout_s)
        try:
            outcome, value = receiver.recv()
        except (EOFError, OSError):  # the child died without a word: killed by a limit, crashed, or never ran
            child.join(5)
            raise _died(name, child.exitcode, timeout_s, memory_mb) from None
    finally:
        receiver.close()
        if outcome is None and child.is_alive():  # over time or failed: stop it now
            child.kill()
            child.join(5)
        # A child that answered exits by itself; multiprocessing reaps it on a later start().
    if outcome == "ok":
        return value
    if outcome == "memory":
        raise IngestError(f"{name}: reading needed more than {memory_mb:g} MB of memory; the file may be "
                          "hostile (a zip bomb or deeply nested markup) or need splitting")
    raise IngestError(value)


def _died(name: str, code: int | None, timeout_s: float, memory_mb: float) -> IngestError:
    if code is not None and code < 0:
        sig = -code
        if sig == getattr(signal, "SIGXCPU", None):
            return _too_slow(name, timeout_s)
        # Out of address space inside C code (libxml2, PDFium) ends in a signal, not a MemoryError.
        return IngestError(f"{name}: the reader was stopped by signal {sig} ({signal.Signals(sig).name}); it may "
                           f"have needed more than {memory_mb:g} MB of memory; check the file or save it again "
                           "and re-upload")
    # A positive code: the child failed before reading (e.g. the calling script lacks its
    # `if __name__ == "__main__":` guard); a problem of the installation, not of the file.
    return IngestError(f"{name}: the reading process could not run (exit code {code}); see the application's "
                       "log: the file itself was not read")


def _too_slow(name: str, timeout_s: float) -> IngestError:
    return IngestError(f"{name}: reading took longer than {timeout_s:g} s and was stopped; the file may be "
                       "hostile or damaged; save it again (or split it) and re-upload")


def _child(sender, kind: str, args: tuple, env: dict, timeout_s: float, memory_mb: float) -> None:
    for key in [k for k in os.environ if k.startswith("LEXDORA_")]:
        del os.environ[key]
    os.environ.update(env)
    from app.config import get_settings
    from app.ingest import ingest_bytes, ingest_path

    get_settings.cache_clear()
    _set_limits(timeout_s, memory_mb)
    name = args[1] if kind == "bytes" else Path(args[0]).name
    try:
        try:
            if kind == "path":
                result = ("ok", ingest_path(args[0], max_bytes=args[1]))
            else:
                result = ("ok", ingest_bytes(args[0], args[1], max_bytes=args[2]))
        except IngestError as e:
            result = ("error", str(e).replace("\n", " "))
        except MemoryError:
            result = ("memory", None)
        except RecursionError:
            result = ("error", f"{name}: this file is nested too deeply to be read; save it again and re-upload")
        except Exception as e:  # a reader bug must not look like a crash of the caller
            result = ("error", f"{name}: this file could not be read ({type(e).__name__}); "
                               "save it again and re-upload")
        sender.send(result)
    except MemoryError:
        try:
            sender.send(("memory", None))
        except MemoryError:
            pass
    finally:
        sender.close()


def _set_limits(timeout_s: float, memory_mb: float) -> None:
    try:
        import resource
    except ImportError:  # Windows: the caller's timeout still holds
        return
    cpu = math.ceil(timeout_s) + 1  # a backstop for the caller's wall-clock kill
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    if memory_mb and sys.platform.startswith("linux"):
        limit = _address_space() + int(memory_mb * 1024 * 1024)
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _address_space() -> int:
    """This process's virtual memory size now, in bytes (the budget comes on top of it)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
