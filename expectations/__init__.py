"""Great Expectations suites for the core tables and the mapping's quarantine, kept as code."""

from expectations.suites import (
    QUARANTINE_SUITE,
    QUARANTINE_THRESHOLDS,
    REQUIRED_TABLES_BY_MODEL,
    SUITE_BUILDERS,
    build_quarantine_suite,
    build_suite,
)

__all__ = [
    "QUARANTINE_SUITE",
    "QUARANTINE_THRESHOLDS",
    "REQUIRED_TABLES_BY_MODEL",
    "SUITE_BUILDERS",
    "build_quarantine_suite",
    "build_suite",
]
