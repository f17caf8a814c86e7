"""The app's one data-access module: every page reads published snapshots through these functions.

Each function takes the logged-in user and a client id and checks access (``require_client``) before any
file of that client is touched. Snapshots are immutable files, so there is no long-lived connection
(``st.cache_resource``): each query opens the current snapshot read-only and closes it at once, and a
flow's atomic switch or pruning is never blocked. Results are cached per (snapshot path, query name), so
a newly published snapshot is read as soon as ``CURRENT`` names it.

The workbench's findings (forgeline/program/findings.py) go through here too: consultants write them,
program managers read them, and a client login reads only its own delivered findings, never a draft, a
review note or the history.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from forgeline import reports
from forgeline.auth import AccessDenied, User, require_client, session_user, visible_clients
from forgeline.i18n import _
from forgeline.ingest import upload
from forgeline.program import benchmarks as pooled
from forgeline.program import cohort as cohort_figures
from forgeline.program import consent as consents
from forgeline.program import findings as findings_store
from forgeline.publish import current_snapshot
from forgeline.reports import content as report_content
from forgeline.reports.period import Period
from forgeline.settings import CLIENT_ID_PATTERN, Settings, get_settings

CACHE_TTL_S = 60

# query name -> (table it reads, SQL). The only SQL the app runs; pages ask for a query by name.
QUERIES: dict[str, tuple[str, str]] = {
    "oee_daily": (
        "marts.oee_daily",
        "SELECT machine_id, machine_name, production_date, planned_time_s, run_time_s, total_count, "
        "good_count, availability, performance, quality, oee FROM marts.oee_daily "
        "ORDER BY production_date, machine_id",
    ),
    "defect_rate_daily": (
        "marts.defect_rate_daily",
        "SELECT machine_id, production_date, inspected_count, defect_count, defect_rate "
        "FROM marts.defect_rate_daily ORDER BY production_date, machine_id",
    ),
    "defect_pareto": (
        "marts.defect_pareto",
        "SELECT defect_code, defect_name, defect_count, share, cumulative_share, pareto_rank "
        "FROM marts.defect_pareto ORDER BY pareto_rank",
    ),
    "energy_daily": (
        "marts.energy_daily",
        "SELECT site_id, reading_date, energy_kwh, good_count, kwh_per_good_unit, "
        "emission_factor_kg_per_kwh, co2_kg FROM marts.energy_daily ORDER BY reading_date, site_id",
    ),
    "maintenance_kpis": (
        "marts.maintenance_kpis",
        "SELECT machine_id, failure_count, operating_time_h, mtbf_h, mttr_h FROM marts.maintenance_kpis "
        "ORDER BY machine_id",
    ),
    "run": ("meta.run", "SELECT * FROM meta.run"),
    "gate_results": (
        "meta.gate_results",
        # Failures first: that is what a reader of the gate needs to see.
        "SELECT * FROM meta.gate_results ORDER BY success, table_name, expectation_type, column_name",
    ),
    "model_results": ("meta.model_results", "SELECT * FROM meta.model_results ORDER BY model_name"),
    "model_features": (
        "meta.model_features",
        "SELECT model_name, feature, importance, rank FROM meta.model_features ORDER BY model_name, rank",
    ),
    "operating_windows": (
        "meta.operating_windows",
        "SELECT * FROM meta.operating_windows ORDER BY model_name",
    ),
    "model_holdout_daily": (
        "meta.model_holdout_daily",
        "SELECT * FROM meta.model_holdout_daily ORDER BY model_name, day",
    ),
    "model_alarms": (
        "meta.model_alarms",
        "SELECT * FROM meta.model_alarms ORDER BY model_name, score DESC",
    ),
    "model_incidents": (
        "meta.model_incidents",
        "SELECT * FROM meta.model_incidents ORDER BY model_name, reported_at DESC",
    ),
    "model_operation_weekly": (
        "meta.model_operation_weekly",
        "SELECT * FROM meta.model_operation_weekly ORDER BY model_name, week",
    ),
    "model_scores": (
        "meta.model_scores",
        "SELECT * FROM meta.model_scores ORDER BY model_name, time DESC",
    ),
    "level": ("meta.level", "SELECT * FROM meta.level"),
    "level_evidence": ("meta.level_evidence", "SELECT * FROM meta.level_evidence ORDER BY level"),
    "level_history": ("meta.level_history", "SELECT * FROM meta.level_history ORDER BY assessed_at"),
    "recommendations": ("meta.recommendations", "SELECT * FROM meta.recommendations ORDER BY rank"),
    "table_profile": (
        "meta.table_profile",
        "SELECT schema_name, table_name, row_count FROM meta.table_profile ORDER BY schema_name, table_name",
    ),
    "load_batches": ("meta.load_batches", "SELECT * FROM meta.load_batches ORDER BY loaded_at, source_file"),
    "mapping_problems": (
        "meta.mapping_problems",
        "SELECT source_name, entity, field, column_name, problem, cells, examples FROM meta.mapping_problems "
        "ORDER BY cells DESC",
    ),
    "rejected_files": (
        "meta.rejected_files",
        "SELECT source_file, raw_table, error, rejected_at FROM meta.rejected_files ORDER BY rejected_at",
    ),
}


# What the program's pages read of every client: read together, in one visit to the snapshot. Opening a
# snapshot and listing its tables cost ~0.1 s, six times per client on the cohort dashboard (88 s for a
# program of 120 clients); one visit reads them all, and the other pages still read one table at a time.
OVERVIEW_QUERIES = ("run", "gate_results", "model_results", "level", "level_history", "level_evidence")


def _read_queries(snapshot: str, query_names: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """Run named queries on one snapshot file, in one connection; an empty frame for a table the snapshot
    lacks (older snapshots may predate a meta table, e.g. model_features: pages show "not available")."""
    con = duckdb.connect(snapshot, read_only=True)
    try:
        present = {
            f"{schema}.{name}"
            for schema, name in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
        }
        return {
            name: con.execute(QUERIES[name][1]).df() if QUERIES[name][0] in present else pd.DataFrame()
            for name in query_names
        }
    finally:
        con.close()


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _read_overview(snapshot: str) -> dict[str, pd.DataFrame]:
    return _read_queries(snapshot, OVERVIEW_QUERIES)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _read_one(snapshot: str, query_name: str) -> pd.DataFrame:
    return _read_queries(snapshot, (query_name,))[query_name]


def _read_snapshot(snapshot: str, query_name: str) -> pd.DataFrame:
    """One named query on one snapshot file (those of :data:`OVERVIEW_QUERIES` come with the others)."""
    if query_name in OVERVIEW_QUERIES:
        return _read_overview(snapshot)[query_name]
    return _read_one(snapshot, query_name)


def _query(user: User, client_id: str, query_name: str) -> pd.DataFrame:
    require_client(user, client_id)  # before the client's CURRENT pointer or snapshot is read
    snapshot = current_snapshot(get_settings(), client_id)
    if snapshot is None:  # never published yet
        return pd.DataFrame()
    return _read_snapshot(str(snapshot), query_name)


@dataclass(frozen=True)
class PublishedClient:
    """What the app knows of a client: its published run, never its mapping or its warehouse.

    A run whose quality gate failed is published too (its gate results, loaded files and mapping problems:
    what to fix), but its figures are not: the snapshot then carries the marts and model results of the
    last run that passed (``data_run_id``), and ``reason`` says what failed.
    """

    id: str
    name: str
    industry: str
    timezone: str
    region: str = ""
    process: str = ""
    models: tuple[str, ...] = ()  # the standard models its mapping asks for
    run_id: str = ""  # the newest run, the one the snapshot was published for
    status: str = ""  # published | gate_failed
    finished_at: Any = None
    gate_passed: bool | None = None
    data_run_id: str | None = None  # the run whose figures (marts, model results) are shown; None: none yet
    data_finished_at: Any = None
    reason: str = ""  # why the newest run's figures are not shown (the gate's top failures), in English
    wording: str = ""  # the reason as its message and values (JSON), worded by forgeline/reports/words.py

    @property
    def figures_held_back(self) -> bool:
        """The newest delivery failed the quality gate: the figures shown are an earlier run's, or none."""
        return self.status == "gate_failed"


