"""Workbench: the consultants' findings and recommendations for one engagement, each with its evidence from
the client's published results, from draft through review to delivery, with every version's history.

For consultants only (it writes findings); the rules are forgeline/program/findings.py's, the access
checks apps/data.py's. The client sees delivered findings on its level page (apps/findings_view.py).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from apps import data, findings_view, ui
from forgeline import i18n
from forgeline.auth import AccessDenied
from forgeline.i18n import N_, _
from forgeline.program.findings import KINDS, KPIS, STATUS_WORDS, EvidenceError, FindingError

NEW = "__new__"
PICK = "wb_pick"  # the finding open on the page
FLASH = "_wb_flash"  # what the last action did (kept across the rerun its callback causes)
ERROR = "_wb_error"
EVIDENCE_LABELS = {
    "kpi_chart": N_("KPI chart for a period"),
    "model_result": N_("Model result"),
    "operating_window": N_("Operating window"),
    "level_gap": N_("Level gap"),
}
# The store's codes as a consultant reads them (the codes stay in the store and in the tables' data).
KIND_WORDS = {"finding": N_("finding"), "recommendation": N_("recommendation")}
ACTION_WORDS = {
    "written": N_("written"),
    "changes_requested": N_("changes requested"),
    "reviewed": N_("reviewed"),
    "delivered": N_("delivered"),
    "withdrawn": N_("withdrawn"),
}
FIELD_WORDS = {"kind": N_("kind"), "title": N_("title"), "body": N_("text"), "evidence": N_("evidence")}


def words(table: dict[str, str], code: str) -> str:
    """A code's words in the page's language; the code itself when the table does not know it."""
    return _(table[code]) if code in table else str(code)


user = ui.require_user()
if not user.is_consultant:
    st.error(_("The workbench is for consultants: a client sees the findings delivered to it."))
    st.stop()
config = ui.choose_client(user)
ui.client_header(_("Workbench"), config)
st.caption(
    _(
        "Findings and recommendations for this engagement, each linked to its evidence in the client's "
        "published results. A draft is reviewed by another consultant, then delivered; every edit is a new "
        "version that goes through review again, and the client keeps the version delivered last until then."
    )
)


# -- callbacks: each calls data.py and says what happened on the next run -----------------------------------
def _act(action: Any, done: str, open_id: str | None = None) -> None:
    """Run ``action``; ``done`` is a message marked with N_ (translated here, on the callback's run)."""
    try:
        found = action()
    except (FindingError, LookupError, AccessDenied) as exc:  # AccessDenied: the session ended meanwhile
        st.session_state[ERROR] = str(exc)
        return
    st.session_state[FLASH] = _(done).format(version=found.version)
    st.session_state[PICK] = open_id or found.finding_id


def _editor_keys(prefix: str) -> list[str]:
    return [k for k in st.session_state if str(k).startswith(prefix)]


def _save(prefix: str, current_id: str | None, based_on: int | None) -> None:
    fields = {
        "kind": st.session_state[f"{prefix}kind"],
        "title": st.session_state[f"{prefix}title"],
        "body": st.session_state[f"{prefix}body"],
        "evidence": list(st.session_state[f"{prefix}evidence"]),
    }
    if current_id is None:
        _act(
            lambda: data.write_finding(user, config.id, **fields), N_("Saved as a draft (version {version}).")
        )
    else:
        _act(
            lambda: data.revise_finding(user, config.id, current_id, based_on=based_on, **fields),
            N_("Saved as version {version}, a draft: another consultant reviews it before it is delivered."),
        )
    if ERROR not in st.session_state:
        _restart(prefix)  # the next edit starts from what was saved


def _restart(prefix: str) -> None:
    for key in _editor_keys(prefix):
        del st.session_state[key]


def _attach(prefix: str, params: dict[str, Any]) -> None:
    st.session_state[f"{prefix}evidence"] = [*st.session_state[f"{prefix}evidence"], params]


def _detach(prefix: str, index: int) -> None:
    evidence = list(st.session_state[f"{prefix}evidence"])
    evidence.pop(index)
    st.session_state[f"{prefix}evidence"] = evidence


# -- the evidence picker, fed by the client's snapshot -------------------------------------------------------
def _picker(prefix: str) -> dict[str, Any] | None:
    """The evidence chosen in the pickers (None when the snapshot offers none)."""
    choices = data.evidence_choices(user, config.id)
    offered = {
        "kpi_chart": choices.kpis,
        "model_result": choices.models,
        "operating_window": choices.windows,
        "level_gap": choices.gaps,
    }
    kinds = [k for k, held in offered.items() if held]
    if not kinds:
        st.caption(_("The client's published results offer no evidence yet."))
        return None
    kind = st.selectbox(
        _("Kind of evidence to attach"),
        kinds,
        format_func=lambda k: words(EVIDENCE_LABELS, k),
        key=f"{prefix}ev_kind",
    )
    if kind == "kpi_chart":
        left, middle, right = st.columns([1, 2, 1])
        kpi = left.selectbox(
            _("KPI"), list(choices.kpis), format_func=lambda k: _(KPIS[k].label), key=f"{prefix}kpi"
        )
        first, last, machines = choices.kpis[kpi]
        period = middle.date_input(
            _("Period"),
            value=(max(first, last - timedelta(days=29)), last),
            min_value=first,
            max_value=last,
            key=f"{prefix}period_{kpi}",  # per KPI: their days differ
        )
        start, end = (period[0], period[-1]) if isinstance(period, tuple) and period else (first, last)
        machine = (
            right.selectbox(
                _("Machine"),
                ["", *machines],
                format_func=lambda m: m or _("all"),
                key=f"{prefix}machine_{kpi}",
            )
            if machines
            else ""
        )
        return {"kind": kind, "kpi": kpi, "start": str(start), "end": str(end), "machine": machine or None}
    if kind == "model_result":
        model, version, _label = choices.models[
            st.selectbox(
                _("Model result"),
                range(len(choices.models)),
                format_func=lambda i: choices.models[i][2],
                key=f"{prefix}model",
            )
        ]
        return {"kind": kind, "model_name": model, "model_version": version}
    if kind == "operating_window":
        model, parameter, _label = choices.windows[
            st.selectbox(
                _("Operating window"),
                range(len(choices.windows)),
                format_func=lambda i: f"{choices.windows[i][1]} ({choices.windows[i][0]})",
                key=f"{prefix}window",
            )
        ]
        return {"kind": kind, "model_name": model, "parameter": parameter}
    rule = st.selectbox(
        _("Level gap"),
        [r for r, _text in choices.gaps],
        format_func=dict(choices.gaps).get,
        key=f"{prefix}gap",
    )
    return {"kind": kind, "rule_id": rule}


def _editor(current: Any | None) -> None:
    """Write a new finding, or a new version of ``current``."""
    prefix = f"wb_{config.id}_{current.finding_id if current else 'new'}_"
    if f"{prefix}evidence" not in st.session_state:
        st.session_state[f"{prefix}evidence"] = [dict(e.params) for e in current.evidence] if current else []
        st.session_state[f"{prefix}kind"] = current.kind if current else KINDS[0]
        st.session_state[f"{prefix}title"] = current.title if current else ""
        st.session_state[f"{prefix}body"] = current.body if current else ""
        # The version this edit starts from: saving refuses it if another consultant saved one since.
        st.session_state[f"{prefix}based_on"] = current.version if current else None
    based_on = st.session_state[f"{prefix}based_on"]
    if current and based_on != current.version:
        st.warning(
            _(
                "This edit started from version {based_on}; version {version} was saved since. Start again "
                "from it (your changes here are dropped), or copy them first."
            ).format(based_on=based_on, version=current.version)
        )
        st.button(
            _("Start again from the newest version"),
            key=f"{prefix}restart",
            on_click=_restart,
            args=(prefix,),
        )
    st.radio(
        _("Kind"), KINDS, horizontal=True, format_func=lambda k: words(KIND_WORDS, k), key=f"{prefix}kind"
    )
    st.text_input(_("Title"), key=f"{prefix}title")
    st.text_area(_("What was found, or what to do"), key=f"{prefix}body", height=120)

    st.markdown("**{}**".format(_("Evidence")))
    attached = st.session_state[f"{prefix}evidence"]
    for i, params in enumerate(attached):
        left, right = st.columns([5, 1])
        left.markdown(f"{i + 1}. {_describe(params)}")
        right.button(_("Remove"), key=f"{prefix}rm{i}", on_click=_detach, args=(prefix, i))
    chosen = _picker(prefix)
    if chosen is not None:
        with st.container(border=True):
            st.caption(_("Preview"))
            try:
                checked = data.check_evidence(user, config.id, chosen)
            except EvidenceError as exc:
                st.error(str(exc))
            else:
                findings_view.show_evidence(user, config.id, checked, key=f"{prefix}preview")
                st.button(
                    _("Attach this evidence"), key=f"{prefix}attach", on_click=_attach, args=(prefix, chosen)
                )
    label = _("Save as a new version") if current else _("Save draft")
    st.button(
        label,
        type="primary",
        key=f"{prefix}save",
        on_click=_save,
        args=(prefix, current.finding_id if current else None, based_on),
    )


def _describe(params: dict[str, Any]) -> str:
    kind = params.get("kind")
    if kind == "kpi_chart":
        on = f", {params['machine']}" if params.get("machine") else ""
        kpi_label = KPIS[params["kpi"]].label  # outside _(): the extractor would take the key for a message
        return _("{kpi}{on}, {start} to {end}").format(
            kpi=_(kpi_label),
            on=on,
            start=i18n.day(date.fromisoformat(params["start"])),
            end=i18n.day(date.fromisoformat(params["end"])),
        )
    if kind == "model_result":
        return _("{model} version {version}").format(
            model=params["model_name"], version=params["model_version"]
        )
    if kind == "operating_window":
        return _("operating window of {parameter} ({model})").format(
            parameter=params["parameter"], model=params["model_name"]
        )
    return _("level gap: {rule}").format(rule=params.get("rule_id"))


# -- the page ------------------------------------------------------------------------------------------------
if FLASH in st.session_state:
    st.success(st.session_state.pop(FLASH))
if ERROR in st.session_state:
    st.error(st.session_state.pop(ERROR))

everything = data.findings(user, config.id)
delivered = {f.finding_id: f.version for f in data.findings(user, config.id, ("delivered",))}
if everything:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "title": f.title,
                    "kind": words(KIND_WORDS, f.kind),
                    "status": words(STATUS_WORDS, f.status),
                    "version": f.version,
                    "client sees": (
                        _("version {version}").format(version=delivered[f.finding_id])
                        if f.finding_id in delivered
                        else "–"
                    ),
                    "last written by": f.author,
                    "written": findings_view.utc(f.written_at),
                }
                for f in everything
            ]
        ),
        hide_index=True,
        column_config={
            "title": _("Title"),
            "kind": _("Kind"),
            "status": _("Status"),
            "version": _("Version"),
            "client sees": _("Client sees"),
            "last written by": _("Last written by"),
            "written": _("Written"),
        },
    )
