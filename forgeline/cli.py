"""`forgeline`: the consultant's everyday commands.

forgeline clients                      list the program's clients and their last run
forgeline inspect FILE... [--write ID] sniff export files and draft a mapping (a confidence per column)
forgeline add-client ID --name ...     add a client (from a mapping.yml or a template to fill in)
forgeline check ID [FILE...]           dry-run the client's mapping: rows per entity, rows it quarantines
forgeline ingest ID FILE... [--retry]  put delivered files into the client's landing area and load them
                                       (a file of the same name is a re-delivery: it replaces the earlier)
forgeline ingest ID --withdraw X       take a delivery back: a file name or a batch id (kept aside)
forgeline withdraw ID X                the same
forgeline run [ID...]                  run some clients, or the whole program
forgeline levels [ID]                  each client's smart-factory level, its evidence and the next steps
forgeline consent ID give --by NAME   record a client's consent to pool its KPIs (withdraw; show)
forgeline benchmarks                   rebuild the pooled benchmarks of consenting clients and show them
forgeline findings ID [FINDING]        consultants' findings on a client; one's evidence and history
forgeline add-login USER --client ID   give a client's staff (or a consultant, a program manager) a login
forgeline passwd USER                  set a login's password (asked for; its sessions end everywhere)
forgeline unlock USER                  forget a login name's failed logins (it can log in again at once)
forgeline models list ID               each standard model's versions, champion, decisions, alias history
forgeline models promote ID MODEL V    make version V champion by hand (--reason; --yes against the policy)
forgeline models rollback ID MODEL     back to the previous champion in the history (--reason)
forgeline purge ID [--yes] [--by NAME] remove every trace of a client at the end of its engagement
forgeline report ID [--period P] [--lang ko|en] [--out DIR]
                                       the client's report (PDF and Excel) for a month or a range of days
forgeline app                          serve the Streamlit app
forgeline demo                         prepare and run the demo program, then serve the app

Exit codes: 0 done; 1 something named must be fixed; 2 the command was used wrongly; 3 the data failed the
quality gate (nothing trained, the last good figures stay published); 75 another run holds the client.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from forgeline.settings import REPO_ROOT, apply_tool_environment, check_client_id, get_settings

apply_tool_environment()

app = typer.Typer(help="Forgeline: run a smart-factory consulting program.", no_args_is_help=True)
console = Console()

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", envvar="FORGELINE_HOME", help="Workspace directory (default: workspace/)."),
]

CLIENT_TEMPLATE = """\
# Forgeline mapping of one client (reference: docs/mapping.md). Draft the sources with
# `forgeline inspect FILE... --write {id}`, dry-run with `forgeline check {id}`, then ingest and run.
id: {id}
name: "{name}"
industry: ""
timezone: Asia/Seoul
models: []
logins:
  - username: {id}
    display_name: "{name}"
masters: {{}}
sources: []
"""


# Exit codes a script or scheduler can tell apart (2 is typer's own: a command used wrongly).
EXIT_FAILED = 1  # something the message names must be fixed (a file, the mapping, a client's run)
EXIT_GATE_FAILED = 3  # the data failed the quality gate: nothing trained, the last good figures stay
EXIT_BUSY = 75  # another run holds the client right now: try again later (EX_TEMPFAIL)


def _fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """End a command with the error a consultant can act on, not a traceback."""
    # Not wrapped at the terminal's width: a one-line refusal stays one line for scripts and logs.
    console.print(f"[red]Error:[/red] {message}", soft_wrap=True)
    raise typer.Exit(code)


def _refuse_busy(settings, client_ids: list[str]) -> None:
    """Stop at once, in one line, when another process writes one of these clients."""
    from forgeline.locking import ClientBusy, client_lock

    for client_id in client_ids:
        try:
            with client_lock(settings, client_id):
                pass
        except ClientBusy as exc:
            _fail(str(exc), EXIT_BUSY)


def _settings(home: Path | None):
    settings = get_settings(home)
    os.environ["FORGELINE_HOME"] = str(settings.home)
    # Two workspaces on one machine must not share Prefect's ephemeral API (its SQLite file and port):
    # each keeps its own, unless the operator points Prefect at a server or a home of their choosing.
    if not os.environ.get("PREFECT_API_URL"):
        os.environ.setdefault("PREFECT_HOME", str(settings.prefect_home))
    return settings


@app.command("clients")
def list_clients_command(home: HomeOption = None) -> None:
    """List the program's clients with their last published run."""
    import pandas as pd

    from forgeline.clients import list_clients
    from forgeline.publish import current_run_info

    settings = _settings(home)
    invalid: dict[str, str] = {}
    clients = list_clients(settings, invalid)
    for client_id, error in invalid.items():
        console.print(f"[red]{client_id}: its mapping is not valid and it cannot run:[/red] {error}")
    if not clients and not invalid:
        console.print(
            f"No clients in {settings.clients_dir}. Add one with `forgeline add-client` or run `make demo`."
        )
        raise typer.Exit(0)
    table = Table("client", "name", "industry", "sources", "models", "last run (local)", "status", "gate")
    table.columns[0].no_wrap = True
    for c in clients:
        info = current_run_info(settings, c.id)
        gate = "-" if not info else ("passed" if info.get("gate_passed") else "FAILED")
        finished = (
            pd.Timestamp(info["finished_at"]).tz_convert(c.timezone).strftime("%Y-%m-%d %H:%M")
            if info
            else "never"
        )
        table.add_row(
            c.id,
            c.name,
            c.industry or "-",
            ", ".join(s.name for s in c.sources) or "-",
            ", ".join(c.models) or "-",
            finished,
            info["status"] if info else "-",
            gate,
        )
    console.print(table)


NOT_ASSESSED = "not assessed yet: no run has passed the quality gate since levels are assessed"


