"""What a client's report says, read from its published snapshot and nothing else.

The snapshot (forgeline/publish.py) is the client's own file: the report never opens the warehouse, another
client's snapshot or the program store, and every mart row is filtered on the client's id besides. The
client-level roll-ups are the pooled benchmarks' own (forgeline/program/benchmarks.py ``METRICS``: OEE and
its factors weighted by time and counts, never a mean of machine-days), evaluated on the period through
views of the snapshot's marts; a figure the data cannot support is ``None`` ("not measured"), never 0 or
100 %.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd

from forgeline.program.benchmarks import METRICS, REJECTS_RECORDED
from forgeline.reports.period import Period, last_full_month, month, period_before

# The dated marts and their date column: what a period filters.
DATED_MARTS = {
    "oee_daily": "production_date",
    "defect_rate_daily": "production_date",
    "energy_daily": "reading_date",
}
DEFAULT_TIMEZONE = "Asia/Seoul"  # as publish and the app take it for a client that names none
OEE_PARTS = ("oee", "availability", "performance", "quality")
DAILY_COLUMNS = ["day", *OEE_PARTS, "defect_rate", "energy_kwh", "co2_kg"]


class NoDataInPeriod(LookupError):
    """The snapshot holds no day of data in the period; ``span`` is what it covers (None: no dated data at
    all, and ``period`` None when none was asked for)."""

    def __init__(self, period: Period | None, span: tuple[date, date] | None) -> None:
        super().__init__(str(period))
        self.period = period
        self.span = span


@dataclass(frozen=True)
class Finding:
    """One finding or recommendation a consultant delivered, with its evidence, in the report's language.

    ``body``: Markdown as written in the app (printed plainly). ``evidence``: what each piece shows;
    ``figures``: the figures it rests on, (name, value) already formatted. ``chart``: optional, a frame of
    ``day`` and one series per further column, in ``chart_unit`` ("share": drawn in %).
    """

    title: str
    body: str
    kind: Literal["finding", "recommendation"] = "finding"
    evidence: str = ""
    figures: tuple[tuple[str, str], ...] = ()
    chart: pd.DataFrame | None = None
    chart_title: str = ""
    chart_unit: str = ""


@dataclass(frozen=True)
class Kpi:
    key: str  # a benchmarks METRICS name, or energy_kwh / co2_kg
    value: float | None  # None: not measured
    unit: str  # "share" or a unit of measure
    whole_history: bool = False  # from every delivered day, not only the period's (the mart has no dates)


@dataclass(frozen=True)
class DataQuality:
    checks: int
    failed: list[dict[str, Any]]  # table, check, column, observed: turned into words by the renderers
    gate_passed: bool | None
    files_loaded: int
    rows_loaded: int
    files_refused: list[str]  # the client's own file names
    unreadable: list[dict[str, Any]]  # the client's own source and column, cells, problem kind


@dataclass
class ReportContent:
    client_id: str
    client_name: str
    industry: str
    process: str
    timezone: str
    period: Period
    span: tuple[date, date]  # the first and last day of data in the snapshot
    published_at: Any  # when the figures' run finished
    figures_held_back: bool  # the newest delivery failed the gate: the figures are an earlier run's
    kpis: list[Kpi]
    daily: pd.DataFrame  # one row per day of the period (days without data: NaN)
    machines: pd.DataFrame  # per machine: the period's roll-ups
    tables: dict[str, pd.DataFrame]  # the period's rows of each mart (and the undated marts whole)
    level: dict[str, Any] | None
    evidence: pd.DataFrame
    recommendations: pd.DataFrame
    models: pd.DataFrame
    quality: DataQuality
    findings: list[Finding] = field(default_factory=list)

    @property
    def days_with_data(self) -> int:
        """Days of the period with any daily figure."""
        return int(self.daily.drop(columns="day").notna().any(axis=1).sum())

    def kpi(self, key: str) -> Kpi | None:
        return next((k for k in self.kpis if k.key == key), None)


def read_content(
    snapshot: Path, client_id: str, period: Period | None, findings: list[Finding]
) -> ReportContent:
    """The report's content for ``period`` (None: the last full month of data) from ``snapshot``."""
    with figures(snapshot, client_id) as found:
        con, tables, recorded = found.con, found.tables, found.rejects_recorded
        run = con.execute("SELECT * FROM snap.meta.run").df().iloc[0].to_dict()
        span = _span(con, client_id, tables)
        if span is None:
            raise NoDataInPeriod(period, None)
        if period is None:
            period = _default_period(con, tables, span)
        figured = found.period(period)
        if not figured.has_data:
            raise NoDataInPeriod(period, span)
        kpis, daily, machines = figured.kpis, figured.daily, figured.machines
        _window(con, period.start, period.end)
        period_tables = {
            name: con.execute(f"SELECT * EXCLUDE (client_id) FROM marts.{name}").df()
            for name in [*DATED_MARTS, "defect_pareto", "maintenance_kpis"]
            if name in tables["marts"]
        }
        if "oee_daily" in period_tables:
            period_tables["oee_daily"] = _oee_rows(period_tables["oee_daily"], recorded)
        meta = {
            name: con.execute(f"SELECT * FROM snap.meta.{name}").df()
            if name in tables["meta"]
            else pd.DataFrame()
            for name in (
                "level",
                "level_evidence",
                "recommendations",
                "model_results",
                "gate_results",
                "load_batches",
                "rejected_files",
                "mapping_problems",
            )
        }
    held_back = str(run.get("status")) == "gate_failed"
    return ReportContent(
        client_id=client_id,
        client_name=str(run.get("client_name") or client_id),
        industry=_text(run.get("industry")),
        process=_text(run.get("process")),
        timezone=_text(run.get("timezone")) or DEFAULT_TIMEZONE,
        period=period,
        span=span,
        published_at=run.get("data_finished_at") if held_back else run.get("finished_at"),
        figures_held_back=held_back,
        kpis=kpis,
        daily=daily,
        machines=machines,
        tables=period_tables,
        level=meta["level"].iloc[0].to_dict() if len(meta["level"]) else None,
        evidence=meta["level_evidence"].sort_values("level", kind="stable")
        if len(meta["level_evidence"])
        else meta["level_evidence"],
        recommendations=meta["recommendations"],
        models=meta["model_results"],
        quality=_quality(meta, run),
        findings=findings,
    )