by_id = {f.finding_id: f for f in everything}
if st.session_state.get(PICK) not in [NEW, *by_id]:
    st.session_state[PICK] = NEW
picked = st.selectbox(
    _("Open"),
    [NEW, *by_id],
    format_func=lambda i: (
        _("New finding or recommendation")
        if i == NEW
        else _("{title} · {status}, version {version}").format(
            title=by_id[i].title, status=words(STATUS_WORDS, by_id[i].status), version=by_id[i].version
        )
    ),
    key=PICK,
)

if picked == NEW:
    st.subheader(_("New finding or recommendation"))
    _editor(None)
    st.stop()

current = by_id[picked]
st.subheader(current.title)
st.caption(
    _("{kind} · **{status}** · version {version}, written by {author} {when}").format(
        kind=words(KIND_WORDS, current.kind),
        status=words(STATUS_WORDS, current.status),
        version=current.version,
        author=current.author,
        when=findings_view.utc(current.written_at),
    )
    + (_(" · reviewed by {reviewer}").format(reviewer=current.reviewed_by) if current.reviewed_by else "")
    + (_(" · client sees version {version}").format(version=delivered[picked]) if picked in delivered else "")
)
findings_view.show_finding(user, config.id, current, key=f"wb_{picked}_{current.version}")

