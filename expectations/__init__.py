"""Great Expectations suites for the core tables, kept as code (one builder per table)."""

from expectations.suites import REQUIRED_TABLES_BY_MODEL, SUITE_BUILDERS, build_suite

__all__ = ["REQUIRED_TABLES_BY_MODEL", "SUITE_BUILDERS", "build_suite"]