@dataclass(frozen=True)
class PeriodFigures:
    """A period's KPIs as the report computes them, without the rest of the report (what the app's pages
    compare): ``kpis`` rolled up over the period, ``daily`` one row per day (a day without data: NaN, a
    gap), ``machines`` per machine. ``has_data``: any dated row in the period at all."""

    period: Period
    kpis: list[Kpi]
    daily: pd.DataFrame
    machines: pd.DataFrame
    has_data: bool

    def kpi(self, key: str) -> Kpi | None:
        return next((k for k in self.kpis if k.key == key), None)


def period_figures(snapshot: Path, client_id: str, period: Period, daily: bool = True) -> PeriodFigures:
    """The client's KPIs for ``period`` from ``snapshot``, by the same roll-ups as its report (``daily``
    False skips the day-by-day rows, which cost a query set per day)."""
    with figures(snapshot, client_id) as found:
        return found.period(period, daily)


def default_periods(snapshot: Path, client_id: str) -> tuple[Period, Period] | None:
    """The period a report or a landing page shows by default (the last full month of data, else the
    latest month with data) and the month before it; None when the snapshot holds no dated figures."""
    con = duckdb.connect()
    try:
        con.execute("ATTACH ? AS snap (READ_ONLY)", [str(snapshot)])
        tables = _tables(con)
        span = _span(con, client_id, tables)
        if span is None:
            return None
        _period_views(con, client_id, tables)
        current = _default_period(con, tables, span)
    finally:
        con.close()
    return current, period_before(current)


def _default_period(
    con: duckdb.DuckDBPyConnection, tables: dict[str, set[str]], span: tuple[date, date]
) -> Period:
    period = last_full_month(*span)
    _window(con, period.start, period.end)
    if not _has_rows(con, tables):  # data with a hole there: the latest month it has data in
        period = month(span[1].year, span[1].month)
    return period


def data_span(snapshot: Path, client_id: str) -> tuple[date, date] | None:
    """The first and last day of the client's dated figures in the snapshot (None: none)."""
    con = duckdb.connect()
    try:
        con.execute("ATTACH ? AS snap (READ_ONLY)", [str(snapshot)])
        return _span(con, client_id, _tables(con))
    finally:
        con.close()


