"""The error every part of ingest raises for a delivery it refuses."""

from __future__ import annotations


class IngestError(ValueError):
    """A delivered file that cannot be loaded; names the file, the row or column, and what to do."""