@app.command("levels")
def levels_command(
    client_id: Annotated[str | None, typer.Argument(help="one client: its evidence rule by rule")] = None,
    home: HomeOption = None,
) -> None:
    """Each client's smart-factory level (1-5) from its own data, the evidence, and the steps to the next."""
    import pandas as pd
    from rich.markup import escape

    from forgeline.clients import get_client, list_clients
    from forgeline.program.cohort import load_targets, progress, targets_path
    from forgeline.program.levels import figure
    from forgeline.publish import current_level, current_meta

    settings = _settings(home)
    clients = [get_client(settings, client_id)] if client_id else list_clients(settings)
    if not clients:
        _fail(
            f"No clients in {settings.clients_dir}. Add one with `forgeline add-client` or run `make demo`."
        )
    if client_id is None:
        table = Table("client", "level", "", "next step", "rules")
        table.columns[0].no_wrap = True
        reached: list[int | None] = []
        for c in clients:
            published = current_level(settings, c.id)
            reached.append(None if published is None else int(published[0]["level"]))
            if published is None:
                table.add_row(c.id, "-", NOT_ASSESSED, "", "")
                continue
            summary, evidence = published
            gaps = evidence[(evidence["level"] == summary["next_level"]) & ~evidence["passed"].astype(bool)]
            step = f"L{summary['next_level']}: {gaps.iloc[0]['step']}" if len(gaps) else "-"
            table.add_row(
                c.id, str(summary["level"]), str(summary["level_name"]), step, str(summary["rules_version"])
            )
        console.print(table)
        targets, _ = load_targets(targets_path(settings))
        for goal in progress(pd.Series(reached, dtype="Int64"), targets, datetime.now(UTC).date()):
            console.print(goal.says)
        console.print("One client's evidence, rule by rule: `forgeline levels CLIENT`.")
        return
    [config] = clients
    published = current_level(settings, config.id)
    if published is None:
        _fail(f"{config.id}: {NOT_ASSESSED} (`forgeline run {config.id}`).")
    summary, evidence = published
    console.print(
        f"[bold]{config.id}[/bold] ({config.name}): level {summary['level']}, {summary['level_name']} "
        f"(rules {summary['rules_version']}, digest {summary['rules_digest']})"
    )
    table = Table("level", "rule", "data shows", "needs", "")
    for row in evidence.itertuples(index=False):
        table.add_row(
            f"L{row.level}",
            row.says,
            f"{row.meaning}: {figure(row.value, row.kind)}",
            figure(row.at_least, row.kind),
            "[green]holds[/green]" if row.passed else "[yellow]not yet[/yellow]",
        )
    console.print(table)
    gaps = evidence[(evidence["level"] == summary["next_level"]) & ~evidence["passed"].astype(bool)]
    if len(gaps):
        console.print(f"To reach level {summary['next_level']}:")
        for row in gaps.itertuples(index=False):
            console.print(
                f"  - {row.step} (now {figure(row.value, row.kind)}; needs {figure(row.at_least, row.kind)})"
            )
    found = current_meta(settings, config.id, "recommendations")
    recommended = found["recommendations"] if found else None
    if recommended is not None and len(recommended):
        console.print("Recommended next (from its own data; the benefit is today's exposure, not a promise):")
        for row in recommended.head(5).itertuples(index=False):
            console.print(escape(f"  {row.rank}. {row.title} ({row.kind}): {row.benefit}."))


@app.command("consent")
def consent_command(
    client_id: Annotated[str, typer.Argument(help="The client whose decision this is.")],
    decision: Annotated[
        str, typer.Argument(help="give | withdraw | show (the decisions so far)", show_default=False)
    ] = "show",
    by: Annotated[str, typer.Option("--by", help="Who decided: the name and role on the signed form.")] = "",
    note: Annotated[str, typer.Option(help="Where the form is kept, or any remark.")] = "",
    home: HomeOption = None,
) -> None:
    """Record a client's consent to pool its published KPIs into the program's anonymous benchmarks."""
    from forgeline.clients import get_client
    from forgeline.program import benchmarks, consent

    settings = _settings(home)
    try:
        get_client(settings, client_id)  # the client must exist
    except ValueError as exc:
        _fail(str(exc))
    if decision not in ("give", "withdraw", "show"):
        raise typer.BadParameter("give, withdraw or show", param_hint="DECISION")
    if decision != "show":
        if not by.strip():
            raise typer.BadParameter(
                "say who decided, e.g. --by 'Kim Minsu, plant manager'", param_hint="--by"
            )
        consent.record(settings, client_id, given=decision == "give", by=by, note=note)
        summary = benchmarks.build(settings)
        console.print(
            f"Benchmarks rebuilt: {summary.released} cells released, {summary.suppressed} suppressed "
            f"({summary.consenting} consenting clients)."
        )
    kept = consent.decisions(settings, client_id)
    if not kept:
        console.print(f"{client_id} has not decided, so its figures are not pooled. Pooling means: ")
        console.print(f"  {consent.SCOPES['benchmarks']}.")
        return
    table = Table("when (UTC)", "scope", "decision", "by", "note")
    for d in kept:
        table.add_row(f"{d.at:%Y-%m-%d %H:%M}", d.scope, "given" if d.given else "withdrawn", d.by, d.note)
    console.print(table)
    state = "pooled" if consent.has_consented(settings, client_id) else "not pooled"
    console.print(f"In force: {client_id}'s figures are {state}.")


@app.command("benchmarks")
def benchmarks_command(home: HomeOption = None) -> None:
    """Rebuild the pooled benchmarks from the consenting clients' published figures, and show them."""
    from forgeline.program import benchmarks

    settings = _settings(home)
    summary = benchmarks.build(settings)
    store = benchmarks.read_store(settings.benchmarks_path)
    cells = benchmarks.current_cells(store)
    table = Table("benchmark", "figure", "factories", "p25", "median", "p75")
    for row in cells[cells["status"] == "released"].sort_values(["cell", "metric"]).itertuples(index=False):
        metric = benchmarks.METRICS[row.metric]
        quartiles = (benchmarks.shown(v, metric) for v in (row.p25, row.p50, row.p75))
        table.add_row(row.cell, metric.label, str(int(row.n)), *quartiles)
    if summary.released:
        console.print(table)
    for reason, count in cells.loc[cells["status"] == "suppressed", "reason"].value_counts().items():
        console.print(f"Suppressed, {count} cell(s): {reason}.")
    console.print(
        f"{summary.consenting} consenting clients; {summary.released} cells released, {summary.suppressed} "
        f"suppressed. Store: {summary.path}"
    )