def _text(value: Any) -> str:
    """A meta.run cell as text ('' for missing: None, NaN, NA, NaT)."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return ""
    return str(value)


def _missing_to_none(value: Any) -> Any:
    return None if _text(value) == "" else value


def _published_ids() -> list[str]:
    root = get_settings().published_root
    if not root.exists():
        return []
    return sorted(p.parent.name for p in root.glob("*/CURRENT") if CLIENT_ID_PATTERN.match(p.parent.name))


def clients(user: User) -> list[PublishedClient]:
    """The published clients this user may see (a client login: only its own)."""
    found = []
    for client_id in visible_clients(user, _published_ids()):
        info = run_info(user, client_id) or {}
        status = _text(info.get("status"))
        run_id = _text(info.get("run_id"))
        # Snapshots from before data_run_id: a passed run shows its own figures.
        data_run_id = _text(info.get("data_run_id")) or (run_id if status == "published" else "")
        gate_passed = _missing_to_none(info.get("gate_passed"))
        found.append(
            PublishedClient(
                id=client_id,
                name=_text(info.get("client_name")) or client_id,
                industry=_text(info.get("industry")),
                timezone=_text(info.get("timezone")) or "Asia/Seoul",
                region=_text(info.get("region")),
                process=_text(info.get("process")),
                models=tuple(m for m in _text(info.get("models")).split(", ") if m),
                run_id=run_id,
                status=status,
                finished_at=_missing_to_none(info.get("finished_at")),
                gate_passed=None if gate_passed is None else bool(gate_passed),
                data_run_id=data_run_id or None,
                data_finished_at=_missing_to_none(info.get("data_finished_at"))
                or (_missing_to_none(info.get("finished_at")) if data_run_id == run_id else None),
                reason=_text(info.get("reason")),
                wording=_text(info.get("wording")),
            )
        )
    return found


def client(user: User, client_id: str) -> PublishedClient:
    """One published client, if the user may see it."""
    require_client(user, client_id)
    for config in clients(user):
        if config.id == client_id:
            return config
    raise LookupError(_("No client {client!r} in the program.").format(client=client_id))


def oee_daily(user: User, client_id: str) -> pd.DataFrame:
    return _query(user, client_id, "oee_daily")


def defect_rate_daily(user: User, client_id: str) -> pd.DataFrame:
    return _query(user, client_id, "defect_rate_daily")


def defect_pareto(user: User, client_id: str) -> pd.DataFrame:
    return _query(user, client_id, "defect_pareto")


def energy_daily(user: User, client_id: str) -> pd.DataFrame:
    return _query(user, client_id, "energy_daily")


def maintenance_kpis(user: User, client_id: str) -> pd.DataFrame:
    return _query(user, client_id, "maintenance_kpis")


def gate_results(user: User, client_id: str) -> pd.DataFrame:
    return _query(user, client_id, "gate_results")


def model_results(user: User, client_id: str) -> pd.DataFrame:
    return _query(user, client_id, "model_results")


def model_features(user: User, client_id: str) -> pd.DataFrame:
    """Feature importances per model (empty if the snapshot has no ``meta.model_features``)."""
    return _query(user, client_id, "model_features")


def operating_windows(user: User, client_id: str) -> pd.DataFrame:
    """Recommended operating windows per model and parameter (empty before snapshots held them)."""
    return _query(user, client_id, "operating_windows")


def model_holdout_daily(user: User, client_id: str) -> pd.DataFrame:
    """Per model and holdout day: measured and predicted totals (empty before snapshots held them)."""
    return _query(user, client_id, "model_holdout_daily")


def model_alarms(user: User, client_id: str) -> pd.DataFrame:
    """Per anomaly detector, the holdout's strongest alarms for review (strongest first)."""
    return _query(user, client_id, "model_alarms")


