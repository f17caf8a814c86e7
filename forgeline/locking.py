"""One writer per client at a time, across processes; and the one way to open a client's warehouse.

DuckDB lets one process write a file and no other open it meanwhile; a nightly program run and a
consultant's `forgeline ingest` or `forgeline run` for the same client would otherwise collide half way
with a lock error from deep inside DuckDB. Every command that writes a client's warehouse takes the
client's lock first and, if another run holds it, stops at once with a message that says so.

A program outside Forgeline (a DuckDB shell, a notebook, a BI tool) can still hold the file open.
:func:`open_warehouse` turns DuckDB's lock error into :class:`WarehouseInUse`, which names the file and
the program and says what to do. Both are :class:`ClientBusy`: temporary, try again later (the CLI exits
with 75, EX_TEMPFAIL, in one line).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
from filelock import FileLock, Timeout

from forgeline.settings import Settings


class ClientBusy(RuntimeError):
    """Another run is writing this client's data right now."""


class WarehouseInUse(ClientBusy):
    """Another program holds the client's DuckDB file open."""


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


_HOLDER = re.compile(r"held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


def open_warehouse(
    settings: Settings, client_id: str, read_only: bool = False, config: dict[str, Any] | None = None
) -> duckdb.DuckDBPyConnection:
    """Connect to the client's DuckDB file (created when writing); raise WarehouseInUse if it is held.

    DuckDB lets one process open a file for writing and then no other process at all, not even to read;
    its own error ("Could not set lock on file …") becomes a message naming the file, the program and
    its process id, and what to do.
    """
    path = settings.warehouse_path(client_id)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # The client's share of the program's memory budget and cores (settings), unless the caller says.
        chosen = {**settings.client_duckdb_config(), **(config or {})}
        return duckdb.connect(str(path), read_only=read_only, config=chosen)
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        holder = _HOLDER.search(str(exc))
        who = f"{holder['program']}, process {holder['pid']}" if holder else "DuckDB says it is locked"
        raise WarehouseInUse(
            f"{path} is open in another program ({who}); close it (a DuckDB shell, a notebook or a BI tool "
            f"holding {client_id}'s warehouse) and run again."
        ) from exc
    except duckdb.ConnectionException as exc:
        if "different configuration" not in str(exc):
            raise
        raise WarehouseInUse(
            f"{path} is already open in this process with other settings (read-only or not); close that "
            "connection first, then open it again."
        ) from exc