if current.status == "draft":
    if current.author == user.username:
        st.info(_("Another consultant reviews this version: a reviewer is never its author."))
    else:
        note_key = f"wb_note_{picked}"
        st.text_input(_("Review note (kept in the history; the client never sees it)"), key=note_key)
        left, right = st.columns(2)
        left.button(
            _("Approve"),
            key=f"wb_approve_{picked}",
            on_click=_act,
            args=(
                lambda: data.review_finding(
                    user,
                    config.id,
                    picked,
                    version=current.version,
                    approve=True,
                    note=st.session_state[note_key],
                ),
                N_("Version {version} reviewed: it can be delivered."),
            ),
        )
        right.button(
            _("Ask for changes"),
            key=f"wb_changes_{picked}",
            on_click=_act,
            args=(
                lambda: data.review_finding(
                    user,
                    config.id,
                    picked,
                    version=current.version,
                    approve=False,
                    note=st.session_state[note_key],
                ),
                N_("Changes asked for on version {version}: it stays a draft."),
            ),
        )
elif current.status == "reviewed":
    st.button(
        _("Deliver to the client"),
        type="primary",
        key=f"wb_deliver_{picked}",
        on_click=_act,
        args=(
            lambda: data.deliver_finding(user, config.id, picked, version=current.version),
            N_("Version {version} delivered: the client sees it now."),
        ),
    )

