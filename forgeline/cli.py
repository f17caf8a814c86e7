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

from forgeline import i18n
from forgeline.i18n import N_, _
from forgeline.settings import REPO_ROOT, apply_tool_environment, check_client_id, get_settings

apply_tool_environment()

app = typer.Typer(help="Forgeline: run a smart-factory consulting program.", no_args_is_help=True)
# Soft wrap: a message is never broken inside a path or a file:line, which people copy into an editor.
console = Console(soft_wrap=True)


@app.callback()
def choose_language(
    ctx: typer.Context,
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            envvar="FORGELINE_LANG",
            metavar="ko|en",
            help="Language of the messages: ko or en (default: en).",
        ),
    ] = None,
) -> None:
    """Forgeline: run a smart-factory consulting program."""
    try:
        chosen = i18n.check_language(lang)
    except ValueError:
        raise typer.BadParameter("ko or en", param_hint="--lang") from None
    # Entered here, left when the command's context closes: every message of the command speaks it.
    ctx.with_resource(i18n.use_language(chosen))


# The codes runs, gates and deliveries record, as a person reads them (the codes stay in the records).
STATUS_WORDS = {
    "published": N_("published"),
    "gate_failed": N_("gate failed"),
    "failed": N_("failed"),
    "loaded": N_("loaded"),
    "skipped": N_("skipped"),
    "rejected": N_("rejected"),
    "rejected earlier": N_("rejected earlier"),
    "changing": N_("changing"),
}


def _status(code: str) -> str:
    return _(STATUS_WORDS[code]) if code in STATUS_WORDS else str(code)


def _gate(passed: bool | None) -> str:
    return "-" if passed is None else (_("passed") if passed else _("FAILED"))


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
    console.print("[red]{}[/red] {}".format(_("Error:"), message), soft_wrap=True)
    raise typer.Exit(code)


def _busy(exc: Exception, after: str = "") -> NoReturn:
    """Another process writes the client: one line, exit 75 (``after``: what it means for this command)."""
    from rich.markup import escape

    line = "[red]{}[/red] {}".format(_("Busy:"), escape(str(exc)))
    console.print(f"{line} {after}" if after else line, soft_wrap=True)
    raise typer.Exit(EXIT_BUSY) from None


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
        console.print(
            "[red]{}[/red] {}".format(
                _("{client}: its mapping is not valid and it cannot run:").format(client=client_id), error
            )
        )
    if not clients and not invalid:
        console.print(_no_clients(settings))
        raise typer.Exit(0)
    table = Table(
        _("client"),
        _("name"),
        _("industry"),
        _("sources"),
        _("models"),
        _("last run (local)"),
        _("status"),
        _("gate"),
    )
    table.columns[0].no_wrap = True
    for c in clients:
        info = current_run_info(settings, c.id)
        gate = _gate(bool(info.get("gate_passed")) if info else None)
        finished = (
            pd.Timestamp(info["finished_at"]).tz_convert(c.timezone).strftime("%Y-%m-%d %H:%M")
            if info
            else _("never")
        )
        table.add_row(
            c.id,
            c.name,
            c.industry or "-",
            ", ".join(s.name for s in c.sources) or "-",
            ", ".join(c.models) or "-",
            finished,
            _status(info["status"]) if info else "-",
            gate,
        )
    console.print(table)


NOT_ASSESSED = N_("not assessed yet: no run has passed the quality gate since levels are assessed")


def _step(text: str) -> str:
    """A level rule's step as the report writes it: capitalised, in the current language when shipped."""
    from forgeline.reports import words

    return words.step_title(text[:1].upper() + text[1:])