def data_months(snapshot: Path, client_id: str) -> list[date]:
    """The first day of each month the client's dated figures have any day in, newest first."""
    con = duckdb.connect()
    try:
        con.execute("ATTACH ? AS snap (READ_ONLY)", [str(snapshot)])
        parts = [
            f"SELECT {column} AS d FROM snap.marts.{name} WHERE client_id = $client"
            for name, column in DATED_MARTS.items()
            if name in _tables(con)["marts"]
        ]
        if not parts:
            return []
        dated = " UNION ALL ".join(parts)
        rows = con.execute(
            f"SELECT DISTINCT date_trunc('month', d)::DATE FROM ({dated}) ORDER BY 1 DESC",
            {"client": client_id},
        ).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def snapshot_timezone(snapshot: Path) -> str:
    """The client's time zone as its snapshot's run states it (Asia/Seoul when it names none)."""
    con = duckdb.connect()
    try:
        con.execute("ATTACH ? AS snap (READ_ONLY)", [str(snapshot)])
        if "run" not in _tables(con)["meta"]:
            return DEFAULT_TIMEZONE
        run = con.execute("SELECT * FROM snap.meta.run").df()
    finally:
        con.close()
    zone = _text(run["timezone"].iloc[0]) if "timezone" in run and len(run) else ""
    return zone or DEFAULT_TIMEZONE


def _text(value: Any) -> str:
    return "" if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)) else str(value)


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    rows = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'snap'"
    ).fetchall()
    found: dict[str, set[str]] = {"marts": set(), "meta": set()}
    for schema, table in rows:
        found.setdefault(schema, set()).add(table)
    return found


def _span(
    con: duckdb.DuckDBPyConnection, client_id: str, tables: dict[str, set[str]]
) -> tuple[date, date] | None:
    parts = [
        f"SELECT {column} AS d FROM snap.marts.{name} WHERE client_id = $client"
        for name, column in DATED_MARTS.items()
        if name in tables["marts"]
    ]
    if not parts:
        return None
    low, high = con.execute(
        f"SELECT min(d), max(d) FROM ({' UNION ALL '.join(parts)})", {"client": client_id}
    ).fetchone()
    return (low, high) if low is not None else None


def _period_views(con: duckdb.DuckDBPyConnection, client_id: str, tables: dict[str, set[str]]) -> None:
    """``marts.<name>``: the snapshot's mart, only the client's rows, dated marts only inside the window the
    variables ``report_start``/``report_end`` set, and one machine if ``report_machine`` names one; so the
    benchmarks' own SQL (which reads ``marts.<name>``) rolls up exactly the period."""
    con.execute("CREATE SCHEMA marts")
    con.execute("SET VARIABLE report_machine = NULL")
    literal = "'" + client_id.replace("'", "''") + "'"  # a checked id: lower-case letters, digits, hyphens
    for name in tables["marts"]:
        where = [f"client_id = {literal}"]
        if name in DATED_MARTS:
            column = DATED_MARTS[name]
            where.append(f"{column} BETWEEN getvariable('report_start') AND getvariable('report_end')")
        if name in ("oee_daily", "defect_rate_daily"):
            where.append(
                "(getvariable('report_machine') IS NULL OR machine_id = getvariable('report_machine'))"
            )
        con.execute(
            f"CREATE VIEW marts.{name} AS SELECT * FROM snap.marts.{name} WHERE {' AND '.join(where)}"
        )


def _window(con: duckdb.DuckDBPyConnection, start: date, end: date, machine: str | None = None) -> None:
    con.execute("SET VARIABLE report_start = ?::DATE", [start])
    con.execute("SET VARIABLE report_end = ?::DATE", [end])
    con.execute("SET VARIABLE report_machine = ?::VARCHAR", [machine])


def _has_rows(con: duckdb.DuckDBPyConnection, tables: dict[str, set[str]]) -> bool:
    return any(
        con.execute(f"SELECT count(*) FROM marts.{name}").fetchone()[0]
        for name in DATED_MARTS
        if name in tables["marts"]
    )


def _value(con: duckdb.DuckDBPyConnection, name: str, tables: dict[str, set[str]]) -> float | None:
    metric = METRICS[name]
    if not set(metric.tables) <= tables["marts"]:
        return None
    row = con.execute(metric.sql).fetchone()
    return float(row[0]) if row and row[0] is not None and math.isfinite(float(row[0])) else None


