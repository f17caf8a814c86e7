"""Data quality: the gate's verdict and expectations, rows per table, loaded files, and for consultants a link
to the Data Docs."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from apps import data, ui

user = ui.require_user()
config = ui.choose_client(user)
ui.client_header("Data quality", config)

info = data.run_info(user, config.id)
if info is None:
    st.info("Nothing published for this client yet: run its engagement first.")
    st.stop()

published = data.client(user, config.id)
if published.figures_held_back:
    kept = f" (run {published.data_run_id})" if published.data_run_id else " (none passed yet)"
    st.info(
        f"This page shows the newest delivery, run {published.run_id}, which failed the quality gate: what "
        f"to fix is below. The KPI and model pages keep showing the last good figures{kept}.",
        icon=":material/history:",
    )

gate = data.gate_results(user, config.id)
failed = gate[~gate["success"].astype(bool)] if len(gate) else gate
run_at = ui.when(info["finished_at"], config.timezone)
if ui.is_missing(info["gate_passed"]):
    st.warning(f"The quality gate did not run for the run of {run_at}.")
elif bool(info["gate_passed"]):
    st.success(f"Quality gate passed: {len(gate)} of {len(gate)} expectations met (run of {run_at}).")
else:
    st.error(
        f"Quality gate FAILED: {len(failed)} of {len(gate)} expectations not met (run of {run_at}). "
        "Models were not retrained on this data."
    )

st.header("Expectations")
if gate.empty:
    st.caption("No expectation results in this snapshot.")
else:
    st.dataframe(
        gate.assign(result=gate["success"].map({True: "met", False: "FAILED"}))[
            ["result", "table_name", "expectation_type", "column_name", "observed", "details"]
        ],
        hide_index=True,
        column_config={
            "result": "Result",
            "table_name": "Table",
            "expectation_type": "Expectation",
            "column_name": "Column",
            "observed": "Observed",
            "details": "Details",
        },
    )

st.header("Rows per table")
profile = data.table_profile(user, config.id)
if profile.empty:
    st.caption("No table profile in this snapshot.")
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
        labels={"row_count": "rows (log scale)", "table": "", "schema_name": "schema"},
        height=max(260, 28 * len(profile)),
    )
    fig.update_yaxes(categoryorder="total ascending")
    ui.chart(fig, key="dq_profile", hovermode="closest")
    st.caption("Empty tables are left out: this client's exports hold no data for them.")

st.header("Loaded files")
batches = data.load_batches(user, config.id)
if batches.empty:
    st.caption("No load records in this snapshot.")
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
            "source_file": "File",
            "raw_table": "Raw table",
            "rows": st.column_config.NumberColumn("Rows", format="localized"),
            "encoding": "Encoding",
            "loaded_at": "Loaded at",
        },
    )
    if not replaced.empty:
        with st.expander(f"Earlier deliveries replaced by a re-delivery ({len(replaced)})"):
            st.dataframe(
                replaced.assign(
                    loaded_at=lambda f: f["loaded_at"].map(lambda t: ui.when(t, config.timezone)),
                    superseded_at=lambda f: f["superseded_at"].map(lambda t: ui.when(t, config.timezone)),
                )[["source_file", "rows", "loaded_at", "superseded_at"]],
                hide_index=True,
                column_config={
                    "source_file": "File",
                    "rows": st.column_config.NumberColumn("Rows", format="localized"),
                    "loaded_at": "Loaded at",
                    "superseded_at": "Replaced at",
                },
            )

refused = data.rejected_files(user, config.id)
if not refused.empty:
    st.subheader(f"Refused files ({len(refused)})")
    st.caption(
        "Nothing from these files was loaded; the other files were. "
        "Fix the mapping and re-read them (`forgeline ingest <client> --retry`), or withdraw them "
        "(`forgeline withdraw <client> <file>`)."
    )
    for row in refused.itertuples():
        target = f" → raw.{row.raw_table}" if row.raw_table else ""  # a link no source takes has none
        st.error(f"**{row.source_file}**{target}: {row.error}", icon=":material/block:")

problems = data.mapping_problems(user, config.id)
if not problems.empty:
    st.subheader(f"Rows quarantined by the mapping ({int(problems['cells'].sum()):,})")
    st.caption(
        "These rows broke a mapping rule (a value that is not a number or time, a code missing from the "
        "value map, an impossible unit, a value out of range, a time after the delivery, an empty required "
        "field) and were left out; the other rows went on. The quality gate blocks training only when a "
        "rule leaves out more than its allowed share (see the gate's `mapping_quarantine` expectations "
        "above). Fix mapping.yml or ask the client for a corrected export; the examples name file and row."
    )
    st.dataframe(
        problems[["column_name", "entity", "field", "problem", "cells", "examples"]],
        hide_index=True,
        column_config={
            "column_name": "Column",
            "entity": "Feeds",
            "field": "Field",
            "problem": "Reason",
            "cells": st.column_config.NumberColumn("Rows", format="localized"),
            "examples": "Where",
        },
    )

if user.is_consultant:  # the full report lists rows as delivered: the consultants' tool
    st.header("Great Expectations Data Docs")
    link = data.data_docs_link(user, config.id)
    if link:
        st.link_button("Open the full validation report", link, icon=":material/open_in_new:")
    else:
        st.caption(
            "The full validation report opens from the Stack tools once `forgeline serve-tools` runs on the "
            "server."
        )