def model_incidents(user: User, client_id: str) -> pd.DataFrame:
    """Per anomaly detector, the holdout's incidents: warned of or not, and how long before."""
    return _query(user, client_id, "model_incidents")


def model_operation_weekly(user: User, client_id: str) -> pd.DataFrame:
    """The champion in operation, per model and local week: scores against outcomes, drift flagged."""
    return _query(user, client_id, "model_operation_weekly")


def model_scores(user: User, client_id: str) -> pd.DataFrame:
    """The champion's latest scores per model (newest first), with what each row is."""
    return _query(user, client_id, "model_scores")


def table_profile(user: User, client_id: str) -> pd.DataFrame:
    return _query(user, client_id, "table_profile")


def load_batches(user: User, client_id: str) -> pd.DataFrame:
    return _query(user, client_id, "load_batches")


def rejected_files(user: User, client_id: str) -> pd.DataFrame:
    """Delivered files ingest refused, with what to fix (empty when none or in older snapshots)."""
    return _query(user, client_id, "rejected_files")


def mapping_problems(user: User, client_id: str) -> pd.DataFrame:
    """Columns holding values the client's mapping could not read (empty when none)."""
    return _query(user, client_id, "mapping_problems")


def run_info(user: User, client_id: str) -> dict[str, Any] | None:
    """The ``meta.run`` row of the client's current snapshot, or None before its first publish."""
    frame = _query(user, client_id, "run")
    return frame.iloc[0].to_dict() if len(frame) else None