def _oee_rows(rows: pd.DataFrame, recorded: bool) -> pd.DataFrame:
    """The period's OEE rows by day, then machine; quality and OEE blank for a client that records no
    reject (not measured, as the key figures say), never the 100 % its counts would read."""
    rows = rows.sort_values([c for c in ("production_date", "machine_id") if c in rows], kind="stable")
    if not recorded:
        rows = rows.assign(**{c: float("nan") for c in ("quality", "oee") if c in rows})
    return rows.reset_index(drop=True)


def _rejects_recorded(con: duckdb.DuckDBPyConnection, tables: dict[str, set[str]]) -> bool:
    """Whether the client records rejects at all: the benchmarks' rule (``REJECTS_RECORDED``) over all its
    data (the window opened to every day, every machine, then put back as the caller had set it: a period's
    figures computed after this call are the period's, not the whole history's)."""
    if "oee_daily" not in tables["marts"]:
        return False
    saved = con.execute(
        "SELECT getvariable('report_start'), getvariable('report_end'), getvariable('report_machine')"
    ).fetchone()
    _window(con, date.min, date.max)
    try:
        return bool(con.execute(f"SELECT {REJECTS_RECORDED}").fetchone()[0])
    finally:
        if saved is not None and saved[0] is not None:
            _window(con, saved[0], saved[1], saved[2])


def _oee_parts(
    con: duckdb.DuckDBPyConnection, tables: dict[str, set[str]], recorded: bool
) -> dict[str, float | None]:
    """OEE and its factors for the current window, by the benchmarks' rules. The rule's test that rejects are
    recorded looks at the window only; a plant that records them elsewhere and made no reject in this window
    had a quality of 100 % here, which is measured, not assumed."""
    values = {name: _value(con, name, tables) for name in OEE_PARTS}
    if values["quality"] is None and recorded:
        counted = con.execute(
            "SELECT sum(total_count) FROM marts.oee_daily WHERE planned_time_s > 0"
        ).fetchone()[0]
        if counted:
            values["quality"] = 1.0
            if values["availability"] is not None and values["performance"] is not None:
                values["oee"] = values["availability"] * values["performance"]
    return values


def _kpis(con: duckdb.DuckDBPyConnection, tables: dict[str, set[str]], recorded: bool) -> list[Kpi]:
    parts = _oee_parts(con, tables, recorded) if "oee_daily" in tables["marts"] else dict.fromkeys(OEE_PARTS)
    kpis = [Kpi(name, parts[name], "share") for name in OEE_PARTS]
    kpis.append(Kpi("defect_rate", _value(con, "defect_rate", tables), "share"))
    energy = co2 = None
    if "energy_daily" in tables["marts"]:
        energy, co2 = con.execute("SELECT sum(energy_kwh), sum(co2_kg) FROM marts.energy_daily").fetchone()
    kpis += [
        Kpi("energy_kwh", None if energy is None else float(energy), "kWh"),
        Kpi("kwh_per_unit", _value(con, "kwh_per_unit", tables), "kWh"),
        Kpi("co2_kg", None if co2 is None else float(co2), "kg"),
        # Maintenance KPIs come per machine over all delivered data (the mart has no dates).
        Kpi("mtbf_h", _value(con, "mtbf_h", tables), "h", whole_history=True),
        Kpi("mttr_h", _value(con, "mttr_h", tables), "h", whole_history=True),
    ]
    return kpis


def _daily(
    con: duckdb.DuckDBPyConnection, period: Period, tables: dict[str, set[str]], recorded: bool
) -> pd.DataFrame:
    """One row per day of the period: the day's roll-ups (NaN on a day without data: a gap, never a zero)."""
    days = pd.DataFrame({"day": pd.to_datetime(period.days)})
    columns = {name: [] for name in (*OEE_PARTS, "defect_rate")}
    dated = [d for d in period.days if _day_has_data(con, d, tables)]
    for d in dated:
        _window(con, d, d)
        parts = (
            _oee_parts(con, tables, recorded) if "oee_daily" in tables["marts"] else dict.fromkeys(OEE_PARTS)
        )
        for name in OEE_PARTS:
            columns[name].append(parts[name])
        columns["defect_rate"].append(_value(con, "defect_rate", tables))
    found = (
        pd.DataFrame({"day": pd.to_datetime(dated), **columns})
        if dated
        else pd.DataFrame(columns=["day", *columns])
    )
    _window(con, period.start, period.end)
    if "energy_daily" in tables["marts"]:
        energy = con.execute(
            "SELECT reading_date AS day, sum(energy_kwh) AS energy_kwh, sum(co2_kg) AS co2_kg "
            "FROM marts.energy_daily GROUP BY reading_date"
        ).df()
        energy["day"] = pd.to_datetime(energy["day"])
        found = found.merge(energy, on="day", how="outer") if len(found) else energy
    merged = days.merge(found, on="day", how="left").reindex(columns=DAILY_COLUMNS)
    return merged.astype({c: "float64" for c in DAILY_COLUMNS[1:]})


