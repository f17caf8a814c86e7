"""Onboarding: a factory's sample exports → a checked, saved mapping.yml, without writing code.

For consultants only (it writes client mappings). Samples are kept in the client's own folder
(``clients/<id>/samples/``), never in its landing folder: only ``forgeline ingest`` delivers files.
The mapping's YAML is the source of truth; the widgets edit it (see ``apps/onboarding.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from apps import data, ui
from apps import onboarding as ob
from forgeline import i18n
from forgeline.clients import ClientConfigError
from forgeline.i18n import _
from forgeline.mapping.entities import ENTITIES
from forgeline.mapping.inspect import ColumnProfile, mapped_share
from forgeline.settings import check_client_id, get_settings

NEW = "__new__"
PICK = "onb_client"
FILES = "onb_files"
TOKEN = "_onb_token"
DRAFT_ID = "_onb_draft_id"
MAPPING = "_onb_mapping"  # the mapping text (kept apart from the editor widget, which Streamlit may drop)
NOTES = "_onb_notes"
EDITOR = "onb_yaml"
SAVED = "_onb_saved"
SAVE_ERROR = "_onb_save_error"

user = ui.require_user()
if not user.is_consultant:
    st.error(_("Onboarding is for consultants: a client login may not change mappings."))
    st.stop()

settings = get_settings()
st.title(_("Onboarding"))
st.caption(
    _(
        "A new factory without code: upload sample exports, see what Forgeline reads in them, adjust the "
        "draft mapping, preview it on the samples and save it. Nothing is loaded or published here."
    )
)


# -- callbacks: each edits the mapping text before the page runs again ------------------------------------
def _edit_source(source_name: str, change: Callable[[dict[str, Any]], None]) -> None:
    try:
        doc = ob.load_doc(st.session_state[MAPPING])
    except ValueError:
        return
    source = ob.find_source(doc, source_name)
    if source is not None:
        change(source)
        st.session_state[MAPPING] = ob.dump_doc(doc)


def _targets_changed(source_name: str, column: str, key: str, values: list[str]) -> None:
    _edit_source(source_name, lambda s: ob.set_column_targets(s, column, st.session_state[key], values))


def _unit_changed(source_name: str, column: str, key: str) -> None:
    _edit_source(source_name, lambda s: ob.set_column_unit(s, column, st.session_state[key]))


def _format_changed(source_name: str, column: str, key: str) -> None:
    _edit_source(source_name, lambda s: ob.set_column_format(s, column, st.session_state[key]))


def _map_changed(source_name: str, column: str, taxonomy: str, key: str, rows: list[dict]) -> None:
    mapping = ob.apply_editor_edits(rows, st.session_state[key])
    _edit_source(source_name, lambda s: ob.set_column_map(s, column, taxonomy, mapping))


def _yaml_edited() -> None:
    st.session_state[MAPPING] = st.session_state[EDITOR]


def _save(client_id: str, is_new: bool) -> None:
    try:
        data.require_live(user)  # a callback runs before the page checks the session again
        st.session_state[SAVED] = ob.save(settings, client_id, st.session_state[MAPPING])
        st.session_state.pop(SAVE_ERROR, None)
    except (ClientConfigError, ValueError, OSError) as exc:  # OSError: also AccessDenied
        st.session_state[SAVE_ERROR] = str(exc)
        return
    if is_new:  # from now on it is an existing client: pick it (its draft and samples stay)
        st.session_state[PICK] = client_id


# -- 1. the client ---------------------------------------------------------------------------------------
st.header(_("1 · Client"))
clients = ob.configured_clients(settings, user)
by_id = {c.id: c for c in clients}
if st.session_state.get(PICK) not in (NEW, *by_id):
    st.session_state[PICK] = NEW
choice = st.selectbox(
    _("Client"),
    [NEW, *by_id],
    key=PICK,
    format_func=lambda i: _("New client…") if i == NEW else f"{by_id[i].name} ({i})",
    help=_("Every client with a mapping, published or not yet."),
)
is_new = choice == NEW
if is_new:
    left, right = st.columns(2)
    client_id = left.text_input(
        _("Client id"),
        key="onb_new_id",
        placeholder=_("e.g. {example}").format(example="daehan-molding"),
        help=_("2-40 lower-case letters, digits or hyphens, starting with a letter; it names its folder."),
    ).strip()
    client_name = right.text_input(
        _("Client name"),
        key="onb_new_name",
        placeholder=_("e.g. {example}").format(example="대한몰딩"),
        help=_("As people know it; Korean welcome."),
    ).strip()
    if not client_id or not client_name:
        st.info(_("Enter the new client's id and name."))
        st.stop()
    try:
        check_client_id(client_id)
    except ValueError as exc:
        st.error(str(exc))
        st.stop()
    if client_id in by_id or settings.client_config_path(client_id).exists():
        st.error(_("A client with id `{client}` exists already: pick it above.").format(client=client_id))
        st.stop()
    existing = None
else:
    client_id, client_name = choice, by_id[choice].name
    existing = settings.client_config_path(client_id).read_text(encoding="utf-8")
    st.caption(
        _("{name} · `{client}` · mapping `{path}`").format(
            name=ob.md_escape(client_name), client=client_id, path=settings.client_config_path(client_id)
        )
    )
    if by_id[choice].problem:
        st.warning(_("Its saved mapping does not validate; fix it below (section 4) and save it again."))

# -- 2. samples --------------------------------------------------------------------------------------------
st.header(_("2 · Sample exports"))
uploaded = st.file_uploader(
    _("Sample export files (a few days of each kind of file the factory will deliver)"),
    type=ob.ACCEPTED_TYPES,
    accept_multiple_files=True,
    key=FILES,
)
if not uploaded:
    st.info(_("Upload one or more exports: CSV, TSV, TXT, Excel (xlsx), Parquet or JSON lines."))
    st.stop()
try:
    uploads = tuple({ob.safe_name(f.name): f.getvalue() for f in uploaded}.items())
except ValueError as exc:
    st.error(str(exc))
    st.stop()
if TOKEN not in st.session_state:
    st.session_state[TOKEN] = uuid.uuid4().hex[:12]
folder = ob.samples_dir(settings, client_id, st.session_state[TOKEN])
paths = ob.store_samples(folder, uploads)
st.caption(
    _(
        "{n} file(s) kept in `{folder}`: the client's folder, not its landing folder (nothing is delivered "
        "or loaded)."
    ).format(n=len(paths), folder=folder)
)

# -- 3. what inspect found -------------------------------------------------------------------------------
st.header(_("3 · What Forgeline reads in them"))
with st.spinner(_("Reading the files…")):
    proposal, proposal_error = ob.draft_proposal(client_id, client_name, uploads)
if proposal_error:
    st.warning(ob.md_escape(proposal_error))
elif proposal is not None:
    st.caption(
        _(
            "The draft maps {share} of the columns. Amber rows: confidence below 0.6, check them; grey rows: "
            "nothing maps the column yet."
        ).format(share=i18n.percent(mapped_share(proposal), 0))
    )
profiles_by_file = {}
for upload in uploads:
    profiles, error = ob.file_profiles(proposal, upload)
    profiles_by_file[upload[0]] = profiles
    if error:
        st.error(ob.md_escape(error))
    for profile in profiles:
        sheet = _(" · sheet {sheet}").format(sheet=profile.sheet) if profile.sheet else ""
        st.subheader(upload[0] + sheet, divider="gray")
        st.caption(ob.describe_read(profile))
        for warning in profile.warnings:
            st.warning(ob.md_escape(warning))
        table = ob.inspect_table(profile, ob.decisions_of(proposal, profile))
        st.dataframe(
            ob.style_inspect(table),
            hide_index=True,
            column_config={
                "column": _("Column"),
                "type": _("Type"),
                "time format": _("Time format"),
                "unit in header": _("Unit in header"),
                "examples": st.column_config.TextColumn(_("Examples"), width="medium"),
                "missing": st.column_config.NumberColumn(_("Missing"), format="percent"),
                "proposed": st.column_config.TextColumn(_("Proposed field(s)"), width="large"),
                "confidence": st.column_config.NumberColumn(_("Confidence"), format="%.2f"),
                "why": st.column_config.TextColumn(_("Why"), width="large"),
            },
        )
if proposal is not None:
    for source, notes in proposal.notes.items():
        for note in notes:
            st.info(f"`{source}`: {ob.md_escape(note)}", icon=":material/lightbulb:")

# -- 4. adjust ---------------------------------------------------------------------------------------------
st.header(_("4 · Adjust the mapping"))
draft_id = f"{client_id}:{ob.uploads_digest(uploads)}"
if st.session_state.get(DRAFT_ID) != draft_id:
    # Files added or removed for the same client keep the mapping worked on so far (new files get sources).
    same_client = str(st.session_state.get(DRAFT_ID, "")).partition(":")[0] == client_id
    base = st.session_state[MAPPING] if same_client and MAPPING in st.session_state else existing
    text, notes = ob.initial_text(client_id, client_name, uploads, base)
    st.session_state[MAPPING], st.session_state[NOTES], st.session_state[DRAFT_ID] = text, notes, draft_id
for note in st.session_state.get(NOTES, []):
    st.info(ob.md_escape(note))
st.caption(
    _(
        "Each column: the field(s) it feeds (empty: unmapped), the unit its values are written in, the time "
        "format of times and dates, and a value map for code fields. Changes rewrite the YAML below (its "
        "comments are dropped; the notes above stay)."
    )
)

OPTIONS = ob.target_options()
try:
    doc = ob.load_doc(st.session_state[MAPPING])
except ValueError as exc:
    doc = None
    st.warning(
        _("The YAML below does not parse ({error}): fix it there and the widgets come back.").format(
            error=ob.md_escape(str(exc))
        )
    )


def _key(*parts: str) -> str:
    return "onb::" + "::".join([draft_id, *parts])


def _column_row(source: dict[str, Any], column: ColumnProfile) -> None:
    name = str(source["name"])
    values = list(column.codes) or [e for e in column.examples if e]
    targets = ob.column_targets(source, column.name)
    fields = [ob.target_field(t) for t in targets]
    cells = st.columns([2, 5, 2, 2], vertical_alignment="top")
    cells[0].markdown(f"**{column.name}**")
    cells[0].caption(
        _("{type} · e.g. {examples}").format(type=column.type, examples=", ".join(column.examples[:2]) or "–")
    )
    if used := ob.column_in_expressions(source, column.name):
        cells[0].caption(
            _("read by the expression of {targets}").format(targets=", ".join(f"`{u}`" for u in used))
        )

    key = _key(name, column.name, "targets")
    st.session_state[key] = targets
    cells[1].multiselect(
        _("Feeds ({column})").format(column=column.name),
        list(dict.fromkeys([*targets, *OPTIONS])),
        key=key,
        format_func=ob.target_label,
        placeholder=_("unmapped"),
        label_visibility="collapsed",
        wrap=True,
        on_change=_targets_changed,
        args=(name, column.name, key, values),
    )

    measures = any(f is not None and f.kind for f in fields) or any(t.endswith(ob.TAG) for t in targets)
    key = _key(name, column.name, "unit")
    st.session_state[key] = ob.column_unit(source, column.name)
    unit = cells[2].text_input(
        _("Unit ({column})").format(column=column.name),
        key=key,
        placeholder=column.unit or (_("unit, e.g. ℃, bar, 분") if measures else _("no measure")),
        disabled=not measures,
        label_visibility="collapsed",
        on_change=_unit_changed,
        args=(name, column.name, key),
    )
    ok, message = ob.unit_feedback(unit, targets)
    if message:
        cells[2].caption(f":green[{message}]" if ok else f":red[{message}]")
    elif measures and column.unit:
        cells[2].caption(_("the header says {unit}").format(unit=column.unit))

    if any(f is not None and f.type in ob.TIME_TYPES for f in fields):
        key = _key(name, column.name, "format")
        st.session_state[key] = ob.column_format(source, column.name)
        time_format = cells[3].text_input(
            _("Time format ({column})").format(column=column.name),
            key=key,
            placeholder=column.format if column.format and not column.iso else "ISO 8601",
            help=_("strptime codes, e.g. %Y.%m.%d %H:%M; empty: ISO 8601 (2025-03-04 08:00:00)."),
            label_visibility="collapsed",
            on_change=_format_changed,
            args=(name, column.name, key),
        )
        ok, message = ob.format_feedback(time_format, column)
        if message:
            cells[3].caption(f":green[{message}]" if ok else f":red[{message}]")

    for taxonomy, current in ob.column_maps(source, column.name).items():
        codes = ob.codes_of(taxonomy)
        rows = ob.map_rows(values, current)
        key = _key(name, column.name, "map", taxonomy, ob.digest(current))
        _left, right = st.columns([2, 8])
        right.caption(
            _("Value map of **{column}** → common {taxonomy} codes (empty: not mapped)").format(
                column=column.name, taxonomy=taxonomy
            )
        )
        right.data_editor(
            pd.DataFrame(rows, columns=["value", "code"]),
            key=key,
            num_rows="dynamic",
            hide_index=True,
            column_config={
                "value": st.column_config.TextColumn(_("Value in the export"), required=True),
                "code": st.column_config.SelectboxColumn(
                    _("Common code"),
                    options=sorted(codes),
                    format_func=lambda c, codes=codes: f"{c} · {codes.get(c, '')}",
                ),
            },
            on_change=_map_changed,
            args=(name, column.name, taxonomy, key, rows),
        )


if doc is not None:
    for source in doc.get("sources") or []:
        if not isinstance(source, dict) or "name" not in source:
            continue
        pattern = str(source.get("files", ""))
        with st.container(border=True):
            feeds = [e for e in (source.get("feeds") or {}) if e in ENTITIES]
            st.markdown(
                _("**Source `{source}`** · files `{pattern}` · feeds {entities}").format(
                    source=source["name"],
                    pattern=pattern,
                    entities=", ".join(f"`{e}`" for e in feeds) or _("nothing yet"),
                )
            )
            matching = [n for n, _ in uploads if ob.source_matches(pattern, n)]
            profile = (
                ob.profile_for(profiles_by_file.get(matching[0], []), source.get("sheet"))
                if matching
                else None
            )
            if profile is None:
                st.caption(
                    _("No uploaded sample matches this source's `files:` pattern: edit it in the YAML.")
                )
                continue
            head = st.columns([2, 5, 2, 2])
            titles = [_("Column"), _("Feeds"), _("Unit as delivered"), _("Time format")]
            for cell, title in zip(head, titles, strict=True):
                cell.markdown(f"**{title}**")
            for column in profile.columns:
                _column_row(source, column)

st.session_state[EDITOR] = st.session_state[MAPPING]
with st.expander(_("Advanced: edit the mapping YAML"), expanded=doc is None):
    st.text_area(
        _("Advanced: edit the mapping YAML"),
        key=EDITOR,
        height=480,
        on_change=_yaml_edited,
        label_visibility="collapsed",
        help=_(
            "The whole mapping (reference: docs/mapping.md). Anything the widgets cannot express goes here."
        ),
    )
text = st.session_state[MAPPING]

# -- 5. preview ----------------------------------------------------------------------------------------------
st.header(_("5 · Preview on the samples"))
with st.spinner(_("Running the mapping on the samples…")):
    result = ob.preview(settings, text, client_id, paths)
if result.errors:
    st.error(
        _("The mapping does not validate yet:")
        + "\n\n"
        + "\n".join(ob.problem_markdown(line, message) for line, message in result.errors),
        icon=":material/error:",
    )
elif result.failure:
    st.error(ob.md_escape(result.failure))
elif result.report is not None:
    report = result.report
    if report.compile_error:
        st.error(
            _("The mapping does not fit the samples: {error}").format(
                error=ob.md_escape(report.compile_error)
            )
        )
    for failed in (s for s in report.sources if s.error):
        st.error(_("Source `{source}`: {error}").format(source=failed.name, error=ob.md_escape(failed.error)))
    st.subheader(_("Rows per entity"))
    rows = ob.entity_rows_table(report)
    if rows.empty:
        st.caption(_("No entity gets rows from these samples yet."))
    else:
        tiles = st.columns(min(4, len(rows)))
        for i, row in enumerate(rows.itertuples()):
            tiles[i % len(tiles)].metric(
                row.entity,
                _("{n} rows").format(n=i18n.number(row.rows)),
                border=True,
            )
    st.subheader(_("Sources"))
    st.dataframe(
        ob.sources_table(report),
        hide_index=True,
        column_config={
            "source": _("Source"),
            "sample files": _("Sample files"),
            "rows read": _("Rows read"),
            "unmapped columns": st.column_config.TextColumn(_("Unmapped columns"), width="large"),
            "error": _("Error"),
        },
    )
    unmapped = [
        f"`{s.name}`: " + ", ".join(f"`{c}`" for c in s.unmapped_columns)
        for s in report.sources
        if s.unmapped_columns
    ]
    st.caption(
        _("Columns nothing maps: {columns}").format(columns="; ".join(unmapped))
        if unmapped
        else _("Columns nothing maps: none.")
    )
    problems = ob.problems_table(report)
    st.subheader(
        _("Rows the mapping would quarantine ({n} column(s) and reason(s))").format(n=len(report.problems))
    )
    if problems.empty:
        st.caption(_("None: every mapped cell of the samples converts."))
    else:
        st.dataframe(
            problems,
            hide_index=True,
            column_config={
                "file": _("File"),
                "row": st.column_config.NumberColumn(_("Row"), format="%d"),
                "column": _("Column"),
                "value": _("Value"),
                "field": _("Field"),
                "problem": st.column_config.TextColumn(_("Problem"), width="large"),
                "cells": st.column_config.NumberColumn(_("Cells affected"), format="localized"),
            },
        )
    st.subheader(_("What these data would support"))
    st.dataframe(
        ob.models_table(report),
        hide_index=True,
        column_config={"standard model": _("Standard model"), "with these data": _("With these data")},
    )
    st.dataframe(
        ob.levels_table(report),
        hide_index=True,
        column_config={
            "level": _("Level"),
            "in the samples": _("In the samples"),
            "evidence": st.column_config.TextColumn(_("Evidence"), width="large"),
        },
    )
    st.caption(
        _("A dry run on at most {rows} rows per file; nothing was loaded.").format(
            rows=i18n.number(report.sample_rows)
        )
    )

# -- 6. save ------------------------------------------------------------------------------------------------
st.header(_("6 · Save"))
valid = result.config is not None
st.button(
    _("Save mapping"),
    type="primary",
    icon=":material/save:",
    disabled=not valid,
    on_click=_save,
    args=(client_id, is_new),
)
if not valid:
    st.caption(_("Saving needs a mapping that validates: see the messages above."))
if error := st.session_state.get(SAVE_ERROR):
    st.error(_("Not saved: {error}").format(error=ob.md_escape(error)))
saved = st.session_state.get(SAVED)
if isinstance(saved, ob.Saved) and saved.client_id == client_id:
    if saved.text == text:
        st.success(
            _(
                "Saved `{path}` ({n} earlier version(s) kept in its history). Next: deliver the files with "
                "`forgeline ingest {client} FILES…`, then run `forgeline run {client}`."
            ).format(path=saved.path, n=saved.history, client=client_id),
            icon=":material/check_circle:",
        )
        st.code(f"forgeline ingest {client_id} FILES…\nforgeline run {client_id}", language="bash")
    else:
        st.caption(_("Changed since the last save."))