def _no_clients(settings) -> str:
    return _("No clients in {folder}. Add one with `forgeline add-client` or run `make demo`.").format(
        folder=settings.clients_dir
    )


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
    from forgeline.reports import words

    settings = _settings(home)
    clients = [get_client(settings, client_id)] if client_id else list_clients(settings)
    if not clients:
        _fail(_no_clients(settings))
    if client_id is None:
        table = Table(_("client"), _("level"), "", _("next step"), _("rules"))
        table.columns[0].no_wrap = True
        reached: list[int | None] = []
        for c in clients:
            published = current_level(settings, c.id)
            reached.append(None if published is None else int(published[0]["level"]))
            if published is None:
                table.add_row(c.id, "-", _(NOT_ASSESSED), "", "")
                continue
            summary, evidence = published
            gaps = evidence[(evidence["level"] == summary["next_level"]) & ~evidence["passed"].astype(bool)]
            step = f"L{summary['next_level']}: {_step(gaps.iloc[0]['step'])}" if len(gaps) else "-"
            name = words.label(words.LEVEL_NAMES, int(summary["level"]))
            table.add_row(c.id, str(summary["level"]), name, step, str(summary["rules_version"]))
        console.print(table)
        targets, _path = load_targets(targets_path(settings))
        for goal in progress(pd.Series(reached, dtype="Int64"), targets, datetime.now(UTC).date()):
            console.print(goal.says)
        console.print(_("One client's evidence, rule by rule: `forgeline levels CLIENT`."))
        return
    [config] = clients
    published = current_level(settings, config.id)
    if published is None:
        _fail(f"{config.id}: {_(NOT_ASSESSED)} (`forgeline run {config.id}`).")
    summary, evidence = published
    console.print(
        _(
            "[bold]{client}[/bold] ({name}): level {level}, {level_name} (rules {version}, digest {digest})"
        ).format(
            client=config.id,
            name=escape(config.name),
            level=int(summary["level"]),
            level_name=words.label(words.LEVEL_NAMES, int(summary["level"])),
            version=summary["rules_version"],
            digest=summary["rules_digest"],
        )
    )
    table = Table(_("level"), _("rule"), _("data shows"), _("needs"), "")
    for row in evidence.itertuples(index=False):
        table.add_row(
            f"L{row.level}",
            row.says,
            f"{words.label(words.MEASURE_LABELS, row.measure)}: {figure(row.value, row.kind)}",
            figure(row.at_least, row.kind),
            "[green]{}[/green]".format(_("holds"))
            if row.passed
            else "[yellow]{}[/yellow]".format(_("not yet")),
        )
    console.print(table)
    gaps = evidence[(evidence["level"] == summary["next_level"]) & ~evidence["passed"].astype(bool)]
    if len(gaps):
        console.print(_("To reach level {level}:").format(level=summary["next_level"]))
        for row in gaps.itertuples(index=False):
            console.print(
                "  - "
                + _("{step} (now {value}; needs {needed})").format(
                    step=_step(row.step),
                    value=figure(row.value, row.kind),
                    needed=figure(row.at_least, row.kind),
                )
            )
    found = current_meta(settings, config.id, "recommendations")
    recommended = found["recommendations"] if found else None
    if recommended is not None and len(recommended):
        console.print(
            _("Recommended next (from its own data; the benefit is today's exposure, not a promise):")
        )
        for row in recommended.head(5).itertuples(index=False):
            kind = words.label(words.RECOMMENDATION_KINDS, row.kind)
            console.print(escape(f"  {row.rank}. {words.step_title(row.title)} ({kind}): {row.benefit}."))


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
        raise typer.BadParameter(_("give, withdraw or show"), param_hint="DECISION")
    if decision != "show":
        if not by.strip():
            raise typer.BadParameter(
                _("say who decided, e.g. --by 'Kim Minsu, plant manager'"), param_hint="--by"
            )
        consent.record(settings, client_id, given=decision == "give", by=by, note=note)
        summary = benchmarks.build(settings)
        console.print(
            _(
                "Benchmarks rebuilt: {released} cells released, {suppressed} suppressed ({consenting} "
                "consenting clients)."
            ).format(released=summary.released, suppressed=summary.suppressed, consenting=summary.consenting)
        )
    kept = consent.decisions(settings, client_id)
    if not kept:
        console.print(
            _("{client} has not decided, so its figures are not pooled. Pooling means:").format(
                client=client_id
            )
        )
        console.print(f"  {consent.SCOPES['benchmarks']}.")
        return
    table = Table(_("when (UTC)"), _("scope"), _("decision"), _("by"), _("note"))
    for d in kept:
        table.add_row(
            f"{d.at:%Y-%m-%d %H:%M}", d.scope, _("given") if d.given else _("withdrawn"), d.by, d.note
        )
    console.print(table)
    if consent.has_consented(settings, client_id):
        console.print(_("In force: {client}'s figures are pooled.").format(client=client_id))
    else:
        console.print(_("In force: {client}'s figures are not pooled.").format(client=client_id))