if current.status != "withdrawn":
    with st.expander(_("Edit: write a new version")):
        _editor(current)
    with st.expander(_("Withdraw")):
        reason_key = f"wb_reason_{picked}"
        st.text_input(_("Why"), key=reason_key)
        st.button(
            _("Withdraw this finding"),
            key=f"wb_withdraw_{picked}",
            on_click=_act,
            args=(
                lambda: data.withdraw_finding(user, config.id, picked, reason=st.session_state[reason_key]),
                N_("Withdrawn: the client no longer sees it."),
            ),
        )

st.subheader(_("History"))
entries = data.finding_history(user, config.id, picked)
st.dataframe(
    pd.DataFrame(
        [
            {
                "when": findings_view.utc(e.at),
                "version": e.version,
                "what": words(ACTION_WORDS, e.action),
                "by": e.by,
                "changed": ", ".join(words(FIELD_WORDS, c) for c in e.changed),
                "note": e.note,
            }
            for e in entries
        ]
    ),
    hide_index=True,
    column_config={
        "when": _("When"),
        "version": _("Version"),
        "what": _("What"),
        "by": _("By"),
        "changed": _("Changed"),
        "note": _("Note"),
    },
)
if current.version > 1:
    with st.expander(_("Earlier versions")):
        for version in range(current.version - 1, 0, -1):
            earlier = data.finding(user, config.id, picked, version)
            when = findings_view.utc(earlier.written_at)
            st.markdown(
                _("**Version {version}** ({status}) by {author}, {when}").format(
                    version=version,
                    status=words(STATUS_WORDS, earlier.status),
                    author=earlier.author,
                    when=when,
                )
            )
            st.markdown(f"*{earlier.title}*  \n{earlier.body}")
            described = "; ".join(e.description for e in earlier.evidence)
            st.caption(
                _("Evidence: {evidence}").format(evidence=described) if described else _("No evidence.")
            )
