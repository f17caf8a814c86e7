"""One writer per client at a time, across processes.

DuckDB lets one process write a file and no other open it meanwhile; a nightly program run and a
consultant's `forgeline ingest` or `forgeline run` for the same client would otherwise collide half way
with a lock error from deep inside DuckDB. Every command that writes a client's warehouse takes the
client's lock first and, if another run holds it, stops at once with a message that says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from filelock import FileLock, Timeout

from forgeline.settings import Settings


class ClientBusy(RuntimeError):
    """Another run is writing this client's data right now."""


@contextmanager
def client_lock(settings: Settings, client_id: str) -> Iterator[None]:
    """Hold the client's write lock for the block; raise ClientBusy if another process holds it."""
    path = settings.run_lock_path(client_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, timeout=0, thread_local=False)
    try:
        lock.acquire()
    except Timeout as exc:
        raise ClientBusy(
            f"Another run is writing {client_id}'s data right now (lock {path}). Wait for it to finish "
            "(see the Prefect UI or `forgeline clients`), then run again."
        ) from exc
    try:
        yield
    finally:
        lock.release()