@app.command("benchmarks")
def benchmarks_command(home: HomeOption = None) -> None:
    """Rebuild the pooled benchmarks from the consenting clients' published figures, and show them."""
    from forgeline.program import benchmarks
    from forgeline.reports import words

    settings = _settings(home)
    summary = benchmarks.build(settings)
    store = benchmarks.read_store(settings.benchmarks_path)
    cells = benchmarks.current_cells(store)
    table = Table(_("benchmark"), _("figure"), _("factories"), _("p25"), _("median"), _("p75"))
    for row in cells[cells["status"] == "released"].sort_values(["cell", "metric"]).itertuples(index=False):
        metric = benchmarks.METRICS[row.metric]
        quartiles = (benchmarks.shown(v, metric) for v in (row.p25, row.p50, row.p75))
        table.add_row(row.cell, words.label(words.KPI_LABELS, row.metric), str(int(row.n)), *quartiles)
    if summary.released:
        console.print(table)
    for reason, count in cells.loc[cells["status"] == "suppressed", "reason"].value_counts().items():
        console.print(_("Suppressed, {n} cell(s): {reason}.").format(n=count, reason=reason))
    console.print(
        _(
            "{consenting} consenting clients; {released} cells released, {suppressed} suppressed. Store: "
            "{path}"
        ).format(
            consenting=summary.consenting,
            released=summary.released,
            suppressed=summary.suppressed,
            path=summary.path,
        )
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
            _("[bold]{title}[/bold] · {kind} · {status}, version {version}").format(
                title=current.title,
                kind=_finding_word(current.kind),
                status=_finding_word(current.status),
                version=current.version,
            )
        )
        console.print(current.body, soft_wrap=True)
        for e in current.evidence:
            figures = "; ".join(f"{k} {v}" for k, v in e.figures.items() if v)
            console.print(
                "  "
                + _("evidence: {description} ({figures}; checked on run {run})").format(
                    description=e.description, figures=figures, run=e.checked_run
                ),
                soft_wrap=True,
            )
        table = Table(_("when (UTC)"), _("version"), _("what"), _("by"), _("changed"), _("note"))
        for h in findings.history(settings, client_id, finding_id):
            what = _finding_word(h.action)
            table.add_row(f"{h.at:%Y-%m-%d %H:%M}", str(h.version), what, h.by, ", ".join(h.changed), h.note)
        console.print(table)
        return
    statuses = ("delivered",) if delivered else findings.STATUSES
    listed = findings.findings_for(settings, client_id, statuses=statuses)
    if not listed:
        console.print(
            (
                _("No delivered findings on {client} yet (the app's Workbench).")
                if delivered
                else _("No findings on {client} yet (the app's Workbench).")
            ).format(client=client_id)
        )
        return
    table = Table(_("id"), _("kind"), _("status"), _("v."), _("title"), _("by"), _("written (UTC)"))
    for column in (0, 6):
        table.columns[column].no_wrap = True
    for f in listed:
        written = f"{f.written_at:%Y-%m-%d %H:%M}"
        table.add_row(
            f.finding_id,
            _finding_word(f.kind),
            _finding_word(f.status),
            str(f.version),
            f.title,
            f.author,
            written,
        )
    console.print(table)
    console.print(
        _("One finding's evidence and history: `forgeline findings {client} ID`.").format(client=client_id)
    )


# A finding's kinds, statuses and history actions as people read them (the codes stay in the store).
FINDING_WORDS = {
    "finding": N_("finding"),
    "recommendation": N_("recommendation"),
    "draft": N_("draft"),
    "reviewed": N_("reviewed"),
    "delivered": N_("delivered"),
    "withdrawn": N_("withdrawn"),
    "written": N_("written"),
    "changes_requested": N_("changes requested"),
}