@app.command("findings")
def findings_command(
    client_id: Annotated[str, typer.Argument(help="The client whose findings to list.")],
    finding_id: Annotated[
        str | None, typer.Argument(help="One finding: its evidence and its history.", show_default=False)
    ] = None,
    delivered: Annotated[bool, typer.Option("--delivered", help="Only what the client sees.")] = False,
    home: HomeOption = None,
) -> None:
    """The consultants' findings and recommendations on a client (written in the app's Workbench)."""
    from forgeline.program import findings

    settings = _settings(home)
    try:
        check_client_id(client_id)
    except ValueError as exc:
        _fail(str(exc))
    if finding_id:
        try:
            current = findings.finding(settings, client_id, finding_id)
        except LookupError as exc:
            _fail(str(exc))
        console.print(
            f"[bold]{current.title}[/bold] · {current.kind} · {current.status}, version {current.version}"
        )
        console.print(current.body, soft_wrap=True)
        for e in current.evidence:
            figures = "; ".join(f"{k} {v}" for k, v in e.figures.items() if v)
            console.print(
                f"  evidence: {e.description} ({figures}; checked on run {e.checked_run})", soft_wrap=True
            )
        table = Table("when (UTC)", "version", "what", "by", "changed", "note")
        for h in findings.history(settings, client_id, finding_id):
            what = h.action.replace("_", " ")
            table.add_row(f"{h.at:%Y-%m-%d %H:%M}", str(h.version), what, h.by, ", ".join(h.changed), h.note)
        console.print(table)
        return
    statuses = ("delivered",) if delivered else findings.STATUSES
    listed = findings.findings_for(settings, client_id, statuses=statuses)
    if not listed:
        console.print(
            f"No {'delivered ' if delivered else ''}findings on {client_id} yet (the app's Workbench)."
        )
        return
    table = Table("id", "kind", "status", "v.", "title", "by", "written (UTC)")
    for column in (0, 6):
        table.columns[column].no_wrap = True
    for f in listed:
        written = f"{f.written_at:%Y-%m-%d %H:%M}"
        table.add_row(f.finding_id, f.kind, f.status, str(f.version), f.title, f.author, written)
    console.print(table)
    console.print(f"One finding's evidence and history: `forgeline findings {client_id} ID`.")


@app.command("add-client")
def add_client(
    client_id: Annotated[str, typer.Argument(help="Short id: lower-case letters, digits, hyphens.")],
    name: Annotated[str, typer.Option(help="The client's name as shown to people.")] = "",
    from_file: Annotated[Path | None, typer.Option("--from", help="A mapping.yml to start from.")] = None,
    home: HomeOption = None,
) -> None:
    """Add a client: validate and copy a mapping.yml, or write a template to fill in."""
    from forgeline.clients import load_client_config
    from forgeline.standard_models import CATALOG

    settings = _settings(home)
    try:
        check_client_id(client_id)
    except ValueError as exc:
        console.print(f"[red]Not added:[/red] {exc}")
        raise typer.Exit(1) from exc
    path = settings.client_config_path(client_id)
    if path.exists():
        console.print(f"[red]Client {client_id} already exists[/red] ({path}). Edit that file instead.")
        raise typer.Exit(1)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (
        from_file.read_text(encoding="utf-8")
        if from_file
        else CLIENT_TEMPLATE.format(id=client_id, name=name or client_id)
    )
    path.write_text(text, encoding="utf-8")
    try:
        config = load_client_config(path)
        unknown = sorted(set(config.models) - set(CATALOG))
        if unknown:
            raise ValueError(
                f"{path}: models {unknown} are not in the catalog {sorted(CATALOG)}; fix `models:`."
            )
    except ValueError as exc:
        path.unlink()
        console.print(f"[red]Not added:[/red] {exc}")
        raise typer.Exit(1) from exc
    settings.landing_dir(client_id).mkdir(parents=True, exist_ok=True)
    console.print(
        f"Added {client_id}: mapping {path}, landing folder {settings.landing_dir(client_id)}. "
        f"Next: `forgeline check {client_id}` on the delivered files."
    )