def _day_has_data(con: duckdb.DuckDBPyConnection, day: date, tables: dict[str, set[str]]) -> bool:
    _window(con, day, day)
    return any(
        con.execute(f"SELECT count(*) FROM marts.{name}").fetchone()[0]
        for name in ("oee_daily", "defect_rate_daily")
        if name in tables["marts"]
    )


def _machines(con: duckdb.DuckDBPyConnection, tables: dict[str, set[str]], recorded: bool) -> pd.DataFrame:
    """Per machine, the period's OEE roll-ups and its time and counts."""
    if "oee_daily" not in tables["marts"]:
        return pd.DataFrame()
    listed = con.execute(
        "SELECT machine_id, any_value(machine_name) AS machine_name, count(*) AS days, "
        "sum(planned_time_s) / 3600 AS planned_h, sum(run_time_s) / 3600 AS run_h, "
        "sum(total_count) AS total_count, sum(good_count) AS good_count "
        "FROM marts.oee_daily GROUP BY machine_id ORDER BY machine_id"
    ).df()
    start, end = con.execute("SELECT getvariable('report_start'), getvariable('report_end')").fetchone()
    rows = []
    for machine in listed["machine_id"]:
        _window(con, start, end, machine)
        rows.append(_oee_parts(con, tables, recorded))
    _window(con, start, end)
    return pd.concat([listed, pd.DataFrame(rows, columns=list(OEE_PARTS), dtype="float64")], axis=1)


def _quality(meta: dict[str, pd.DataFrame], run: dict[str, Any]) -> DataQuality:
    gate = meta["gate_results"]
    failed = (
        gate[~gate["success"].astype(bool)][
            ["table_name", "expectation_type", "column_name", "observed"]
        ].to_dict("records")
        if len(gate)
        else []
    )
    batches = meta["load_batches"]
    if len(batches) and "status" in batches:
        batches = batches[batches["status"].fillna("loaded") == "loaded"]
    refused = meta["rejected_files"]
    problems = meta["mapping_problems"]
    passed = run.get("gate_passed")
    return DataQuality(
        checks=len(gate),
        failed=failed,
        gate_passed=None if passed is None or pd.isna(passed) else bool(passed),
        files_loaded=int(batches["source_file"].nunique()) if len(batches) else 0,
        rows_loaded=int(batches["rows"].sum()) if len(batches) else 0,
        files_refused=sorted({Path(str(f)).name for f in refused["source_file"]}) if len(refused) else [],
        unreadable=problems[["source_name", "column_name", "cells", "problem"]].to_dict("records")
        if len(problems)
        else [],
    )


# -- the KPI roll-ups of any window: one owner for the report and the workbench's evidence --------------
# Figures that are plain totals of a mart (no rate to weigh): the mart and the sum.
TOTALS = {
    "good_units": ("oee_daily", "sum(good_count)"),
    "energy_kwh": ("energy_daily", "sum(energy_kwh)"),
    "co2_kg": ("energy_daily", "sum(co2_kg)"),
}