def _finding_word(code: str) -> str:
    return _(FINDING_WORDS[code]) if code in FINDING_WORDS else code.replace("_", " ")


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
        console.print("[red]{}[/red] {}".format(_("Not added:"), exc))
        raise typer.Exit(1) from exc
    path = settings.client_config_path(client_id)
    if path.exists():
        console.print(
            _("[red]Client {client} already exists[/red] ({path}). Edit that file instead.").format(
                client=client_id, path=path
            )
        )
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
                _("{path}: models {unknown} are not in the catalog {catalog}; fix `models:`.").format(
                    path=path, unknown=unknown, catalog=sorted(CATALOG)
                )
            )
    except ValueError as exc:
        path.unlink()
        console.print("[red]{}[/red] {}".format(_("Not added:"), exc))
        raise typer.Exit(1) from exc
    settings.landing_dir(client_id).mkdir(parents=True, exist_ok=True)
    console.print(
        _(
            "Added {client}: mapping {path}, landing folder {landing}. Next: `forgeline check {client}` on "
            "the delivered files."
        ).format(client=client_id, path=path, landing=settings.landing_dir(client_id))
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
        raise typer.BadParameter(_("give it alone: no files, no --retry"), param_hint="--withdraw")
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
        _busy(exc)
    except ValueError as exc:  # ClientConfigError, IngestError: say what to do
        _fail(escape(str(exc)))
    if withdraw_what is not None:
        console.print(escape(withdrawal.describe()), soft_wrap=True)
        return
    table = Table(_("file"), _("raw table"), _("rows"), _("status"))
    for f in report.files:
        table.add_row(escape(str(f.file)), f.raw_table or "-", i18n.number(f.rows), _status(f.status))
    console.print(table)
    for f in report.files:
        if f.superseded:
            console.print(
                _(
                    "{file} replaces its earlier delivery (batch {batches}, kept as history): raw.{table} "
                    "holds the new rows only."
                ).format(file=escape(f.file), batches=", ".join(f.superseded), table=f.raw_table)
            )
    for f in (f for f in report.files if f.status == "changing"):
        console.print(
            "[yellow]{}[/yellow]".format(
                _("{file} changed while it was read: it loads on the next run.").format(file=escape(f.file))
            )
        )
    for name in report.unmatched:
        console.print(
            "[yellow]{}[/yellow]".format(
                _("{file} matches no source in mapping.yml: not loaded.").format(file=escape(name))
            )
        )
    for source in report.undelivered:
        console.print(
            "[yellow]{}[/yellow]".format(
                _("No file delivered yet for source {source}.").format(source=escape(source))
            )
        )
    for error in dict.fromkeys(str(f.error) for f in report.files if f.status == "rejected earlier"):
        console.print(
            "[yellow]{}[/yellow] {}".format(
                _(
                    "Still refused (fix the mapping and run `forgeline ingest {client} --retry`, or "
                    "`forgeline ingest {client} --withdraw FILE`):"
                ).format(client=client_id),
                escape(error),
            )
        )
    if report.rejected:
        _fail(
            escape("\n".join(report.errors))
            + "\n"
            + _("The other files are loaded; fix the refused file(s) and ingest again.")
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
            _(
                "[bold]{source}[/bold]: {n} file(s), {format}, encoding {encoding}, header row {header}"
            ).format(
                source=source,
                n=len(profiles),
                format=first.format,
                encoding=first.encoding,
                header=first.header_row,
            )
        )
    table = Table(_("source"), _("column"), _("→ feeds"), _("confidence"), _("why"))
    for d in proposal.decisions:
        target = f"{d.entity}.{d.target}" if d.mapped else "[yellow]{}[/yellow]".format(_("unmapped"))
        confidence = f"{d.confidence:.2f}" if d.mapped else "-"
        style = "" if not d.mapped or d.confidence >= 0.6 else "[yellow]"
        table.add_row(d.source, d.column, target, f"{style}{confidence}", d.reason)
    console.print(table)
    console.print(
        _("{share} of the columns mapped; confirm the yellow ones.").format(
            share=i18n.percent(mapped_share(proposal), 0)
        )
    )
    text = proposal.to_yaml()
    if not write:
        console.print(text, markup=False, highlight=False)
        return
    path = settings.client_config_path(write)
    if path.exists():  # never overwrite a working mapping with a draft
        draft = path.with_name("mapping.draft.yml")
        draft.write_text(text, encoding="utf-8")
        console.print(
            _("{path} exists: the draft is in {draft}; compare and merge by hand.").format(
                path=path, draft=draft
            )
        )
        return
    try:
        save_mapping_text(settings, write, text)
    except ClientConfigError as exc:
        _fail(str(exc))
    settings.landing_dir(write).mkdir(parents=True, exist_ok=True)
    console.print(
        _("Draft saved as {path}. Next: `forgeline check {client} {files}`").format(
            path=path, client=write, files=" ".join(str(f) for f in files)
        )
    )


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
    sources = Table(_("source"), _("files"), _("rows read"), _("columns nothing maps"), _("problem"))
    for s in report.sources:
        sources.add_row(
            s.name,
            str(len(s.files)) if s.files else "[yellow]{}[/yellow]".format(_("none delivered")),
            i18n.number(s.rows_read),
            ", ".join(s.unmapped_columns) or "-",
            f"[red]{s.error}[/red]" if s.error else "-",
        )
    console.print(sources)
    if report.compile_error:
        _fail(report.compile_error)
    entities = Table(_("entity (mapped)"), _("rows"))
    for name, rows in report.entity_rows.items():
        if rows:
            entities.add_row(name, i18n.number(rows))
    console.print(entities)
    if report.problems:
        quarantined = Table(
            _("entity"), _("rule"), _("rows quarantined"), _("of delivered"), _("share"), _("gate allows")
        )
        for entity, rule, rows, delivered, share, allowed in report.quarantine:
            over = share > allowed
            quarantined.add_row(
                entity,
                rule,
                i18n.number(rows),
                i18n.number(delivered),
                f"[red]{i18n.percent(share)}[/red]" if over else i18n.percent(share),
                i18n.percent(allowed, 0),
            )
        console.print(
            "[yellow]{}[/yellow]".format(_("Rows the mapping quarantines (left out, with the reason):"))
        )
        console.print(quarantined)
        for problem in report.problems[:20]:
            console.print(f"  • {problem.describe()}")
    supports = Table(_("standard model"), _("the mapped data"))
    for model, verdict in report.models.items():
        supports.add_row(model, verdict)
    console.print(supports)
    levels = Table(_("level"), _("evidence"), _("in the data"))
    for level, met, meaning in report.levels:
        levels.add_row(f"L{level}", meaning, _("yes") if met else _("not yet"))
    console.print(levels)
    if report.sample_rows:
        console.print(
            _("(a dry run on at most {rows} rows per file; nothing was loaded)").format(
                rows=i18n.number(report.sample_rows)
            )
        )
    if not report.ok:
        raise typer.Exit(1)
    if report.blocking:
        _fail(
            _(
                "the quality gate would block training: {rules}. Fix mapping.yml (column, unit, format, "
                "value map, range) or ask the client for a corrected export."
            ).format(
                rules="; ".join(
                    _("{entity} rule {rule}: {share} quarantined").format(
                        entity=blocked[0], rule=blocked[1], share=i18n.percent(blocked[4])
                    )
                    for blocked in report.blocking
                )
            )
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
        _busy(exc)
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
        _fail(_("not added: give exactly one of --client ID, --consultant or --program-manager."))
    role = "consultant" if consultant else "program_manager" if program_manager else "client"
    try:
        if client_id:
            get_client(settings, client_id)  # the client must exist
        password = _ask_password(_("Password"))
        set_login(
            settings,
            username,
            password,
            role,
            display_name or username,
            client_id,
        )
    except ValueError as exc:
        _fail(_("not added: {error}").format(error=exc))
    sees = client_id or _("every client")
    console.print(
        _("Login {login} saved in {path}; it sees {sees}.").format(
            login=username, path=settings.users_path, sees=sees
        )
    )


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
        _fail(_("not changed: There is no login {login!r}.").format(login=username))
    try:
        reset_password(settings, username, _ask_password(_("New password")))
    except ValueError as exc:
        _fail(_("not changed: {error}").format(error=exc))
    console.print(_("The password of {login} is set; its sessions have ended.").format(login=username))


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
        console.print(
            _("The failed logins of {login} are forgotten: it can log in again now.").format(login=username)
        )
    else:
        console.print(_("{login} had no recent failed logins.").format(login=username))


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
            _(
                "the quality gate failed, so models were not trained on this data and the app keeps showing "
                "the last good figures:"
            )
            + "\n"
            + "\n".join(f"  {o.client_id}: {'; '.join(o.gate_failures)}" for o in blocked)
            + "\n"
            + _("See each client's Data quality page, fix the data or mapping.yml, then run again."),
            EXIT_GATE_FAILED,
        )


def _check_level_rules(settings) -> None:
    """A program's tuned level rules, read before anything runs: a broken file would fail every client."""
    from rich.markup import escape

    from forgeline.program.levels import load_rules, rules_path

    try:
        load_rules(rules_path(settings))
    except ValueError as exc:
        _fail(
            escape(f"{exc}\n" + _("Fix the file (or remove it to apply the shipped rules), then run again."))
        )


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
        _(
            "Nothing changed since the last runs (no new delivery, same mappings and code): the published "
            "results stand."
        )
    )
    from forgeline.program import benchmarks

    if benchmarks.stale(settings):  # a consent decision since the last build: it takes effect now
        summary = benchmarks.build(settings)
        console.print(
            _("Benchmarks rebuilt after a consent decision: {released} cells released.").format(
                released=summary.released
            )
        )
    return outcomes