def data_docs_link(user: User, client_id: str) -> str | None:
    """The address of the client's Great Expectations Data Docs on the stack's tools (forgeline serve-tools),
    for consultants only (the tools show every client's data); None when the tools are not serving them.
    Never a server path."""
    from forgeline import tools

    require_client(user, client_id)
    if not user.is_consultant:
        return None
    settings = get_settings()
    link = tools.urls(settings).data_docs(client_id)
    served = (settings.tools_site_dir / "data-docs" / client_id).exists()
    return link if served and tools.answers(link) else None


def level(user: User, client_id: str) -> pd.DataFrame:
    """The client's smart-factory level (one row; empty before any data passed the gate)."""
    return _query(user, client_id, "level")


def level_evidence(user: User, client_id: str) -> pd.DataFrame:
    """The level's evidence, one row per rule of every level (forgeline/program/levels.py)."""
    return _query(user, client_id, "level_evidence")


def recommendations(user: User, client_id: str) -> pd.DataFrame:
    """What to run or do next, ranked (forgeline/program/recommendations.py); empty before they were made."""
    return _query(user, client_id, "recommendations")


def level_history(user: User, client_id: str) -> pd.DataFrame:
    """The client's level at each run since levels were kept (empty before)."""
    return _query(user, client_id, "level_history")


