"""Data quality: the gate's verdict and checks, what each table received, loaded and refused files.

A client login reads it in plain words (what was checked and what was found, its own file names); no table,
expectation or server path of the platform. Consultants keep the technical detail: expectation names, raw
and core tables, the commands that fix a delivery and a link to the Data Docs on the stack's tools."""

from __future__ import annotations

from pathlib import PurePosixPath

import pandas as pd
import plotly.express as px
import streamlit as st

from apps import data, ui
from forgeline.i18n import _
from forgeline.reports import words

user = ui.require_user()
plain = user.is_client  # a factory's staff: plain words only


def table_words(name: str) -> str:
    """A core table as a factory manager names what it holds: 'fct_machine_states' -> 'machine states'."""
    if name in words.TABLE_WORDS:
        return words.label(words.TABLE_WORDS, name)
    return name.removeprefix("fct_").removeprefix("dim_").replace("_", " ")


config = ui.choose_client(user)
ui.client_header(_("Data quality"), config)

info = data.run_info(user, config.id)
if info is None:
    st.info(_("Nothing published for this client yet: run its engagement first."))
    st.stop()

published = data.client(user, config.id)
if published.figures_held_back and plain:
    st.info(
        _(
            "This page shows your newest delivery, which did not pass the quality checks: what to fix is "
            "below. The other pages keep showing the figures of your last delivery that passed."
        ),
        icon=":material/history:",
    )
elif published.figures_held_back:
    kept = _("run {run}").format(run=published.data_run_id) if published.data_run_id else _("none passed yet")
    st.info(
        _(
            "This page shows the newest delivery, run {run}, which failed the quality gate: what to fix is "
            "below. The KPI and model pages keep showing the last good figures ({kept})."
        ).format(run=published.run_id, kept=kept),
        icon=":material/history:",
    )

gate = data.gate_results(user, config.id)
failed = gate[~gate["success"].astype(bool)] if len(gate) else gate
run_at = ui.when(info["finished_at"], config.timezone)
if plain:
    if ui.is_missing(info["gate_passed"]):
        st.warning(_("Your delivery of {when} has not been checked yet.").format(when=run_at))
    elif bool(info["gate_passed"]):
        st.success(
            _("Your delivery passed all {n} quality checks (checked {when}).").format(
                n=len(gate), when=run_at
            )
        )
    else:
        st.warning(
            _(
                "{failed} of {n} quality checks found a problem in your delivery (checked {when}); its "
                "figures are not used until it is fixed."
            ).format(failed=len(failed), n=len(gate), when=run_at)
        )
elif ui.is_missing(info["gate_passed"]):
    st.warning(_("The quality gate did not run for the run of {when}.").format(when=run_at))
elif bool(info["gate_passed"]):
    st.success(
        _("Quality gate passed: {n} of {n} expectations met (run of {when}).").format(
            n=len(gate), when=run_at
        )
    )
else:
    st.error(
        _(
            "Quality gate FAILED: {failed} of {n} expectations not met (run of {when}). Models were not "
            "retrained on this data."
        ).format(failed=len(failed), n=len(gate), when=run_at)
    )

st.header(_("Checks") if plain else _("Expectations"))
if gate.empty:
    st.caption(_("No check results yet.") if plain else _("No expectation results in this snapshot."))
elif plain:
    # What went wrong, in the words the report uses; never a check's or a table's name.
    for row in failed.to_dict("records"):
        st.warning(words.failed_check(row), icon=":material/report:")
    checked = sorted({table_words(t) for t in gate["table_name"] if t in words.TABLE_WORDS})
    st.caption(
        _(
            "{ok} of {n} checks found nothing wrong. They look for missing values, records delivered twice, "
            "values outside a plausible range and values that could not be read, in: {tables}."
        ).format(ok=len(gate) - len(failed), n=len(gate), tables=", ".join(checked))
    )
else:
    st.dataframe(
        gate.assign(result=gate["success"].map({True: _("met"), False: _("FAILED")}))[
            ["result", "table_name", "expectation_type", "column_name", "observed", "details"]
        ],
        hide_index=True,
        column_config={
            "result": _("Result"),
            "table_name": _("Table"),
            "expectation_type": _("Expectation"),
            "column_name": _("Column"),
            "observed": _("Observed"),
            "details": _("Details"),
        },
    )

st.header(_("What we received") if plain else _("Rows per table"))
profile = data.table_profile(user, config.id)
if profile.empty:
    st.caption(_("Nothing counted yet.") if plain else _("No table profile in this snapshot."))
elif plain:
    # The standardized records only, named by what they hold (the platform's own tables are not the client's).
    kept = profile[(profile["schema_name"] == "core") & (profile["row_count"] > 0)]
    st.dataframe(
        kept.assign(what=kept["table_name"].map(table_words))[["what", "row_count"]],
        hide_index=True,
        column_config={
            "what": _("Records"),
            "row_count": st.column_config.NumberColumn(_("How many"), format="localized"),
        },
    )
else:
    profile = profile[profile["row_count"] > 0].assign(
        table=lambda f: f["schema_name"] + "." + f["table_name"],
        rows=lambda f: f["row_count"].map(ui.number),
    )
    fig = px.bar(
        profile,
        x="row_count",
        y="table",
        color="schema_name",
        orientation="h",
        text="rows",
        log_x=True,
        labels={"row_count": _("rows (log scale)"), "table": "", "schema_name": _("schema")},
        height=max(260, 28 * len(profile)),
    )
    fig.update_yaxes(categoryorder="total ascending")
    ui.chart(fig, key="dq_profile", hovermode="closest")
    st.caption(_("Empty tables are left out: this client's exports hold no data for them."))