def print_outcomes(outcomes) -> None:
    table = Table(_("client"), _("status"), _("core rows"), _("gate"), _("model: metric vs baseline"))
    for o in outcomes:
        rows = sum(o.core_rows.values())
        models = "; ".join(
            _("{model}: {metric} {value} vs {baseline}").format(
                model=m["model_name"],
                metric=m["metric_name"],
                value=i18n.number(m["model_metric"], 3),
                baseline=i18n.number(m["baseline_metric"], 3),
            )
            + (" ★" if m.get("is_champion") else "")
            for m in o.models
        )
        status = (
            _("{status}, nothing changed").format(status=_status(o.status))
            if o.unchanged_since
            else _status(o.status)
        )
        table.add_row(o.client_id, status, i18n.number(rows), _gate(o.gate_passed), models or "-")
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
            _(
                "no model was trained in {home} yet (no MLflow store at {path}): run "
                "`forgeline run {client}` first."
            ).format(home=settings.home, path=path, client=client_id)
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
        names = ", ".join(n.split("__", 1)[1] for n in known) or _("none yet")
        _fail(
            _(
                "{client} has no registered model {model!r} (registered: {names}). Check the name with "
                "`forgeline models list {client}`, or run `forgeline run {client}` to train it."
            ).format(client=client_id, model=model, names=names)
        )
    return name


