"""Read-only questions about a client's working DuckDB file (asked between pipeline stages)."""

from __future__ import annotations

from forgeline.locking import open_warehouse
from forgeline.settings import Settings


def table_row_counts(settings: Settings, client_id: str, schema: str = "core") -> dict[str, int]:
    """Rows per table of one schema in the client's warehouse; the connection is closed on return."""
    con = open_warehouse(settings, client_id, read_only=True)
    try:
        tables = [
            row[0]
            for row in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = ? ORDER BY table_name", [schema]
            ).fetchall()
        ]
        return {t: con.execute(f'SELECT count(*) FROM "{schema}"."{t}"').fetchall()[0][0] for t in tables}
    finally:
        con.close()