@app.command("ingest")
def ingest_command(
    client_id: str,
    files: Annotated[
        list[Path] | None,
        typer.Argument(exists=True, dir_okay=False, help="Delivered files (none: re-scan)."),
    ] = None,
    retry: Annotated[bool, typer.Option("--retry", help="Read refused files again (after a fix).")] = False,
    withdraw_what: Annotated[
        str | None,
        typer.Option(
            "--withdraw",
            metavar="BATCH_OR_FILE",
            help="Take a delivery back instead: a batch id (or its first digits) or a delivered file name. "
            "Its raw rows go; the file is kept in the withdrawn folder.",
        ),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Copy delivered files into the client's landing area and load them into its raw tables.

    A file of a name delivered before replaces it (the earlier file is kept as history, its rows leave
    raw when the new one loads). Links and special files are refused before anything is copied.
    """
    from rich.markup import escape

    from forgeline.clients import get_client
    from forgeline.ingest import add_files, ingest_client, withdraw
    from forgeline.locking import ClientBusy, client_lock

    if withdraw_what is not None and (files or retry):
        raise typer.BadParameter("give it alone: no files, no --retry", param_hint="--withdraw")
    settings = _settings(home)
    try:
        config = get_client(settings, client_id)
        with client_lock(settings, client_id):  # before anything is copied into the landing folder
            if withdraw_what is not None:
                withdrawal = withdraw(settings, config, withdraw_what)
            else:
                add_files(settings, client_id, list(files or []))
                report = ingest_client(settings, config, raise_on_rejection=False, retry=retry)
    except ClientBusy as exc:  # another run, or another program holding the warehouse: one line, exit 75
        console.print(f"[red]Busy:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(EXIT_BUSY) from None
    except ValueError as exc:  # ClientConfigError, IngestError: say what to do
        _fail(escape(str(exc)))
    if withdraw_what is not None:
        console.print(escape(withdrawal.describe()), soft_wrap=True)
        return
    table = Table("file", "raw table", "rows", "status")
    for f in report.files:
        table.add_row(escape(str(f.file)), f.raw_table or "-", f"{f.rows:,}", f.status)
    console.print(table)
    for f in report.files:
        if f.superseded:
            console.print(
                f"{escape(f.file)} replaces its earlier delivery (batch {', '.join(f.superseded)}, kept as "
                f"history): raw.{f.raw_table} holds the new rows only."
            )
    for f in (f for f in report.files if f.status == "changing"):
        console.print(
            f"[yellow]{escape(f.file)} changed while it was read: it loads on the next run.[/yellow]"
        )
    for name in report.unmatched:
        console.print(f"[yellow]{escape(name)} matches no source in mapping.yml: not loaded.[/yellow]")
    for source in report.undelivered:
        console.print(f"[yellow]No file delivered yet for source {escape(source)}.[/yellow]")
    for error in dict.fromkeys(str(f.error) for f in report.files if f.status == "rejected earlier"):
        console.print(
            f"[yellow]Still refused (fix the mapping and run `forgeline ingest {client_id} --retry`, or "
            f"`forgeline ingest {client_id} --withdraw FILE`):[/yellow] {escape(error)}"
        )
    if report.rejected:
        _fail(
            escape("\n".join(report.errors))
            + "\nThe other files are loaded; fix the refused file(s) and ingest again."
        )


@app.command("inspect")
def inspect_command(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="Sample export files.")],
    write: Annotated[
        str | None, typer.Option("--write", help="Save the draft as this client's mapping.yml.")
    ] = None,
    name: Annotated[str, typer.Option(help="The client's name (with --write).")] = "",
    home: HomeOption = None,
) -> None:
    """Sniff export files and propose a draft mapping, with a confidence for each column."""
    from forgeline.clients import ClientConfigError, save_mapping_text
    from forgeline.mapping.inspect import mapped_share, propose_mapping

    settings = _settings(home)
    client_id = write or "new-client"
    try:
        check_client_id(client_id)
        proposal = propose_mapping(client_id, name or client_id, list(files))
    except ValueError as exc:
        _fail(str(exc))
    for source, profiles in proposal.profiles.items():
        first = profiles[0]
        console.print(
            f"[bold]{source}[/bold]: {len(profiles)} file(s), {first.format}, encoding {first.encoding}, "
            f"header row {first.header_row}"
        )
    table = Table("source", "column", "→ feeds", "confidence", "why")
    for d in proposal.decisions:
        target = f"{d.entity}.{d.target}" if d.mapped else "[yellow]unmapped[/yellow]"
        confidence = f"{d.confidence:.2f}" if d.mapped else "-"
        style = "" if not d.mapped or d.confidence >= 0.6 else "[yellow]"
        table.add_row(d.source, d.column, target, f"{style}{confidence}", d.reason)
    console.print(table)
    console.print(f"{mapped_share(proposal):.0%} of the columns mapped; confirm the yellow ones.")
    text = proposal.to_yaml()
    if not write:
        console.print(text, markup=False, highlight=False)
        return
    path = settings.client_config_path(write)
    if path.exists():  # never overwrite a working mapping with a draft
        draft = path.with_name("mapping.draft.yml")
        draft.write_text(text, encoding="utf-8")
        console.print(f"{path} exists: the draft is in {draft}; compare and merge by hand.")
        return
    try:
        save_mapping_text(settings, write, text)
    except ClientConfigError as exc:
        _fail(str(exc))
    settings.landing_dir(write).mkdir(parents=True, exist_ok=True)
    console.print(f"Draft saved as {path}. Next: `forgeline check {write} {' '.join(str(f) for f in files)}`")


@app.command("check")
def check_command(
    client_id: str,
    files: Annotated[
        list[Path] | None, typer.Argument(exists=True, dir_okay=False, help="Files to try (default: landed).")
    ] = None,
    sample: Annotated[int, typer.Option(help="Rows read per file at most (0: all).")] = 20_000,
    home: HomeOption = None,
) -> None:
    """Dry-run the client's mapping on its delivered files: rows per entity, problems, what it supports."""
    from forgeline.clients import get_client
    from forgeline.mapping.check import check_client

    settings = _settings(home)
    try:
        config = get_client(settings, client_id)
        report = check_client(settings, config, files, sample_rows=sample or None)
    except ValueError as exc:
        _fail(str(exc))
    sources = Table("source", "files", "rows read", "columns nothing maps", "problem")
    for s in report.sources:
        sources.add_row(
            s.name,
            str(len(s.files)) if s.files else "[yellow]none delivered[/yellow]",
            f"{s.rows_read:,}",
            ", ".join(s.unmapped_columns) or "-",
            f"[red]{s.error}[/red]" if s.error else "-",
        )
    console.print(sources)
    if report.compile_error:
        _fail(report.compile_error)
    entities = Table("entity (mapped)", "rows")
    for name, rows in report.entity_rows.items():
        if rows:
            entities.add_row(name, f"{rows:,}")
    console.print(entities)
    if report.problems:
        quarantined = Table("entity", "rule", "rows quarantined", "of delivered", "share", "gate allows")
        for entity, rule, rows, delivered, share, allowed in report.quarantine:
            over = share > allowed
            quarantined.add_row(
                entity,
                rule,
                f"{rows:,}",
                f"{delivered:,}",
                f"[red]{share:.1%}[/red]" if over else f"{share:.1%}",
                f"{allowed:.0%}",
            )
        console.print("[yellow]Rows the mapping quarantines (left out, with the reason):[/yellow]")
        console.print(quarantined)
        for problem in report.problems[:20]:
            console.print(f"  • {problem.describe()}")
    supports = Table("standard model", "the mapped data")
    for model, verdict in report.models.items():
        supports.add_row(model, verdict)
    console.print(supports)
    levels = Table("level", "evidence", "in the data")
    for level, met, meaning in report.levels:
        levels.add_row(f"L{level}", meaning, "yes" if met else "not yet")
    console.print(levels)
    if report.sample_rows:
        console.print(f"(a dry run on at most {report.sample_rows:,} rows per file; nothing was loaded)")
    if not report.ok:
        raise typer.Exit(1)
    if report.blocking:
        _fail(
            "the quality gate would block training: "
            + "; ".join(f"{e} rule {r}: {share:.1%} quarantined" for e, r, _, _, share, _ in report.blocking)
            + ". Fix mapping.yml (column, unit, format, value map, range) or ask the client for a corrected "
            "export."
        )


@app.command("withdraw")
def withdraw_command(
    client_id: str,
    file: Annotated[
        str,
        typer.Argument(
            metavar="BATCH_OR_FILE",
            help="A delivered file, as the landing folder names it, or a batch id (or its first digits).",
        ),
    ],
    home: HomeOption = None,
) -> None:
    """Take a delivery back (as `forgeline ingest ID --withdraw`): its raw rows go; the file is kept aside."""
    from rich.markup import escape

    from forgeline.clients import get_client
    from forgeline.ingest import withdraw
    from forgeline.locking import ClientBusy, client_lock

    settings = _settings(home)
    try:
        config = get_client(settings, client_id)
        with client_lock(settings, client_id):
            withdrawal = withdraw(settings, config, file)
    except ClientBusy as exc:
        console.print(f"[red]Busy:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(EXIT_BUSY) from None
    except ValueError as exc:
        _fail(escape(str(exc)))
    console.print(escape(withdrawal.describe()), soft_wrap=True)


@app.command("add-login")
def add_login(
    username: Annotated[str, typer.Argument(help="The login name.")],
    client_id: Annotated[
        str | None, typer.Option("--client", help="The one client this login may see.")
    ] = None,
    consultant: Annotated[bool, typer.Option("--consultant", help="Sees and onboards every client.")] = False,
    program_manager: Annotated[
        bool,
        typer.Option("--program-manager", help="Sees all results and the cohort; changes nothing."),
    ] = False,
    display_name: Annotated[str, typer.Option("--name", help="Name shown in the app.")] = "",
    home: HomeOption = None,
) -> None:
    """Add or reset a login: a client login sees only its client; a consultant or a program manager sees
    every client. The password is asked for (twice, not shown), never taken from the command line."""
    from forgeline.auth import set_login
    from forgeline.clients import get_client

    settings = _settings(home)
    if consultant + program_manager + bool(client_id) != 1:
        _fail("not added: give exactly one of --client ID, --consultant or --program-manager.")
    role = "consultant" if consultant else "program_manager" if program_manager else "client"
    try:
        if client_id:
            get_client(settings, client_id)  # the client must exist
        password = _ask_password("Password")
        set_login(
            settings,
            username,
            password,
            role,
            display_name or username,
            client_id,
        )
    except ValueError as exc:
        _fail(f"not added: {exc}")
    sees = client_id or "every client"
    console.print(f"Login {username} saved in {settings.users_path}; it sees {sees}.")


@app.command("passwd")
def passwd_command(
    username: Annotated[str, typer.Argument(help="The login whose password is set.")],
    home: HomeOption = None,
) -> None:
    """Set a login's password (a forgotten one, or a client's reset by its consultant); every session of
    the login ends, in every browser. The password is asked for, never taken from the command line."""
    from forgeline.auth import logins, reset_password

    settings = _settings(home)
    if username not in {u.username for u in logins(settings)}:
        _fail(f"not changed: There is no login {username!r}.")
    try:
        reset_password(settings, username, _ask_password("New password"))
    except ValueError as exc:
        _fail(f"not changed: {exc}")
    console.print(f"The password of {username} is set; its sessions have ended.")


def _ask_password(label: str) -> str:
    """A password typed at the terminal, twice, not shown: never an option or an argument, which `ps` and
    the shell's history would keep. Without a terminal it is read from standard input (two lines)."""
    return typer.prompt(label, hide_input=True, confirmation_prompt=True)


@app.command("unlock")
def unlock_command(
    username: Annotated[str, typer.Argument(help="The login name whose failed logins are forgotten.")],
    home: HomeOption = None,
) -> None:
    """Let a login in again at once after too many failed logins of its name (someone may keep a known
    name locked by failing once every few minutes: see README, Security). Its address counts stay."""
    from forgeline.auth import unlock

    settings = _settings(home)
    if unlock(settings, username):
        console.print(f"The failed logins of {username} are forgotten: it can log in again now.")
    else:
        console.print(f"{username} had no recent failed logins.")


@app.command("run")
def run_command(
    client_ids: Annotated[list[str] | None, typer.Argument(help="Clients to run (default: all).")] = None,
    home: HomeOption = None,
) -> None:
    """Run clients' engagements (ingest, standardize, gate, train, publish); all clients by default."""
    from forgeline.clients import client_ids as all_client_ids

    settings = _settings(home)
    try:
        chosen = [check_client_id(c) for c in client_ids or all_client_ids(settings)]
    except ValueError as exc:
        _fail(str(exc))
    _refuse_busy(settings, chosen)
    _check_level_rules(settings)
    outcomes = _unchanged_program(settings, chosen)
    if outcomes is None:
        from flows.program import ProgramRunError, program_flow

        try:
            outcomes = program_flow(home=str(settings.home), clients=client_ids or None)
        except (ProgramRunError, ValueError) as exc:  # every client ran; the record names what failed
            busy = any(name in str(exc) for name in ("ClientBusy", "WarehouseInUse"))
            _fail(str(exc), EXIT_BUSY if busy else EXIT_FAILED)
    print_outcomes(outcomes)
    blocked = [o for o in outcomes if o.status == "gate_failed"]
    if blocked:
        _fail(
            "the quality gate failed, so models were not trained on this data and the app keeps showing "
            "the last good figures:\n"
            + "\n".join(f"  {o.client_id}: {'; '.join(o.gate_failures)}" for o in blocked)
            + "\nSee each client's Data quality page, fix the data or mapping.yml, then run again.",
            EXIT_GATE_FAILED,
        )


def _check_level_rules(settings) -> None:
    """A program's tuned level rules, read before anything runs: a broken file would fail every client."""
    from rich.markup import escape

    from forgeline.program.levels import load_rules, rules_path

    try:
        load_rules(rules_path(settings))
    except ValueError as exc:
        _fail(escape(f"{exc}\nFix the file (or remove it to apply the shipped rules), then run again."))


def _unchanged_program(settings, chosen: list[str]):
    """When nothing changed for any chosen client, their outcomes, without starting Prefect; else None."""
    from datetime import UTC, datetime

    from forgeline.outcomes import new_run_id, unchanged_outcomes, write_program_record

    started = datetime.now(UTC)
    run_id = new_run_id(started)
    found = unchanged_outcomes(settings, chosen, run_id)
    if not chosen or len(found) < len(chosen):
        return None
    outcomes = [found[client_id] for client_id in chosen]
    write_program_record(settings, run_id, started, datetime.now(UTC), outcomes)
    console.print(
        "Nothing changed since the last runs (no new delivery, same mappings and code): the published "
        "results stand."
    )
    from forgeline.program import benchmarks

    if benchmarks.stale(settings):  # a consent decision since the last build: it takes effect now
        summary = benchmarks.build(settings)
        console.print(f"Benchmarks rebuilt after a consent decision: {summary.released} cells released.")
    return outcomes


def print_outcomes(outcomes) -> None:
    table = Table("client", "status", "core rows", "gate", "model: metric vs baseline")
    for o in outcomes:
        rows = sum(o.core_rows.values())
        models = "; ".join(
            f"{m['model_name']}: {m['metric_name']} {m['model_metric']:.3f} vs {m['baseline_metric']:.3f}"
            + (" ★" if m.get("is_champion") else "")
            for m in o.models
        )
        gate = "-" if o.gate_passed is None else ("passed" if o.gate_passed else "FAILED")
        status = f"{o.status}, nothing changed" if o.unchanged_since else o.status
        table.add_row(o.client_id, status, f"{rows:,}", gate, models or "-")
    console.print(table)


# -- models: the registry's versions and their champion ------------------------------------------------
models_app = typer.Typer(
    help="The standard models' registered versions, the champion and its history.", no_args_is_help=True
)
app.add_typer(models_app, name="models")

ReasonOption = Annotated[str, typer.Option("--reason", help="Why: kept in the champion's history.")]
YesOption = Annotated[
    bool, typer.Option("--yes", help="Go ahead even where the champion policy would not have (no prompt).")
]
ByOption = Annotated[str | None, typer.Option("--by", help="Who decides (default: the OS user).")]


def _registry(settings, client_id: str):
    """The program's MLflow registry, in order (ensure_mlflow_store); an error when nothing was trained."""
    from forgeline.standard_models.store import ensure_mlflow_store, store_path, tracking_client

    path = store_path(settings)
    if path is not None and not path.exists():
        _fail(
            f"no model was trained in {settings.home} yet (no MLflow store at {path}): run "
            f"`forgeline run {client_id}` first."
        )
    ensure_mlflow_store(settings)
    return tracking_client(settings)


def _client_models(client, client_id: str) -> list[str]:
    prefix = f"{client_id}__"
    return sorted(m.name for m in client.search_registered_models() if m.name.startswith(prefix))


def _registered(client, client_id: str, model: str) -> str:
    """The registered name of the client's model; an error naming the models it has otherwise."""
    from forgeline.standard_models import registered_model_name

    name = registered_model_name(client_id, model)
    known = _client_models(client, client_id)
    if name not in known:
        names = ", ".join(n.split("__", 1)[1] for n in known) or "none yet"
        _fail(
            f"{client_id} has no registered model {model!r} (registered: {names}). Check the name with "
            f"`forgeline models list {client_id}`, or run `forgeline run {client_id}` to train it."
        )
    return name


def _confirm_override(registered: str, version: str, objections: list[str], yes: bool, verb: str) -> None:
    """Warn when the champion policy would not have chosen this version; go on only with --yes or a yes."""
    from rich.markup import escape

    if not objections:
        return
    console.print(
        f"[yellow]The champion policy would not make version {version} of {registered} champion:[/yellow] "
        + escape("; ".join(objections)),
        soft_wrap=True,
    )
    if yes:
        return
    try:
        confirmed = typer.confirm("Make it champion anyway?", default=False)
    except typer.Abort:  # no terminal to answer on (a script): the same as no
        confirmed = False
    if not confirmed:
        _fail(f"not {verb}: {registered} keeps its champion. Give --yes to override the policy.")


def _change_champion(
    settings,
    config,
    client,
    registered: str,
    version: str,
    expected: str | None,
    reason: str,
    by,
    action: str,
) -> None:
    """Publish the change, then move the alias and record it, under the client's lock (a run may write)."""
    from rich.markup import escape

    from forgeline.changes import follow_republished
    from forgeline.locking import ClientBusy, client_lock
    from forgeline.publish import current_snapshot, publish_champion
    from forgeline.standard_models.champion import current_champion, set_champion

    who = by or _os_user()
    try:
        with client_lock(settings, config.id):
            now = current_champion(client, registered)
            if now != expected:  # changed while the consultant read the warning
                _fail(
                    f"the champion of {registered} changed meanwhile (now version {now or 'none'}); look "
                    f"again with `forgeline models list {config.id}`."
                )
            before = current_snapshot(settings, config.id)
            # As a run does: the snapshot that shows the champion first, then the alias.
            chosen = f"version {version} made champion by hand ({action} by {who}): {reason}"
            snapshot = publish_champion(settings, config.id, registered, version, chosen)
            if snapshot is not None and before is not None:
                follow_republished(settings, config.id, before.name, snapshot.name, registered, version)
            set_champion(client, registered, version, reason, who, action=action)
    except ClientBusy as exc:
        console.print(f"[red]Busy:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(EXIT_BUSY) from None
    console.print(
        f"{registered}: version {version} is champion (was {expected or 'none'}); recorded by {escape(who)}: "
        f"{escape(reason)}",
        soft_wrap=True,
    )
    if snapshot is not None:
        console.print(f"Published {snapshot.name}: the app shows the new champion now.")
    else:
        console.print(
            "The client's published snapshot needed no change (it shows no other version as champion)."
        )


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in this environment (some containers)
        return "unknown"


def _reason_given(reason: str) -> str:
    if not reason.strip():
        raise typer.BadParameter("say why (it is kept in the champion's history)", param_hint="--reason")
    return reason.strip()


@models_app.command("list")
def models_list_command(client_id: str, home: HomeOption = None) -> None:
    """Each registered model's versions (figures, the policy's decision, the champion), then its history."""
    import pandas as pd
    from rich.markup import escape

    from forgeline.clients import get_client
    from forgeline.standard_models.champion import (
        DECISION_TAG,
        METRIC_LABELS,
        champion_history,
        current_champion,
    )
    from forgeline.standard_models.families import FAMILIES

    settings = _settings(home)
    try:
        config = get_client(settings, client_id)
    except ValueError as exc:
        _fail(escape(str(exc)))
    client = _registry(settings, client_id)
    names = _client_models(client, client_id)
    if not names:
        console.print(f"No registered models for {client_id} yet: `forgeline run {client_id}` trains them.")
        return

    def local(at) -> str:
        return pd.Timestamp(at).tz_convert(config.timezone).strftime("%Y-%m-%d %H:%M")

    for name in names:
        champion = current_champion(client, name)
        table = Table(
            "version",
            "trained (local)",
            "holdout vs baseline",
            "holdout positives",
            "champion",
            "decision",
            title=name,
        )
        versions = client.search_model_versions(f"name = '{name}'")
        for v in sorted(versions, key=lambda v: int(v.version)):
            metrics, trained, family = {}, "-", "event"
            try:
                run = client.get_run(v.run_id)
                metrics, trained = (
                    run.data.metrics,
                    local(pd.Timestamp(run.info.start_time, unit="ms", tz="UTC")),
                )
                family = run.data.tags.get("family", family)
            except Exception:  # noqa: BLE001 - a run deleted since: the version is still listed
                pass
            metric = FAMILIES[family].metric
            mine, base = metrics.get(f"holdout_{metric}"), metrics.get(f"baseline_{metric}")
            positives = metrics.get("positives_test")
            label = METRIC_LABELS.get(metric, metric.upper())
            table.add_row(
                str(v.version),
                trained,
                f"{label} {mine:.3f} vs {base:.3f}" if mine is not None and base is not None else "-",
                f"{int(positives):,}" if positives is not None else "-",
                "★ champion" if str(v.version) == champion else "",
                escape((v.tags or {}).get(DECISION_TAG, "-")),
            )
        console.print(table)
        history = champion_history(client, name)
        if not history:
            console.print(f"{name}: no champion change recorded yet.")
            continue
        events = Table(
            "when (local)", "version", "was", "by", "action", "reason", title=f"{name}: champion history"
        )
        for e in reversed(history):
            events.add_row(
                local(e.get("at")),
                str(e.get("version")),
                str(e.get("previous") or "-"),
                escape(str(e.get("by", "-"))),
                str(e.get("action", "promote")),
                escape(str(e.get("reason", ""))),
            )
        console.print(events)


def _champion_target(home: Path | None, client_id: str, model: str) -> tuple[Any, Any, Any, str]:
    """Settings, client config, registry client and registered model name of a champion change."""
    from rich.markup import escape

    from forgeline.clients import get_client

    settings = _settings(home)
    try:
        config = get_client(settings, client_id)
    except ValueError as exc:
        _fail(escape(str(exc)))
    client = _registry(settings, client_id)
    return settings, config, client, _registered(client, client_id, model)


@models_app.command("promote")
def models_promote_command(
    client_id: str,
    model: Annotated[str, typer.Argument(help="The standard model, e.g. defect_prediction.")],
    version: Annotated[str, typer.Argument(help="The registered version to make champion.")],
    reason: ReasonOption,
    yes: YesOption = False,
    by: ByOption = None,
    home: HomeOption = None,
) -> None:
    """Make a version champion by hand (a consultant's override), with the reason kept in its history."""
    from forgeline.standard_models.champion import current_champion, policy_objections, version_problem

    reason = _reason_given(reason)
    settings, config, client, registered = _champion_target(home, client_id, model)
    problem = version_problem(client, registered, version)
    if problem:
        _fail(
            f"not promoted: {problem}. See the versions that can be champion with "
            f"`forgeline models list {client_id}`."
        )
    current = current_champion(client, registered)
    if current == version:
        console.print(f"{registered}: version {version} is champion already; nothing changed.")
        return
    _confirm_override(registered, version, policy_objections(client, registered, version), yes, "promoted")
    _change_champion(settings, config, client, registered, version, current, reason, by, "promote")


@models_app.command("rollback")
def models_rollback_command(
    client_id: str,
    model: Annotated[str, typer.Argument(help="The standard model, e.g. defect_prediction.")],
    reason: ReasonOption,
    yes: YesOption = False,
    by: ByOption = None,
    home: HomeOption = None,
) -> None:
    """Make the previous champion in the history champion again (twice: two champions back)."""
    from forgeline.standard_models.champion import current_champion, policy_objections, previous_champion

    reason = _reason_given(reason)
    settings, config, client, registered = _champion_target(home, client_id, model)
    current = current_champion(client, registered)
    if current is None:
        _fail(
            f"{registered} has no champion to roll back from. Choose one with "
            f"`forgeline models promote {client_id} {model} VERSION --reason TEXT`."
        )
    target = previous_champion(client, registered)
    if target is None:
        _fail(
            f"{registered} has no earlier champion in its history to roll back to (version {current} is "
            f"champion; see `forgeline models list {client_id}`). Choose a version with "
            f"`forgeline models promote {client_id} {model} VERSION --reason TEXT`."
        )
    _confirm_override(registered, target, policy_objections(client, registered, target), yes, "rolled back")
    _change_champion(settings, config, client, registered, target, current, reason, by, "rollback")


@app.command("purge")
def purge_command(
    client_id: Annotated[str, typer.Argument(help="The client to remove from the workspace, everywhere.")],
    yes: Annotated[bool, typer.Option("--yes", help="No confirmation prompt (for scripts).")] = False,
    by: ByOption = None,
    home: HomeOption = None,
) -> None:
    """End an engagement: remove every trace of a client (files, warehouse, snapshots, quality results,
    MLflow, Prefect runs, logins, run records and logs) and write a purge certificate that holds no data."""
    from rich.markup import escape

    from forgeline.locking import ClientBusy
    from forgeline.purge import PurgeError, purging
    from forgeline.standard_models.store import MlflowStoreError

    settings = _settings(home)
    try:
        check_client_id(client_id)
    except ValueError as exc:
        _fail(escape(str(exc)))
    try:
        with purging(settings, client_id) as purge:
            console.print(f"Looking for everything {client_id} left in {settings.home}…")
            inventory = purge.inventory()
            if inventory.empty:
                console.print(f"Nothing is left of {client_id} in {settings.home}: nothing to purge.")
                return
            console.print(f"[bold]A purge of {client_id} removes, for good:[/bold]")
            for line in inventory.lines():
                console.print(f"  {escape(line)}", soft_wrap=True)
            if not yes:
                try:
                    confirmed = typer.confirm(
                        f"Remove every trace of {client_id}? This cannot be undone", default=False
                    )
                except typer.Abort:  # no terminal to answer on (a script): the same as no
                    confirmed = False
                if not confirmed:
                    _fail(f"not purged: {client_id} is kept as it was. Give --yes to purge without a prompt.")
            certificate = purge.run(
                by or _os_user(), progress=lambda line: console.print(escape(line), soft_wrap=True)
            )
    except ClientBusy as exc:
        console.print(f"[red]Busy:[/red] {escape(str(exc))} Nothing was purged.", soft_wrap=True)
        raise typer.Exit(EXIT_BUSY) from None
    except (PurgeError, MlflowStoreError, OSError) as exc:
        _fail(
            f"the purge of {client_id} stopped: {escape(str(exc))} What was removed so far stays removed; "
            f"once the cause is fixed, `forgeline purge {client_id}` finishes the job."
        )
    for line in certificate.remaining:
        console.print(f"[yellow]Still found:[/yellow] {escape(line)}", soft_wrap=True)
    console.print(
        f"{client_id} is purged. Certificate (no data of the client; it identifies it by a salted hash): "
        f"{certificate.path}",
        soft_wrap=True,
    )
    if certificate.remaining:
        _fail("some traces could not be removed (listed above and in the certificate).")


@app.command("report")
def report_command(
    client_id: Annotated[str, typer.Argument(help="The client whose report this is.")],
    period: Annotated[
        str | None,
        typer.Option(
            help="A month (2026-10) or days (2026-10-01..2026-10-31); default: the last full month."
        ),
    ] = None,
    lang: Annotated[str | None, typer.Option(help="ko or en (default: FORGELINE_LANG, else en).")] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the files (default: the current folder; only the monthly schedule files reports "
            "in the client's downloads folder, which its portal lists)."
        ),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Write the client's report, a PDF and an Excel workbook, from its published results only."""
    from rich.markup import escape

    from forgeline import i18n
    from forgeline.i18n import _
    from forgeline.reports import NothingToReport, PeriodError, ReportError, build_report, parse_period

    settings = _settings(home)
    try:
        chosen = i18n.check_language(lang)
    except ValueError:
        raise typer.BadParameter("ko or en", param_hint="--lang") from None
    with i18n.use_language(chosen):
        try:
            check_client_id(client_id)
            wanted = parse_period(period) if period else None
        except (ValueError, PeriodError) as exc:
            _fail(escape(str(exc)))
        folder = out or Path.cwd()  # a consultant's copy never lands on the client's page
        try:
            report = build_report(settings, client_id, wanted, chosen)
            pdf, xlsx = report.write(folder)
        except NothingToReport as exc:
            hint = _("Choose a period inside it with --period.") if exc.span else ""
            _fail(escape(f"{exc} {hint}".strip()))
        except ReportError as exc:
            _fail(escape(str(exc)))
        except OSError as exc:
            _fail(
                escape(
                    _("The report could not be written to {folder}: {error}").format(folder=folder, error=exc)
                )
            )
        console.print(
            _("Report of {client} for {period}:").format(client=client_id, period=report.period.label())
        )
        console.print(f"  {pdf}", soft_wrap=True)
        console.print(f"  {xlsx}", soft_wrap=True)


AddressOption = Annotated[
    str | None,
    typer.Option(
        "--address",
        envvar="FORGELINE_APP_ADDRESS",
        help="Address to listen on (default 127.0.0.1: this machine only; see docs/security.md).",
    ),
]


@app.command("app")
def app_command(
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501,
    address: AddressOption = None,
    home: HomeOption = None,
) -> None:
    """Serve the Forgeline app (consultant workbench and client portal)."""
    settings = _settings(home)
    serve(settings.home, port, address or settings.app_address)


def streamlit_command(port: int, address: str = "127.0.0.1") -> list[str]:
    """The command that serves the app (``forgeline app``, ``make demo`` and the browser test): the
    launcher ``apps/serve.py`` (session cookie, consultant-only metrics and cache clearing), on
    ``address`` (this machine only unless told otherwise)."""
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO_ROOT / "apps" / "serve.py"),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.address",
        address,
    ]
    return command


def serve(home: Path, port: int, address: str) -> None:
    """Serve the app in a child process until it ends. A SIGTERM or SIGHUP to this process is passed on to
    the server (a child would otherwise outlive a terminated parent); Ctrl+C reaches both as before. Not
    exec'd: this process may hold Prefect's temporary API, which it stops at exit."""
    env = {**os.environ, "FORGELINE_HOME": str(home)}
    shown = "localhost" if address == "127.0.0.1" else address
    console.print(f"Serving Forgeline on http://{shown}:{port}  (Ctrl+C to stop)")
    with subprocess.Popen(streamlit_command(port, address), env=env, cwd=REPO_ROOT) as server:

        def pass_on(signum: int, _frame: object) -> None:
            server.send_signal(signum)

        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, pass_on)
        try:
            server.wait()
        except KeyboardInterrupt:
            server.wait()


@app.command("serve-tools")
def serve_tools_command(
    home: HomeOption = None,
    dbt_docs: Annotated[
        bool, typer.Option(help="Run dbt docs generate for each client first (about 10 s a client).")
    ] = True,
) -> None:
    """Serve the stack's own tools for consultants: the MLflow UI, dbt docs and Data Docs (Ctrl+C stops)."""
    from forgeline import tools

    settings = _settings(home)
    settings.tools_dir.mkdir(parents=True, exist_ok=True)  # before the tools: the MLflow UI logs here
    where = tools.urls(settings)
    try:
        with tools.Tools(settings, generate_dbt_docs=dbt_docs, progress=console.print):
            console.print(
                f"MLflow UI:            {where.mlflow}\n"
                f"dbt docs, Data Docs:  {where.docs}\n"
                "Every client's data shows here: for consultants only (Ctrl+C to stop)."
            )
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            threading.Event().wait()
    except OSError as error:  # a port in use
        _fail(f"Could not serve the tools: {error}. Set FORGELINE_MLFLOW_UI_PORT / FORGELINE_DOCS_PORT.")
    except KeyboardInterrupt:
        pass


@app.command("demo")
def demo_command(
    scale: Annotated[str, typer.Option(help="full (the demo) or small (quick look).")] = "full",
    serve_app: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the app afterwards.")] = True,
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501,
    address: AddressOption = None,
    home: HomeOption = None,
) -> None:
    """Prepare the demo program (the clients in `demo/clients`), run it, print the logins, serve the app."""
    from flows.program import program_flow
    from forgeline.auth import DEMO_CONSULTANT, DEMO_PROGRAM_MANAGER, ensure_demo_logins
    from forgeline.demo import prepare_demo_program

    settings = _settings(home)
    console.print(f"Preparing the demo program in {settings.home} ({scale} scale)…")
    clients = prepare_demo_program(settings, scale=scale)
    logins = ensure_demo_logins(settings, clients)
    console.print(f"Running the program: {', '.join(c.id for c in clients)}")
    outcomes = program_flow(home=str(settings.home))
    print_outcomes(outcomes)
    table = Table("login", "password", "sees")
    roles = {DEMO_CONSULTANT: "every client; onboards", DEMO_PROGRAM_MANAGER: "every client; the cohort"}
    for username, password in logins.items():
        table.add_row(username, password, roles.get(username, username))
    console.print(f"App: http://localhost:{port}")
    console.print(table)
    if serve_app:
        serve(settings.home, port, address or settings.app_address)


@app.command("serve-scheduler")
def serve_scheduler_command(
    workers: Annotated[int, typer.Option(help="Process workers to start on this machine.")] = 1,
    limit: Annotated[
        int, typer.Option(help="Flow runs a worker runs at once (a program run takes one).")
    ] = 3,
    join: Annotated[
        str | None, typer.Option(help="Only start workers, for the servers on this host (another machine).")
    ] = None,
    stop: Annotated[bool, typer.Option("--stop", help="Stop what was started here.")] = False,
    home: HomeOption = None,
) -> None:
    """PostgreSQL, a Prefect server, an MLflow server and workers: schedules fire (docs/deploy.md)."""
    from forgeline.deploy import serve_scheduler

    raise typer.Exit(serve_scheduler(get_settings(home), workers, limit, join, stop))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