def _confirm_override(registered: str, version: str, objections: list[str], yes: bool, verb: str) -> None:
    """Warn when the champion policy would not have chosen this version; go on only with --yes or a yes.
    ``verb``: what a refusal says, with a {model} field."""
    from rich.markup import escape

    if not objections:
        return
    console.print(
        "[yellow]{}[/yellow] ".format(
            _("The champion policy would not make version {version} of {model} champion:").format(
                version=version, model=registered
            )
        )
        + escape("; ".join(objections)),
        soft_wrap=True,
    )
    if yes:
        return
    try:
        confirmed = typer.confirm(_("Make it champion anyway?"), default=False)
    except typer.Abort:  # no terminal to answer on (a script): the same as no
        confirmed = False
    if not confirmed:
        _fail(verb.format(model=registered) + " " + _("Give --yes to override the policy."))


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
                    _(
                        "the champion of {model} changed meanwhile (now version {now}); look again with "
                        "`forgeline models list {client}`."
                    ).format(model=registered, now=now or _("none"), client=config.id)
                )
            before = current_snapshot(settings, config.id)
            # As a run does: the snapshot that shows the champion first, then the alias.
            chosen = f"version {version} made champion by hand ({action} by {who}): {reason}"
            snapshot = publish_champion(settings, config.id, registered, version, chosen)
            if snapshot is not None and before is not None:
                follow_republished(settings, config.id, before.name, snapshot.name, registered, version)
            set_champion(client, registered, version, reason, who, action=action)
    except ClientBusy as exc:
        _busy(exc)
    console.print(
        _("{model}: version {version} is champion (was {was}); recorded by {who}: {reason}").format(
            model=registered,
            version=version,
            was=expected or _("none"),
            who=escape(who),
            reason=escape(reason),
        ),
        soft_wrap=True,
    )
    if snapshot is not None:
        console.print(
            _("Published {snapshot}: the app shows the new champion now.").format(snapshot=snapshot.name)
        )
    else:
        console.print(
            _("The client's published snapshot needed no change (it shows no other version as champion).")
        )


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in this environment (some containers)
        return "unknown"