st.header(_("Loaded files"))
batches = data.load_batches(user, config.id)
if batches.empty:
    st.caption(_("No load records in this snapshot."))
elif plain:
    status = batches.get("status", pd.Series("loaded", index=batches.index))
    loaded = batches[status != "superseded"]
    st.dataframe(
        loaded.assign(
            source_file=loaded["source_file"].map(lambda f: PurePosixPath(str(f)).name),  # its own file name
            loaded_at=loaded["loaded_at"].map(lambda t: ui.when(t, config.timezone)),
        )[["source_file", "rows", "loaded_at"]],
        hide_index=True,
        column_config={
            "source_file": _("File"),
            "rows": st.column_config.NumberColumn(_("Rows"), format="localized"),
            "loaded_at": _("Loaded at"),
        },
    )
    st.caption(_("A file delivered again under the same name replaces the earlier one."))
else:
    # A file delivered again under the same name replaces the earlier delivery; that one is kept as history.
    status = batches.get("status", pd.Series("loaded", index=batches.index))  # older snapshots lack it
    replaced = batches[status == "superseded"]
    st.dataframe(
        batches[status != "superseded"].assign(
            loaded_at=lambda f: f["loaded_at"].map(lambda t: ui.when(t, config.timezone))
        )[["source_file", "raw_table", "rows", "encoding", "loaded_at"]],
        hide_index=True,
        column_config={
            "source_file": _("File"),
            "raw_table": _("Raw table"),
            "rows": st.column_config.NumberColumn(_("Rows"), format="localized"),
            "encoding": _("Encoding"),
            "loaded_at": _("Loaded at"),
        },
    )
    if not replaced.empty:
        with st.expander(_("Earlier deliveries replaced by a re-delivery ({n})").format(n=len(replaced))):
            st.dataframe(
                replaced.assign(
                    loaded_at=lambda f: f["loaded_at"].map(lambda t: ui.when(t, config.timezone)),
                    superseded_at=lambda f: f["superseded_at"].map(lambda t: ui.when(t, config.timezone)),
                )[["source_file", "rows", "loaded_at", "superseded_at"]],
                hide_index=True,
                column_config={
                    "source_file": _("File"),
                    "rows": st.column_config.NumberColumn(_("Rows"), format="localized"),
                    "loaded_at": _("Loaded at"),
                    "superseded_at": _("Replaced at"),
                },
            )

refused = data.rejected_files(user, config.id)
if not refused.empty:
    st.subheader(_("Refused files ({n})").format(n=len(refused)))
if not refused.empty and plain:
    st.caption(
        _("Nothing from these files was loaded; your other files were. Your consultant looks at them.")
    )
    for name in sorted({PurePosixPath(str(f)).name for f in refused["source_file"]}):
        st.warning(
            _("**{file}** could not be read in the agreed format.").format(file=name), icon=":material/block:"
        )
elif not refused.empty:
    st.caption(
        _(
            "Nothing from these files was loaded; the other files were. Fix the mapping and re-read them "
            "(`{retry}`), or withdraw them (`{withdraw}`)."
        ).format(retry="forgeline ingest <client> --retry", withdraw="forgeline withdraw <client> <file>")
    )
    for row in refused.itertuples():
        target = f" → raw.{row.raw_table}" if row.raw_table else ""  # a link no source takes has none
        st.error(f"**{row.source_file}**{target}: {row.error}", icon=":material/block:")

problems = data.mapping_problems(user, config.id)
if not problems.empty:
    left_out = int(problems["cells"].sum())
    title = _("Rows left out ({n})") if plain else _("Rows quarantined by the mapping ({n})")
    st.subheader(title.format(n=ui.number(left_out)))
if not problems.empty and plain:
    st.caption(
        _(
            "These rows hold a value that could not be read (not a number or a time, an unknown code, a "
            "value out of its range, an empty required field) and were left out; the other rows went on. The "
            "examples name the file and the row."
        )
    )
    st.dataframe(
        problems[["column_name", "problem", "cells", "examples"]],
        hide_index=True,
        column_config={
            "column_name": _("Column"),
            "problem": _("Reason"),
            "cells": st.column_config.NumberColumn(_("Rows"), format="localized"),
            "examples": _("Where"),
        },
    )
elif not problems.empty:
    st.caption(
        _(
            "These rows broke a mapping rule (a value that is not a number or time, a code missing from "
            "the value map, an impossible unit, a value out of range, a time after the delivery, an empty "
            "required field) and were left out; the other rows went on. The quality gate blocks training "
            "only when a rule leaves out more than its allowed share (see the gate's `mapping_quarantine` "
            "expectations above). Fix mapping.yml or ask the client for a corrected export; the examples "
            "name file and row."
        )
    )
    st.dataframe(
        problems[["column_name", "entity", "field", "problem", "cells", "examples"]],
        hide_index=True,
        column_config={
            "column_name": _("Column"),
            "entity": _("Feeds"),
            "field": _("Field"),
            "problem": _("Reason"),
            "cells": st.column_config.NumberColumn(_("Rows"), format="localized"),
            "examples": _("Where"),
        },
    )

if user.is_consultant:  # the full report lists rows as delivered: the consultants' tool, never a path
    st.header(_("Great Expectations Data Docs"))
    link = data.data_docs_link(user, config.id)
    if link:
        st.link_button(_("Open the full validation report"), link, icon=":material/open_in_new:")
    else:
        st.caption(
            _(
                "The full validation report opens from the Stack tools once `forgeline serve-tools` runs on "
                "the server."
            )
        )