class Figures:
    """A client's rows of its published snapshot, rolled up for any window (days, optionally one machine) by
    the report's own rules: OEE and its factors, defect rate and energy per unit by the benchmarks'
    ``METRICS`` (quality and OEE only where rejects are recorded), totals from :data:`TOTALS`. The one way
    in to a client's figures: the report (:func:`read_content`), the portal's period pages
    (:func:`period_figures`) and the consultants' KPI evidence (forgeline/program/findings.py) all read it,
    so no page or finding shows a figure the report calls not measured, or another value of it."""

    def __init__(self, snapshot: Path, client_id: str) -> None:
        self.con = duckdb.connect()
        try:
            self.con.execute("ATTACH ? AS snap (READ_ONLY)", [str(snapshot)])
            self.tables = _tables(self.con)
            _period_views(self.con, client_id, self.tables)
            self.rejects_recorded = _rejects_recorded(self.con, self.tables)
        except BaseException:
            self.con.close()
            raise

    def close(self) -> None:
        self.con.close()

    def period(self, period: Period, daily: bool = True) -> PeriodFigures:
        """The KPIs rolled up over ``period``, day by day (unless ``daily`` is False: a query set per day)
        and per machine: what a report's key figures and the portal's KPI pages show."""
        con, tables, recorded = self.con, self.tables, self.rejects_recorded
        _window(con, period.start, period.end)
        if not _has_rows(con, tables):
            empty = pd.DataFrame({"day": pd.to_datetime(period.days)}).reindex(columns=DAILY_COLUMNS)
            # Nothing dated in the period; the undated maintenance figures stand for every period.
            kpis = [k if k.whole_history else Kpi(k.key, None, k.unit) for k in _kpis(con, tables, False)]
            return PeriodFigures(period, kpis, empty, pd.DataFrame(), False)
        kpis = _kpis(con, tables, recorded)
        days = _daily(con, period, tables, recorded) if daily else pd.DataFrame(columns=DAILY_COLUMNS)
        machines = _machines(con, tables, recorded)
        return PeriodFigures(period, kpis, days, machines, True)

    def mart(self, key: str) -> str:
        """The mart a figure reads."""
        return (
            TOTALS[key][0] if key in TOTALS else "oee_daily" if key in OEE_PARTS else METRICS[key].tables[0]
        )

    def measured(self, key: str) -> bool:
        """Whether the client's data can support the figure at all (its mart, and recorded rejects for
        quality and OEE)."""
        if self.mart(key) not in self.tables["marts"]:
            return False
        return self.rejects_recorded or key not in ("oee", "quality")

    def value(self, key: str, start: date, end: date, machine: str | None = None) -> float | None:
        """The figure over ``start``..``end`` (both in), of one machine if named; None: not measured."""
        if not self.measured(key):
            return None
        _window(self.con, start, end, machine)
        if key in OEE_PARTS:
            return _oee_parts(self.con, self.tables, self.rejects_recorded)[key]
        if key in TOTALS:
            row = self.con.execute(f"SELECT {TOTALS[key][1]} FROM marts.{TOTALS[key][0]}").fetchone()
            return None if row is None or row[0] is None else float(row[0])
        return _value(self.con, key, self.tables)

    def days(self, key: str, start: date, end: date, machine: str | None = None) -> pd.DataFrame:
        """One row per day of ``start``..``end`` with rows in the figure's mart: ``day``, ``value`` (NaN on a
        day whose data cannot support it)."""
        rows = []
        if self.measured(key):
            mart = self.mart(key)
            _window(self.con, start, end, machine)
            dated = [
                r[0]
                for r in self.con.execute(
                    f"SELECT DISTINCT {DATED_MARTS[mart]}::DATE FROM marts.{mart} ORDER BY 1"
                ).fetchall()
            ]
            rows = [(d, self.value(key, d, d, machine)) for d in dated]
        frame = pd.DataFrame(rows, columns=["day", "value"])
        return frame.astype({"value": "float64"})

    def span(self, key: str, machine: str | None = None) -> tuple[date, date] | None:
        """The first and last day of the figure's mart (of one machine if named)."""
        mart = self.mart(key)
        if mart not in self.tables["marts"]:
            return None
        _window(self.con, date.min, date.max, machine)
        low, high = self.con.execute(
            f"SELECT min({DATED_MARTS[mart]})::DATE, max({DATED_MARTS[mart]})::DATE FROM marts.{mart}"
        ).fetchone()
        return (low, high) if low is not None else None

    def machines(self, key: str) -> list[str]:
        """The machines the figure's mart names (none for a mart metered per site)."""
        mart = self.mart(key)
        if mart not in self.tables["marts"] or mart not in ("oee_daily", "defect_rate_daily"):
            return []
        _window(self.con, date.min, date.max)
        return [
            r[0]
            for r in self.con.execute(f"SELECT DISTINCT machine_id FROM marts.{mart} ORDER BY 1").fetchall()
        ]


@contextmanager
def figures(snapshot: Path, client_id: str) -> Iterator[Figures]:
    """:class:`Figures` of the client's snapshot, closed on leaving."""
    found = Figures(snapshot, client_id)
    try:
        yield found
    finally:
        found.close()