def _reason_given(reason: str) -> str:
    if not reason.strip():
        raise typer.BadParameter(_("say why (it is kept in the champion's history)"), param_hint="--reason")
    return reason.strip()


@models_app.command("list")
def models_list_command(client_id: str, home: HomeOption = None) -> None:
    """Each registered model's versions (figures, the policy's decision, the champion), then its history."""
    import pandas as pd
    from rich.markup import escape

    from forgeline.clients import get_client
    from forgeline.standard_models.champion import (
        METRIC_LABELS,
        champion_history,
        current_champion,
        decision_words,
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
        console.print(
            _("No registered models for {client} yet: `forgeline run {client}` trains them.").format(
                client=client_id
            )
        )
        return

    def local(at) -> str:
        return pd.Timestamp(at).tz_convert(config.timezone).strftime("%Y-%m-%d %H:%M")

    for name in names:
        champion = current_champion(client, name)
        table = Table(
            _("version"),
            _("trained (local)"),
            _("holdout vs baseline"),
            _("holdout positives"),
            _("champion"),
            _("decision"),
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
            label = _(METRIC_LABELS[metric]) if metric in METRIC_LABELS else metric.upper()
            table.add_row(
                str(v.version),
                trained,
                _("{metric} {value} vs {baseline}").format(
                    metric=label, value=i18n.number(mine, 3), baseline=i18n.number(base, 3)
                )
                if mine is not None and base is not None
                else "-",
                i18n.number(int(positives)) if positives is not None else "-",
                "★ " + _("champion") if str(v.version) == champion else "",
                escape(decision_words(v.tags)),
            )
        console.print(table)
        history = champion_history(client, name)
        if not history:
            console.print(_("{model}: no champion change recorded yet.").format(model=name))
            continue
        events = Table(
            _("when (local)"),
            _("version"),
            _("was"),
            _("by"),
            _("action"),
            _("reason"),
            title=_("{model}: champion history").format(model=name),
        )
        for e in reversed(history):
            events.add_row(
                local(e.get("at")),
                str(e.get("version")),
                str(e.get("previous") or "-"),
                escape(str(e.get("by", "-"))),
                _action(str(e.get("action", "promote"))),
                escape(str(e.get("reason", ""))),
            )
        console.print(events)


# A champion change's action as people read it (the code stays in the history).
ACTION_WORDS = {"promote": N_("promote"), "rollback": N_("rollback")}


def _action(code: str) -> str:
    return _(ACTION_WORDS[code]) if code in ACTION_WORDS else code


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
            _(
                "not promoted: {problem}. See the versions that can be champion with "
                "`forgeline models list {client}`."
            ).format(problem=problem, client=client_id)
        )
    current = current_champion(client, registered)
    if current == version:
        console.print(
            _("{model}: version {version} is champion already; nothing changed.").format(
                model=registered, version=version
            )
        )
        return
    _confirm_override(
        registered,
        version,
        policy_objections(client, registered, version),
        yes,
        _("not promoted: {model} keeps its champion."),
    )
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
            _(
                "{registered} has no champion to roll back from. Choose one with "
                "`forgeline models promote {client} {model} VERSION --reason TEXT`."
            ).format(registered=registered, client=client_id, model=model)
        )
    target = previous_champion(client, registered)
    if target is None:
        _fail(
            _(
                "{registered} has no earlier champion in its history to roll back to (version {current} is "
                "champion; see `forgeline models list {client}`). Choose a version with "
                "`forgeline models promote {client} {model} VERSION --reason TEXT`."
            ).format(registered=registered, current=current, client=client_id, model=model)
        )
    _confirm_override(
        registered,
        target,
        policy_objections(client, registered, target),
        yes,
        _("not rolled back: {model} keeps its champion."),
    )
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
            console.print(
                _("Looking for everything {client} left in {home}…").format(
                    client=client_id, home=settings.home
                )
            )
            inventory = purge.inventory()
            if inventory.empty:
                console.print(
                    _("Nothing is left of {client} in {home}: nothing to purge.").format(
                        client=client_id, home=settings.home
                    )
                )
                return
            console.print(
                "[bold]{}[/bold]".format(_("A purge of {client} removes, for good:").format(client=client_id))
            )
            for line in inventory.lines():
                console.print(f"  {escape(line)}", soft_wrap=True)
            if not yes:
                try:
                    confirmed = typer.confirm(
                        _("Remove every trace of {client}? This cannot be undone").format(client=client_id),
                        default=False,
                    )
                except typer.Abort:  # no terminal to answer on (a script): the same as no
                    confirmed = False
                if not confirmed:
                    _fail(
                        _(
                            "not purged: {client} is kept as it was. Give --yes to purge without a prompt."
                        ).format(client=client_id)
                    )
            certificate = purge.run(
                by or _os_user(), progress=lambda line: console.print(escape(line), soft_wrap=True)
            )
    except ClientBusy as exc:
        _busy(exc, _("Nothing was purged."))
    except (PurgeError, MlflowStoreError, OSError) as exc:
        _fail(
            _(
                "the purge of {client} stopped: {error} What was removed so far stays removed; once the "
                "cause is fixed, `forgeline purge {client}` finishes the job."
            ).format(client=client_id, error=escape(str(exc)))
        )
    for line in certificate.remaining:
        console.print("[yellow]{}[/yellow] {}".format(_("Still found:"), escape(line)), soft_wrap=True)
    console.print(
        _(
            "{client} is purged. Certificate (no data of the client; it identifies it by a salted hash): "
            "{path}"
        ).format(client=client_id, path=certificate.path),
        soft_wrap=True,
    )
    if certificate.remaining:
        _fail(_("some traces could not be removed (listed above and in the certificate)."))