def program_overview(user: User) -> pd.DataFrame:
    """One row per visible client: its last run, gate outcome, models, OEE over all its days and level."""
    rows = []
    for config in clients(user):
        info = run_info(user, config.id)
        gate = gate_results(user, config.id)
        models = model_results(user, config.id)
        assessed = level(user, config.id)
        failed = int((~gate["success"].astype(bool)).sum()) if len(gate) else 0
        rows.append(
            {
                "client_id": config.id,
                "name": config.name,
                "industry": config.industry,
                "region": config.region,
                "process": config.process,
                "finished_at": info["finished_at"] if info else None,
                "status": info["status"] if info else "never run",
                "gate_passed": info["gate_passed"] if info else None,
                # Where the figures (OEE, models) come from: an earlier run after a failed gate.
                "figures_held_back": config.figures_held_back,
                "data_run_id": config.data_run_id,
                "data_finished_at": config.data_finished_at,
                "reason": config.reason,
                "wording": config.wording,
                "expectations_passed": len(gate) - failed,
                "expectations_failed": failed,
                "models": ", ".join(
                    f"{m.model_name} (champion)" if m.is_champion else str(m.model_name)
                    for m in models.itertuples()
                ),
                "champions": int(models["is_champion"].fillna(False).astype(bool).sum())
                if len(models)
                else 0,
                "oee": whole_oee(user, config.id),
                "level": int(assessed["level"].iloc[0]) if len(assessed) else None,
                "timezone": config.timezone,
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Cohort:
    """What the cohort dashboard shows of the clients a login may see (consultants and program managers:
    all of them; the page is never offered to a client login)."""

    clients: pd.DataFrame  # program_overview's rows plus each client's movement (cohort.movements)
    readiness: pd.DataFrame  # each client's evidence rule by rule (cohort.readiness)
    history: pd.DataFrame  # client_id, name, assessed_at, level: every run's level
    targets: cohort_figures.Targets


def cohort(user: User) -> Cohort:
    """The cohort of the clients ``user`` may see, with the program's targets."""
    targets, _path = cohort_figures.load_targets(cohort_figures.targets_path(get_settings()))
    overview = program_overview(user)
    histories: dict[str, pd.DataFrame] = {}
    evidence: dict[str, pd.DataFrame] = {}
    for row in overview.itertuples(index=False):
        history = level_history(user, row.client_id)
        if history.empty and not pd.isna(row.level):  # published before histories were kept
            history = cohort_figures.history_with(None, "", row.finished_at, int(row.level), None, False)
        histories[row.client_id] = history
        evidence[row.client_id] = level_evidence(user, row.client_id)
    now = pd.Timestamp.now(tz="UTC")
    moved = cohort_figures.movements(histories, now, targets.stalled_after_days)
    clients = (
        overview.drop(columns=["level"]).merge(moved, on="client_id", how="left")
        if len(overview)
        else overview
    )
    names = dict(zip(overview.get("client_id", []), overview.get("name", []), strict=True))
    history = pd.concat(
        [h.assign(client_id=c, name=names[c]) for c, h in histories.items() if len(h)]
        or [cohort_figures.empty_history().assign(client_id=pd.Series(dtype="string"), name="")],
        ignore_index=True,
    )
    return Cohort(clients, cohort_figures.readiness(evidence), history, targets)


# -- pooled benchmarks and consent (forgeline/program/benchmarks.py, consent.py) --------------------------
@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _read_store(path: str, version: int) -> dict[str, pd.DataFrame]:
    """The program store's tables; ``version`` (the file's mtime) makes a rebuilt store read at once."""
    return pooled.read_store(Path(path))


def _store() -> dict[str, pd.DataFrame]:
    path = get_settings().benchmarks_path
    return _read_store(str(path), path.stat().st_mtime_ns if path.exists() else 0)


def consent_decisions(user: User, client_id: str) -> list[consents.Decision]:
    """The client's decisions on pooling its figures, oldest first."""
    require_client(user, client_id)
    return consents.decisions(get_settings(), client_id)


def consent_in_force(user: User, client_id: str) -> consents.Decision | None:
    """The client's decision in force on pooling its figures (None: it never decided, which means no)."""
    require_client(user, client_id)
    return consents.in_force(get_settings(), client_id)


def require_live(user: User) -> User:
    """``user`` if this tab's session still stands for it, checked now; AccessDenied otherwise.

    Every write calls it (findings, consent; onboarding's save and the Password page too): a widget's
    callback runs *before* the page's script, so before ``ui.current_user()`` checks the session again,
    with the user of the previous run. A login logged out, reset, removed or given another role since
    writes nothing. Outside a Streamlit script run (the CLI, a test calling this module) there is no
    session to check and the caller is trusted code."""
    if get_script_run_ctx() is None:
        return user
    from apps.ui import SESSION_KEY  # here: apps.ui imports this module

    session = session_user(get_settings(), st.session_state.get(SESSION_KEY))
    if session is None or session.user != user:
        raise AccessDenied(_("The session of {login} has ended: log in again.").format(login=user.username))
    return user


def record_consent(user: User, client_id: str, given: bool) -> pooled.BuildSummary | None:
    """A client login's own decision, then the benchmarks rebuilt with (or without) its figures; None when
    the rebuild failed (the decision stands and the next program run rebuilds). Only the client decides in
    the app; a consultant records a signed form with `forgeline consent`."""
    require_client(user, client_id)
    require_live(user)
    if not user.is_client:
        raise AccessDenied(
            _("{login} may not decide for {client}: consent is the client's own.").format(
                login=user.username, client=client_id
            )
        )
    settings = get_settings()
    consents.record(settings, client_id, given, by=f"{user.display_name} ({user.username}, app login)")
    try:
        return pooled.build(settings, wait_s=10)  # a program run rebuilding meanwhile follows the decision
    except Exception:  # noqa: BLE001 - never show a client another's error; the log keeps it
        logging.getLogger("forgeline.apps").exception("Benchmarks not rebuilt after %s's decision", client_id)
        return None


def benchmark_cells(user: User) -> pd.DataFrame:
    """Every cell of the pooled benchmarks with its quartiles, or why it is suppressed: the aggregates a
    consultant or a program manager sees (never a client login: it sees its own position only)."""
    if not user.sees_every_client:
        raise AccessDenied(
            _("{login} may not see the benchmarks' figures; its position is its own.").format(
                login=user.username
            )
        )
    return pooled.current_cells(_store())


def benchmark_position(user: User, client_id: str) -> pd.DataFrame:
    """The client's band in each benchmark its figures went into at the last build (the build computed it
    from the figure it pooled), with its own figure beside it; never a cell's figures or a peer's. Only a
    contributor has a position: a client that waits or has not consented has none."""
    require_client(user, client_id)
    store = _store()
    mine = store["positions"][store["positions"]["client_id"] == client_id]
    if mine.empty:
        return pd.DataFrame(columns=["metric", "label", "cell", "value", "band", "band_name", "factories"])
    sizes = store["releases"].set_index("release_id")["n"]
    snapshot = current_snapshot(get_settings(), client_id)
    own = pooled.snapshot_figures(snapshot, client_id, "") if snapshot else None
    return pd.DataFrame(
        [
            {
                "metric": row.metric,
                "label": pooled.label(row.metric),
                "cell": row.cell,
                "value": pooled.shown(own.values[row.metric], pooled.METRICS[row.metric])
                if own and row.metric in own.values
                else "",
                "band": int(row.band),
                "band_name": pooled.BANDS[int(row.band)],
                "factories": int(sizes.get(row.release_id, 0)),
            }
            for row in mine.itertuples(index=False)
        ]
    )


def value_ledger(user: User, client_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What the client's data went into (benchmark, figure, factories, when) and what still waits, with why;
    only its own rows of the ledger."""
    require_client(user, client_id)
    store = _store()
    mine = store["contributions"][store["contributions"]["contributor"] == client_id]
    used = store["releases"][store["releases"]["release_id"].isin(mine["release_id"])]
    used = used.assign(label=used["metric"].map(pooled.label))
    waiting = store["pending"].reindex(columns=pooled.STORE_TABLES["pending"])  # a store without wording
    waiting = waiting[waiting["client_id"] == client_id]
    # One row per figure and reason, its benchmarks together: the cells of one figure wait for one reason.
    waiting = (
        waiting.assign(label=waiting["metric"].map(pooled.label), wording=waiting["wording"].fillna(""))
        .groupby(["label", "reason", "wording"], sort=False, as_index=False)
        .agg(cell=("cell", ", ".join))
    )
    return (
        used[["cell", "label", "n", "released_at"]].sort_values("released_at", ascending=False),
        waiting[["cell", "label", "reason", "wording"]],
    )


# -- reports (forgeline/reports/) --------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportFile:
    name: str  # the file's name only: never a server path
    data: bytes | Callable[[], bytes]  # a filed report's bytes are read on download
    mime: str


_MIME = {
    ".pdf": "application/pdf",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def report_months(user: User, client_id: str) -> list[str]:
    """The months a report of the client can cover (``2026-10``), newest first."""
    require_client(user, client_id)
    return [str(p) for p in reports.report_months(get_settings(), client_id)]


@st.cache_data(ttl=CACHE_TTL_S, max_entries=16, show_spinner=False)
def _report(
    snapshot: str, findings_stamp: str, client_id: str, period: str, lang: str, _settings: Settings
) -> tuple[ReportFile, ReportFile]:
    """One report, made once per snapshot, state of the workbench, period and language (``snapshot`` and
    ``findings_stamp`` key the cache: a new publish, a delivery or a withdrawal makes a new report; the
    snapshot's path names the workspace, so ``_settings`` is left out of the key)."""
    made = reports.build_report(_settings, client_id, reports.parse_period(period), lang)
    return (
        ReportFile(f"{made.stem}.pdf", made.pdf, _MIME[".pdf"]),
        ReportFile(f"{made.stem}.xlsx", made.xlsx, _MIME[".xlsx"]),
    )


def client_report(user: User, client_id: str, period: str, lang: str) -> tuple[ReportFile, ReportFile]:
    """The client's report (PDF, Excel) for a month, from its published snapshot only; ReportError when it
    cannot be made (the message says why)."""
    require_client(user, client_id)  # before the client's snapshot is looked for
    settings = get_settings()
    snapshot = current_snapshot(settings, client_id)
    if snapshot is None:
        raise reports.ReportError(_("Nothing is published for this client yet."))
    return _report(str(snapshot), findings_store.stamp(settings), client_id, period, lang, settings)


def filed_reports(user: User, client_id: str) -> list[ReportFile]:
    """The reports filed for the client by the monthly schedule, newest first: names only, each file read
    when it is downloaded (``data`` a callable, as ``st.download_button`` takes it)."""
    require_client(user, client_id)
    return [
        ReportFile(p.name, p.read_bytes, _MIME[p.suffix])
        for p in reports.filed_reports(get_settings(), client_id)
    ]


# -- a period's KPIs (forgeline/reports/content.py: the report's own roll-ups, never a second copy) ---------
@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _span(snapshot: str, client_id: str) -> tuple[date, date] | None:
    return report_content.data_span(Path(snapshot), client_id)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _default_periods(snapshot: str, client_id: str) -> tuple[Period, Period] | None:
    return report_content.default_periods(Path(snapshot), client_id)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=64, show_spinner=False)
def _period_figures(
    snapshot: str, client_id: str, start: date, end: date, daily: bool
) -> report_content.PeriodFigures:
    return report_content.period_figures(Path(snapshot), client_id, Period(start, end), daily=daily)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _whole_oee(snapshot: str, client_id: str) -> float | None:
    with report_content.figures(Path(snapshot), client_id) as found:
        return found.value("oee", date.min, date.max)


def whole_oee(user: User, client_id: str) -> float | None:
    """The client's OEE over all its published days, time-weighted as in its report (Σ good × ideal time ÷
    Σ planned time: never a mean of machine-days, where one machine's single bad day drags a client down);
    None where its data cannot support an OEE (no published OEE mart, or no rejects recorded)."""
    require_client(user, client_id)
    snapshot = current_snapshot(get_settings(), client_id)
    return _whole_oee(str(snapshot), client_id) if snapshot else None


def data_span(user: User, client_id: str) -> tuple[date, date] | None:
    """The first and last day of the client's published daily figures (None: none)."""
    require_client(user, client_id)
    snapshot = current_snapshot(get_settings(), client_id)
    return _span(str(snapshot), client_id) if snapshot else None


def default_periods(user: User, client_id: str) -> tuple[Period, Period] | None:
    """The period shown by default (the last full month with data, as the report's) and the month before."""
    require_client(user, client_id)
    snapshot = current_snapshot(get_settings(), client_id)
    return _default_periods(str(snapshot), client_id) if snapshot else None


def period_figures(
    user: User, client_id: str, period: Period, daily: bool = True
) -> report_content.PeriodFigures | None:
    """The client's KPIs over ``period``, time-weighted as in its report and the pooled benchmarks; a figure
    the data cannot support is None. None before the client's first publish."""
    require_client(user, client_id)
    snapshot = current_snapshot(get_settings(), client_id)
    if snapshot is None:
        return None
    return _period_figures(str(snapshot), client_id, period.start, period.end, daily)


# -- a client's upload of new exports (forgeline/ingest/upload.py) ------------------------------------------
def upload_export(user: User, client_id: str, name: str, content: bytes) -> upload.UploadResult:
    """Check an uploaded export against the client's mapping and, if it fits, deliver it to the client's
    landing folder for the next run. The client itself or a consultant; a program manager changes nothing."""
    require_client(user, client_id)
    if not (user.is_client or user.is_consultant):
        raise AccessDenied(
            _("{login} may not deliver data for {client}.").format(login=user.username, client=client_id)
        )
    from forgeline.clients import get_client

    settings = get_settings()
    return upload.deliver_upload(settings, get_client(settings, client_id), name, content)


# -- the consultant workbench (forgeline/program/findings.py) ----------------------------------------------
# Not cached: the store is a small file read in milliseconds, and a consultant's save must show at once.
def _may_write(user: User, client_id: str) -> None:
    require_client(user, client_id)
    if not user.is_consultant:
        raise AccessDenied(
            _("{login} may read findings, not write them: consultants write them.").format(
                login=user.username
            )
        )
    require_live(user)  # a callback's user may be a revoked session's


def _may_read_all(user: User, client_id: str) -> None:
    require_client(user, client_id)
    if not user.sees_every_client:  # drafts, reviews and history are the program's, never a client's
        raise AccessDenied(_("{login} sees only the findings delivered to it.").format(login=user.username))


def findings(
    user: User, client_id: str, statuses: tuple[str, ...] = findings_store.STATUSES
) -> list[findings_store.Finding]:
    """The client's findings in ``statuses``; a client login gets only its own delivered ones (each as the
    version delivered last), whatever it asks for."""
    require_client(user, client_id)
    if user.is_client:
        statuses = ("delivered",)
    return findings_store.findings_for(get_settings(), client_id, statuses=statuses)


def finding(
    user: User, client_id: str, finding_id: str, version: int | None = None
) -> findings_store.Finding:
    """One finding as its newest version (or ``version``) stands: consultants and program managers."""
    _may_read_all(user, client_id)
    return findings_store.finding(get_settings(), client_id, finding_id, version)


def finding_history(user: User, client_id: str, finding_id: str) -> list[findings_store.HistoryEntry]:
    """Who wrote, reviewed, delivered or withdrew which version, when: consultants and program managers."""
    _may_read_all(user, client_id)
    return findings_store.history(get_settings(), client_id, finding_id)


def evidence_choices(user: User, client_id: str) -> findings_store.EvidenceChoices:
    """What the client's snapshot offers as evidence (the workbench's pickers)."""
    _may_write(user, client_id)
    return findings_store.evidence_choices(get_settings(), client_id)


def check_evidence(user: User, client_id: str, params: dict[str, Any]) -> findings_store.Evidence:
    """One piece of evidence checked against the client's snapshot (raises EvidenceError)."""
    _may_write(user, client_id)
    return findings_store.check_evidence(get_settings(), client_id, params)


def evidence_view(
    user: User, client_id: str, evidence: findings_store.Evidence
) -> findings_store.EvidenceView:
    """What to draw for one piece of evidence, from the client's own snapshot."""
    require_client(user, client_id)
    return findings_store.evidence_view(get_settings(), client_id, evidence)


def write_finding(
    user: User, client_id: str, *, kind: str, title: str, body: str, evidence: list[dict[str, Any]]
) -> findings_store.Finding:
    _may_write(user, client_id)
    return findings_store.write(
        get_settings(), client_id, kind=kind, title=title, body=body, evidence=evidence, by=user.username
    )


def revise_finding(
    user: User,
    client_id: str,
    finding_id: str,
    *,
    based_on: int,
    kind: str,
    title: str,
    body: str,
    evidence: list[dict[str, Any]],
) -> findings_store.Finding:
    _may_write(user, client_id)
    return findings_store.revise(
        get_settings(),
        client_id,
        finding_id,
        based_on=based_on,
        kind=kind,
        title=title,
        body=body,
        evidence=evidence,
        by=user.username,
    )


def review_finding(
    user: User, client_id: str, finding_id: str, *, version: int, approve: bool, note: str = ""
) -> findings_store.Finding:
    _may_write(user, client_id)
    return findings_store.review(
        get_settings(), client_id, finding_id, version=version, by=user.username, approve=approve, note=note
    )


def deliver_finding(user: User, client_id: str, finding_id: str, *, version: int) -> findings_store.Finding:
    _may_write(user, client_id)
    return findings_store.deliver(get_settings(), client_id, finding_id, version=version, by=user.username)


def withdraw_finding(user: User, client_id: str, finding_id: str, *, reason: str) -> findings_store.Finding:
    _may_write(user, client_id)
    return findings_store.withdraw(get_settings(), client_id, finding_id, by=user.username, reason=reason)