@app.command("report")
def report_command(
    client_id: Annotated[str, typer.Argument(help="The client whose report this is.")],
    period: Annotated[
        str | None,
        typer.Option(
            help="A month (2026-10) or days (2026-10-01..2026-10-31); default: the last full month."
        ),
    ] = None,
    lang: Annotated[
        str | None, typer.Option(help="ko or en (default: the global --lang, FORGELINE_LANG, else en).")
    ] = None,
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

    from forgeline.reports import NothingToReport, PeriodError, ReportError, build_report, parse_period

    settings = _settings(home)
    try:
        chosen = i18n.check_language(lang) if lang else i18n.current_language()
    except ValueError:
        raise typer.BadParameter(_("ko or en"), param_hint="--lang") from None
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
    console.print(
        _("Serving Forgeline on {url}  (Ctrl+C to stop)").format(url=f"http://{shown}:{port}"), soft_wrap=True
    )
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
                + _("Every client's data shows here: for consultants only (Ctrl+C to stop).")
            )
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            threading.Event().wait()
    except OSError as error:  # a port in use
        _fail(
            _(
                "Could not serve the tools: {error}. Set FORGELINE_MLFLOW_UI_PORT / FORGELINE_DOCS_PORT."
            ).format(error=error)
        )
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
    console.print(
        _("Preparing the demo program in {home} ({scale} scale)…").format(home=settings.home, scale=scale)
    )
    clients = prepare_demo_program(settings, scale=scale)
    logins = ensure_demo_logins(settings, clients)
    console.print(_("Running the program: {clients}").format(clients=", ".join(c.id for c in clients)))
    outcomes = program_flow(home=str(settings.home))
    print_outcomes(outcomes)
    table = Table(_("login"), _("password"), _("sees"))
    roles = {
        DEMO_CONSULTANT: _("every client; onboards"),
        DEMO_PROGRAM_MANAGER: _("every client; the cohort"),
    }
    for username, password in logins.items():
        table.add_row(username, password, roles.get(username, username))
    console.print(_("App: {url}").format(url=f"http://localhost:{port}"))
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
