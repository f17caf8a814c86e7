"""Model results: each standard model against its naive baseline, champion status and why; for event
models the alert threshold's figures and recommended operating windows, for expected-value models (the
energy baseline) the fit's quality and the anomalies, for remaining-life models the held-out units and the
units still running, for anomaly detectors their alarms and the incidents they warned of; for all, the
holdout and the champion in operation, and top features."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st
from scipy.stats import norm

from apps import data, ui
from forgeline import i18n
from forgeline.i18n import _, ngettext
from forgeline.reports import words
from forgeline.standard_models import model_card
from forgeline.standard_models.champion import (
    MAX_NMBE,
    METRIC_LABELS,
    MIN_HOLDOUT_DAYS,
    MIN_HOLDOUT_INCIDENTS,
    MIN_HOLDOUT_POSITIVES,
    MIN_HOLDOUT_UNITS,
)
from forgeline.standard_models.detector import ALARM_BUDGET
from forgeline.standard_models.families import ANOMALY_SIGMAS, RUL_CAP
from forgeline.standard_models.features import readable
from forgeline.standard_models.operation import MIN_WEEK_DAYS

TOP_FEATURES = 10
NEAR_PERFECT = 0.98  # a holdout score this high is more often a leak or easy synthetic data than a model
# ASHRAE Guideline 14's limits for an hourly baseline that savings are measured with (NMBE: the
# champion rule's own bound).
SAVINGS_CV_RMSE, SAVINGS_NMBE = 0.30, MAX_NMBE

user = ui.require_user()
config = ui.choose_client(user)
ui.client_header(_("Model results"), config)
ui.held_back_banner(user, config)

# The champion rule's decision, the baselines' names, the weeks in operation and the operating windows are
# stored as messages beside their English: worded here in the reader's language (forgeline/reports/words.py).
models = words.worded_models(data.model_results(user, config.id))
if models.empty:
    if config.models:
        info = data.run_info(user, config.id)
        if info is None:
            reason = _("not run yet")
        elif not ui.is_missing(info.get("gate_passed")) and not bool(info["gate_passed"]):
            reason = _("the quality gate failed: see Data quality")
        else:  # trained only when time-ordered train and holdout parts both hold problem cases
            reason = _("not trained: the history is too short for a fair holdout; see the run's log")
        st.info(
            _("No model results for {models} in the current snapshot ({reason}).").format(
                models=", ".join(words.label(words.MODEL_LABELS, m) for m in config.models), reason=reason
            )
        )
    else:
        st.info(_("No standard models are configured for this client."))
    st.stop()

features = data.model_features(user, config.id)
windows = words.worded_sentences(data.operating_windows(user, config.id))
daily = data.model_holdout_daily(user, config.id)
operating = words.worded_sentences(data.model_operation_weekly(user, config.id))
latest_scores = data.model_scores(user, config.id)
incidents = data.model_incidents(user, config.id)
alarms = data.model_alarms(user, config.id)
st.caption(
    _(
        "Each model is scored on a holdout set (the latest 30 % of the time range, never seen in training) "
        "beside a naive baseline. A new version becomes `champion` only if it beats both the current "
        "champion and the baseline on that holdout by more than the bootstrap's 90 % interval, and the "
        "holdout holds enough evidence: at least {cases} problem cases for event models, {days} days for "
        "expected values, {units} failed units for remaining life (held out whole: the units that failed "
        "last), {incidents} recorded incidents for anomaly detectors, {days} forecast days for forecasts."
    ).format(
        cases=MIN_HOLDOUT_POSITIVES,
        days=MIN_HOLDOUT_DAYS,
        units=MIN_HOLDOUT_UNITS,
        incidents=MIN_HOLDOUT_INCIDENTS,
    )
)


def _anomaly_reading(model, listed: pd.DataFrame, timezone: str) -> None:
    """What the detector's alarms would have meant: the incidents warned of, how early, at what cost."""
    incidents = getattr(model, "holdout_incidents", None)
    rate = getattr(model, "holdout_alarm_rate", None)
    alarms = (
        ""
        if ui.is_missing(rate)
        else _(
            "The detector raised an alarm on **{share}** of the holdout's intervals (it was set to alarm on "
            "{budget} of normal running)."
        ).format(share=ui.pct(rate), budget=ui.pct(ALARM_BUDGET, 0))
        + " "
    )
    if ui.is_missing(incidents) or not incidents:
        st.markdown(
            alarms
            + _(
                "No incident (a failure or a breakdown stop) is recorded in the holdout, so nothing checks "
                "these alarms: read them as places to look, not as findings. Delivering the maintenance log "
                "or breakdown stops would let the program score the detector."
            )
        )
        return
    warned, theirs = model.holdout_incidents_warned, model.baseline_incidents_warned
    lead = getattr(model, "holdout_warning_h", None)

    def by_chance(value: object) -> str:
        return "" if ui.is_missing(value) else " " + _("(by chance: about {n})").format(n=ui.number(value, 1))

    text = alarms + ngettext(
        "A sustained alarm (alarmed intervals in a row) was raised in the day before **{warned} of the "
        "{n}** incident recorded in the holdout",
        "A sustained alarm (alarmed intervals in a row) was raised in the day before **{warned} of the "
        "{n}** incidents recorded in the holdout",
        int(incidents),
    ).format(warned=int(warned), n=int(incidents))
    if not ui.is_missing(lead):
        text += _(", first raised a median **{hours} hours** before").format(hours=ui.number(lead, 1))
    text += by_chance(getattr(model, "holdout_incidents_warned_by_chance", None))
    text += _("; a 3-sigma chart on every tag, given the same alarm budget, warned of {n}").format(
        n=int(theirs)
    )
    text += by_chance(getattr(model, "baseline_incidents_warned_by_chance", None))
    text += _(". By chance means the same alarms shifted to random times.")
    if not ui.is_missing(model.holdout_precision):
        theirs_right = getattr(model, "baseline_alarm_precision", None)
        text += " " + _("**{share}** of its alarms fell in the day before an incident").format(
            share=ui.pct(model.holdout_precision)
        )
        # A chart alarming every day "warns" of every incident: how often its alarms were right says more.
        if not ui.is_missing(theirs_right):
            text += _(", against {share} of the chart's").format(share=ui.pct(theirs_right))
        positives = getattr(model, "n_test_positives", None)
        if not ui.is_missing(positives) and not ui.is_missing(model.n_test) and model.n_test:
            text += _("; {share} of all intervals did").format(share=ui.pct(positives / model.n_test))
        text += _(".")
    st.markdown(text)
    if incidents < MIN_HOLDOUT_INCIDENTS:
        st.warning(
            ngettext(
                "Only {n} incident falls in the holdout: the comparison is a first signal, not a verdict.",
                "Only {n} incidents fall in the holdout: the comparison is a first signal, not a verdict.",
                int(incidents),
            ).format(n=int(incidents)),
            icon=":material/info:",
        )
    if listed.empty:
        return

    def warning(warned: object, hours: object) -> str:
        if ui.is_missing(warned) or not bool(warned):
            return _("no")
        return _("yes, {hours} h before").format(hours=ui.number(hours, 1))

    local = pd.to_datetime(listed["reported_at"], utc=True).dt.tz_convert(timezone)
    table = pd.DataFrame(
        {
            _("reported ({timezone})").format(timezone=timezone): local.dt.strftime(
                "%Y-%m-%d %H:%M"
            ).to_numpy(),
            _("machine"): listed["machine_id"].to_numpy(),
            _("incident"): listed["kind"].to_numpy(),
            _("detector warned"): [
                warning(w, h) for w, h in zip(listed["warned"], listed["warning_h"], strict=True)
            ],
            _("3-sigma chart warned"): [
                warning(w, h)
                for w, h in zip(listed["baseline_warned"], listed["baseline_warning_h"], strict=True)
            ],
        }
    )
    with st.expander(_("The holdout's {n} incidents, newest first").format(n=len(table))):
        st.dataframe(table, hide_index=True)


def _alarms_for_review(alarms: pd.DataFrame, timezone: str, threshold: object) -> None:
    """The holdout's strongest alarms: when, on which machine, and what moved in them."""
    if alarms.empty:
        return
    local = pd.to_datetime(alarms["time"], utc=True).dt.tz_convert(timezone).dt.strftime("%Y-%m-%d %H:%M")
    score = _("anomaly score")
    table = pd.DataFrame(
        {
            _("interval ending ({timezone})").format(timezone=timezone): local.to_numpy(),
            _("machine"): alarms["machine_id"].to_numpy(),
            score: alarms["score"].astype(float).round(2).to_numpy(),
            _("what drove it (share of its distance from normal)"): alarms["moved"].to_numpy(),
        }
    )
    with st.expander(_("The holdout's {n} strongest alarms, for review").format(n=len(table))):
        line = (
            ""
            if ui.is_missing(threshold)
            else " " + _("The alarm line is at {line}.").format(line=ui.number(threshold, 2))
        )
        st.caption(
            _("A higher anomaly score is further from normal running, as the training period defined it.")
            + line
        )
        st.dataframe(
            table, hide_index=True, column_config={score: st.column_config.NumberColumn(format="%.2f")}
        )


def _remaining_life_reading(model) -> None:
    """What the remaining-life figures mean for a maintenance planner."""
    units = getattr(model, "holdout_units", None)
    figures = {
        "miss": ui.number(model.model_metric, 2),
        "cap": RUL_CAP,
        "naive": ui.number(model.baseline_metric, 2),
    }
    text = (
        _(
            "Held out, the predicted remaining life misses by **{miss} cycles** (RMSE over their cycles, "
            "remaining life capped at {cap}), against {naive} for replacing at the mean life of earlier "
            "units."
        ).format(**figures)
        if ui.is_missing(units)
        else ngettext(
            "Held out over the **{units}** unit that failed last, the predicted remaining life misses by "
            "**{miss} cycles** (RMSE over their cycles, remaining life capped at {cap}), against {naive} for "
            "replacing at the mean life of earlier units.",
            "Held out over the **{units}** units that failed last, the predicted remaining life misses by "
            "**{miss} cycles** (RMSE over their cycles, remaining life capped at {cap}), against {naive} for "
            "replacing at the mean life of earlier units.",
            int(units),
        ).format(units=ui.number(units), **figures)
    )
    phm, naive = getattr(model, "holdout_phm_score", None), getattr(model, "baseline_phm_score", None)
    if not ui.is_missing(phm) and not ui.is_missing(naive):
        text += " " + _(
            "NASA's PHM score, which punishes a late prediction (a unit failing before it is replaced) more "
            "than an early one, averages **{model}** against {naive} for the baseline (smaller is better)."
        ).format(model=ui.number(phm, 2), naive=ui.number(naive, 2))
    cut, naive_cut = (
        getattr(model, "holdout_rmse_at_random_cycle", None),
        getattr(model, "baseline_rmse_at_random_cycle", None),
    )
    if not ui.is_missing(cut) and not ui.is_missing(naive_cut):
        text += " " + _(
            "Scored at one random cycle per held-out unit, as NASA's turbofan test sets are, the RMSE is "
            "**{model}** cycles against {naive}."
        ).format(model=ui.number(cut, 2), naive=ui.number(naive_cut, 2))
    st.markdown(text)
    if not ui.is_missing(units) and units < MIN_HOLDOUT_UNITS:
        st.warning(
            ngettext(
                "Only {n} failed unit is held out: the comparison is a first signal, not a verdict.",
                "Only {n} failed units are held out: the comparison is a first signal, not a verdict.",
                int(units),
            ).format(n=int(units)),
            icon=":material/info:",
        )


def _forecast_reading(model) -> None:
    """What the forecast's figures mean for a planner: MASE and sMAPE a week and a day ahead."""
    products = getattr(model, "holdout_products", None)
    figures = {"miss": ui.number(model.model_metric, 2), "naive": ui.number(model.baseline_metric, 2)}
    text = (
        _(
            "Averaged over forecasts made 1 to 7 days ahead, the forecast's typical miss is **{miss}** times "
            "the miss seasonal naive (the same weekday a week before) made on the product's training days "
            "(MASE: below 1 misses less; seasonal naive itself scores {naive} on these days)."
        ).format(**figures)
        if ui.is_missing(products)
        else ngettext(
            "Averaged over forecasts made 1 to 7 days ahead over {n} product, the forecast's typical miss is "
            "**{miss}** times the miss seasonal naive (the same weekday a week before) made on the product's "
            "training days (MASE: below 1 misses less; seasonal naive itself scores {naive} on these days).",
            "Averaged over forecasts made 1 to 7 days ahead over {n} products, the forecast's typical miss "
            "is **{miss}** times the miss seasonal naive (the same weekday a week before) made on the "
            "product's training days (MASE: below 1 misses less; seasonal naive itself scores {naive} on "
            "these days).",
            int(products),
        ).format(n=ui.number(products), **figures)
    )
    week, week_naive = (
        getattr(model, "holdout_mase_7_days_ahead", None),
        getattr(model, "baseline_mase_7_days_ahead", None),
    )
    if not ui.is_missing(week) and not ui.is_missing(week_naive):
        text += " " + _(
            "Made a full week ahead (what the chart below shows), it is **{model}** against {naive}."
        ).format(model=ui.number(week, 2), naive=ui.number(week_naive, 2))
    smape, naive = getattr(model, "holdout_smape", None), getattr(model, "baseline_smape", None)
    if not ui.is_missing(smape) and not ui.is_missing(naive):
        text += " " + _(
            "Its sMAPE is **{model}** against {naive} for seasonal naive (0 % is perfect; a day forecast "
            "with "
            "nothing made, or made with nothing forecast, counts 200 %)."
        ).format(model=ui.pct(smape), naive=ui.pct(naive))
        if smape > naive and model.model_metric < model.baseline_metric:
            text += " " + _(
                "sMAPE runs higher than seasonal naive's while MASE is lower: the model forecasts a little "
                "on "
                "days a product was not made (a mould stopped), which sMAPE counts in full whatever the "
                "quantity."
            )
    day, day_naive = (
        getattr(model, "holdout_mase_day_ahead", None),
        getattr(model, "baseline_mase_day_ahead", None),
    )
    if not ui.is_missing(day) and not ui.is_missing(day_naive):
        text += " " + _("A day ahead the MASE is **{model}** against {naive}.").format(
            model=ui.number(day, 2), naive=ui.number(day_naive, 2)
        )
    st.markdown(
        text
        + " "
        + _(
            "Only products made in the 28 days before a forecast are forecast (and scored); a new product is "
            "forecast once it has four weeks of history."
        )
    )


def _expected_value_reading(model, has_production: bool) -> None:
    """How well the baseline fits, whether it can measure savings, and what the anomalies cost."""
    unit = model.unit or ""
    cv, nmbe = getattr(model, "holdout_cv_rmse", None), getattr(model, "holdout_nmbe", None)
    fit_for_savings = True
    if not ui.is_missing(cv) and not ui.is_missing(nmbe):
        # NMBE as ASHRAE defines it: > 0 when the model predicts less than was used.
        fit = (
            _(
                "A typical miss is **{cv}** of the mean use per interval (CV(RMSE)); over the holdout the "
                "model "
                "expected **{nmbe} less** than was used (NMBE)."
            )
            if nmbe > 0
            else _(
                "A typical miss is **{cv}** of the mean use per interval (CV(RMSE)); over the holdout the "
                "model "
                "expected **{nmbe} more** than was used (NMBE)."
            )
        ).format(cv=ui.pct(cv), nmbe=ui.pct(abs(nmbe)))
        if cv > SAVINGS_CV_RMSE or abs(nmbe) > SAVINGS_NMBE:
            fit_for_savings = False
            fit += " " + _(
                ":orange[Not fit to measure savings with yet]: ASHRAE Guideline 14 asks at most {cv} "
                "CV(RMSE) "
                "and ±{nmbe} NMBE of an hourly baseline (intervals shorter than an hour score a higher "
                "CV(RMSE))."
            ).format(cv=ui.pct(SAVINGS_CV_RMSE, 0), nmbe=ui.pct(SAVINGS_NMBE, 0))
            if not has_production:
                fit += " " + _(
                    "The use depends on drivers the data does not hold: delivering production counts or "
                    "cycles "
                    "would tighten it."
                )
        st.markdown(fit)
    anomalies = getattr(model, "anomalies", None)
    if ui.is_missing(anomalies):
        return
    by_chance = model.n_test * norm.sf(ANOMALY_SIGMAS)
    if not anomalies:
        st.markdown(_("No interval of the holdout used far more than expected."))
        return
    co2 = getattr(model, "anomaly_co2_kg", None)
    figures = {
        "n": ui.number(anomalies),
        "sigmas": ui.number(ANOMALY_SIGMAS),
        "chance": ui.number(by_chance),
        "excess": ui.number(model.anomaly_excess),
        "unit": unit,
    }
    text = (
        ngettext(
            "**{n}** holdout interval used more than expected by over {sigmas} typical misses (about "
            "{chance} "
            "would by chance). Together they used **{excess} {unit}** more than expected; their days are "
            "marked in the chart below.",
            "**{n}** holdout intervals used more than expected by over {sigmas} typical misses (about "
            "{chance} would by chance). Together they used **{excess} {unit}** more than expected; their "
            "days "
            "are marked in the chart below.",
            int(anomalies),
        ).format(**figures)
        if ui.is_missing(co2)
        else ngettext(
            "**{n}** holdout interval used more than expected by over {sigmas} typical misses (about "
            "{chance} "
            "would by chance). Together they used **{excess} {unit}** more than expected, or **{co2} kg "
            "CO2e** at the emission factor in force; their days are marked in the chart below.",
            "**{n}** holdout intervals used more than expected by over {sigmas} typical misses (about "
            "{chance} would by chance). Together they used **{excess} {unit}** more than expected, or "
            "**{co2} "
            "kg CO2e** at the emission factor in force; their days are marked in the chart below.",
            int(anomalies),
        ).format(co2=ui.number(co2), **figures)
    )
    if not fit_for_savings:
        text += " " + _("Read them as hints: the model itself misses by more than the savings limits allow.")
    st.markdown(text)


def _in_operation(model, weeks: pd.DataFrame, latest: pd.DataFrame, timezone: str) -> None:
    """The champion on every row after its training, week by week against the outcomes, drift flagged."""
    st.markdown("**" + _("In operation") + "**")
    if weeks.empty:
        st.caption(
            _("No champion has scored rows after its training yet.")
            if model.is_champion
            else _("Nothing is in operation: no version of this model is champion (see the decision above).")
        )
        return
    expected_value = model.family == "expected_value"
    remaining_life = model.family == "remaining_life"
    anomaly = model.family == "anomaly"
    forecast = model.family == "forecast"
    version = weeks["model_version"].iloc[-1]
    drifted = weeks[weeks["drift"].fillna(False).astype(bool)]
    last = weeks.iloc[-1]
    live = int(weeks["live_rows"].fillna(0).sum()) if "live_rows" in weeks else 0
    count = len(weeks)
    rows = int(weeks["rows"].sum())
    counted = (
        ngettext("**{rows}** cycles over {n} week", "**{rows}** cycles over {n} weeks", count)
        if remaining_life
        else ngettext("**{rows}** rows over {n} week", "**{rows}** rows over {n} weeks", count)
    ).format(rows=ui.number(rows), n=count)
    st.markdown(
        _("The champion (version {version}) against the outcomes known so far: {counted}.").format(
            version=version, counted=counted
        )
        + " "
        + _("Week of {week}: {sentence}.").format(week=last["week"], sentence=last["sentence"])
    )
    if forecast:
        st.caption(
            _(
                "Each product-day counts once here: the forecast made of it a full week before (the plan a "
                "planner had). A week with outcomes on fewer than {days} days is shown, never judged."
            ).format(days=MIN_WEEK_DAYS)
        )
    if not live:
        st.caption(
            _(
                "So far these are the weeks of its holdout, the rows it was chosen on: weeks of new "
                "deliveries "
                "are added as they arrive, and the figures then describe the model at work."
            )
        )
    if len(drifted):
        st.warning(
            _(
                "The outcomes left the model's expectation: {weeks}. Check what changed in the process (or "
                "the "
                "data) before relying on its scores."
            ).format(
                weeks="; ".join(
                    _("week of {week}: {sentence}").format(week=w.week, sentence=w.sentence)
                    for w in drifted.itertuples()
                )
            ),
            icon=":material/warning:",
        )
    if remaining_life:
        # Sums or means of remaining life grow and shrink with the ages of a week's units: its typical miss
        # (RMSE over the failed units' cycles) is what compares weeks.
        fig = px.bar(
            weeks,
            x="week",
            y="metric",
            labels={"week": _("week starting (failures)"), "metric": _("RMSE (cycles)")},
            title=_("Each week's failed units: the champion's typical miss on their remaining life"),
            hover_data={"sentence": True},
        )
        marked = "metric"
    else:
        names = (
            {
                "actual": _("used ({unit})").format(unit=model.unit),
                "predicted": _("expected by the champion"),
            }
            if expected_value
            else {
                "actual": _("quantity ({unit})").format(unit=model.unit),
                "predicted": _("forecast a week before"),
            }
            if forecast
            else {"actual": _("intervals in the day before an incident"), "predicted": _("alarms")}
            if anomaly
            else {"actual": _("problem cases"), "predicted": _("expected by the champion")}
        )
        long = weeks.rename(columns=names).melt(
            id_vars=["week"], value_vars=list(names.values()), var_name="series", value_name="value"
        )
        fig = px.bar(
            long,
            x="week",
            y="value",
            color="series",
            barmode="group",
            labels={"week": _("week starting"), "value": names["actual"], "series": ""},
            title=_("Each week's outcomes against the champion's expectation"),
        )
        marked = "actual"
    if len(drifted):
        fig.add_scatter(
            x=drifted["week"],
            y=drifted[marked],
            mode="markers",
            marker={"size": 12, "symbol": "diamond", "color": "black"},
            name=_("drift"),
        )
    fig.update_xaxes(type="category")
    ui.chart(fig, key=f"model_operation_{model.model_name}", hovermode="closest")
    if latest.empty:
        return
    # Newest first; rows known at the same time (a unit's cycles) from the last one back.
    shown = latest.sort_values("time", kind="stable").iloc[::-1]
    # A forecast is of a day: its time (the day's end) would only mislead.
    shape = "%Y-%m-%d" if forecast else "%Y-%m-%d %H:%M"
    local = pd.to_datetime(shown["time"], utc=True).dt.tz_convert(timezone).dt.strftime(shape)
    what = shown["key"].fillna("").str.replace("_id=", " ", regex=False).str.replace("=", " ", regex=False)
    digits = 2 if expected_value else 1 if remaining_life or forecast else 3
    score = shown["score"].astype(float).round(digits)  # numbers: the table sorts them as numbers
    # Not known yet: blank, never "None" (a missing number in a numeric column shows as "None").
    known = shown["outcome"].map(
        lambda v: "" if ui.is_missing(v) else ui.number(v, 2 if expected_value else 0)
    )
    if forecast:
        waiting = shown["outcome"].isna().to_numpy()
        product = shown["key"].str.extract(r"product_id=([^,]+)")[0]
        days = pd.to_datetime(shown["time"], utc=True).dt.tz_convert(timezone)
        if waiting.any():
            made_from = (days[waiting].min() - pd.Timedelta(days=1)).strftime("%Y-%m-%d")
            product_, day_ = _("product"), _("day")
            forecast_ = _("forecast ({unit})").format(unit=model.unit)
            waiting_days = days[waiting]
            plan = pd.DataFrame(
                {
                    product_: product[waiting].to_numpy(),
                    # Sorted as text: the ISO date first, then the weekday in the reader's language.
                    day_: [f"{d:%Y-%m-%d} ({i18n.weekday(d)})" for d in waiting_days],
                    forecast_: shown["score"][waiting].astype(float).round(0).to_numpy(),
                }
            )
            # The busiest products first, each product's days in order.
            volume = plan.groupby(product_)[forecast_].transform("sum")
            plan = plan.assign(_volume=volume).sort_values(
                ["_volume", product_, day_], ascending=[False, True, True]
            )
            st.markdown(
                _(
                    "**The next days' forecasts** ({n}), per product and day, made from the data up to "
                    "{day}, "
                    "its last day: if that day was not complete (a delivery in the middle of it, a mould "
                    "stopped part of it), the first days' forecasts run low."
                ).format(n=len(plan), day=made_from)
            )
            st.dataframe(plan.drop(columns="_volume"), hide_index=True)
        # The table below: the week-ahead forecasts with their outcomes (the plan is above).
        shown, local, score, known = shown[~waiting], local[~waiting], score[~waiting], known[~waiting]
        what = product[~waiting]
    if remaining_life:
        running = shown["outcome"].isna().to_numpy()
        if running.any():
            st.markdown(
                _(
                    "**Units still running** ({n}): the champion's predicted remaining life at their latest "
                    "cycle. Plan a replacement before it runs out."
                ).format(n=int(running.sum()))
            )
            life = _("predicted remaining life (cycles)")
            units = pd.DataFrame(
                {
                    _("unit"): what[running].to_numpy(),
                    life: score[running].to_numpy(),
                    _("latest cycle at ({timezone})").format(timezone=timezone): local[running].to_numpy(),
                }
            )
            st.dataframe(units.sort_values(life), hide_index=True)
    label = (
        _("expected ({unit})").format(unit=model.unit)
        if expected_value
        else _("forecast ({unit})").format(unit=model.unit)
        if forecast
        else _("predicted remaining life (cycles)")
        if remaining_life
        else _("anomaly score (higher = further from normal running)")
        if anomaly
        else _("risk (probability)")
    )
    outcome = (
        _("used ({unit})").format(unit=model.unit)
        if expected_value
        else _("quantity ({unit}; blank: not known yet)").format(unit=model.unit)
        if forecast
        else _("cycles left, capped at {cap} (blank: still running)").format(cap=RUL_CAP)
        if remaining_life
        else _("in the day before an incident (1 = yes, blank = not known yet)")
        if anomaly
        else _("outcome (1 = problem, 0 = none, blank = not known yet)")
    )
    # A unit's cycles are known when it fails: their time is the failure's (a running unit's, its latest).
    when = (
        _("failed or last seen ({timezone})").format(timezone=timezone)
        if remaining_life
        else _("day (forecast made 7 days before)")
        if forecast
        else _("time ({timezone})").format(timezone=timezone)
    )
    table = pd.DataFrame(
        {
            when: local.to_numpy(),
            _("what"): what.to_numpy(),
            label: score.to_numpy(),
            outcome: known.to_numpy(),
        }
    )
    with st.expander(
        _("Latest scores: the {n} most recent rows, newest first").format(n=ui.number(len(table)))
    ):
        # One number format per column: a risk of 0.0004 is "0.000", never a bare "0".
        st.dataframe(
            table,
            hide_index=True,
            column_config={label: st.column_config.NumberColumn(format=f"%.{digits}f")},
        )


def _alarm_chart(model, days: pd.DataFrame) -> None:
    """An anomaly detector's holdout day by day: its alarms and the 3-sigma chart's, beside the intervals in
    the day before an incident (where an alarm is a warning; elsewhere, a false alarm)."""
    names = {
        "flagged": _("alarmed by the detector"),
        "baseline": _("alarmed by the 3-sigma chart"),
        "actual": _("in the day before an incident"),
    }
    if not days["actual"].fillna(0).any():  # no incident in the holdout: no such intervals to show
        names.pop("actual")
    long = days[list(names)].rename(columns=names).rename_axis("day").reset_index()
    long = long.melt(id_vars="day", var_name="series", value_name="intervals")
    fig = px.bar(
        long,
        x="day",
        y="intervals",
        color="series",
        barmode="group",
        title=_("Holdout: intervals alarmed per day, and intervals in the day before an incident")
        if "actual" in names
        else _("Holdout: intervals alarmed per day"),
        labels={"day": "", "series": "", "intervals": _("intervals")},
        color_discrete_sequence=["#dc2626", "#f59e0b", "#1f2937"],
    )
    ui.chart(fig, key=f"model_holdout_{model.model_name}")


def _holdout_chart(model, days: pd.DataFrame) -> None:
    """The holdout day by day: measured against predicted (and the baseline), missing days as gaps."""
    if days.empty:
        return
    days = days.assign(day=pd.to_datetime(days["day"])).set_index("day").sort_index()
    days = days.reindex(pd.date_range(days.index.min(), days.index.max(), freq="D"))
    if model.family == "anomaly":
        _alarm_chart(model, days)
        return
    expected_value = model.family == "expected_value"
    forecast = model.family == "forecast"
    names = (
        {
            "actual": _("used ({unit})").format(unit=model.unit),
            "expected": _("expected by the model"),
            "baseline": _("naive baseline"),
        }
        if expected_value
        else {
            "actual": _("quantity ({unit})").format(unit=model.unit),
            "expected": _("forecast a week before"),
            "baseline": _("seasonal naive"),
        }
        if forecast
        else {"actual": _("problem cases"), "expected": _("expected by the model (sum of probabilities)")}
    )
    long = days[list(names)].rename(columns=names).rename_axis("day").reset_index()
    long = long.melt(id_vars="day", var_name="series", value_name="value")
    title = (
        _("Holdout: daily use, the model's expectation and the naive baseline's")
        if expected_value
        else _(
            "Holdout: each day's quantity of the products forecast, the forecast a week before and seasonal "
            "naive's"
        )
        if forecast
        else _("Holdout: daily problem cases against the model's expectation")
    )
    fig = px.line(
        long,
        x="day",
        y="value",
        color="series",
        title=title,
        labels={"day": "", "value": names["actual"]},
        # Measured in a dark colour, the model's expectation and the baseline in lighter, distinct ones.
        color_discrete_sequence=["#1f2937", "#2563eb", "#f59e0b"],
    )
    # Days with anomalies (excess use) are marked; alerts fall on most days and would mark nothing.
    flagged = days[days["flagged"].fillna(0) > 0] if expected_value else days.iloc[:0]
    if len(flagged):
        fig.add_scatter(
            x=flagged.index,
            y=flagged["actual"],
            mode="markers",
            marker={"size": 10, "symbol": "diamond", "color": "#dc2626"},
            name=_("days with excess-use anomalies"),
        )
    fig.update_yaxes(rangemode="tozero")
    ui.chart(fig, key=f"model_holdout_{model.model_name}")


for model in models.itertuples():
    with st.container(border=True):
        badge = " :green-badge[" + _("champion") + "]" if model.is_champion else ""
        st.subheader(f"{words.label(words.MODEL_LABELS, model.model_name)}{badge}")
        beats = bool(model.beats_baseline)
        family = getattr(model, "family", "event")
        expected_value, remaining_life = family == "expected_value", family == "remaining_life"
        anomaly, forecast = family == "anomaly", family == "forecast"
        errors = expected_value or remaining_life or forecast  # regressions: smaller is better
        metric = METRIC_LABELS.get(model.metric_name, model.metric_name)
        digits = 2 if errors else 3
        unit = f" {model.unit}" if errors and model.unit and not forecast else ""  # MASE has no unit
        cols = st.columns(4)
        cols[0].metric(
            _("{metric} (holdout)").format(metric=metric),
            f"{ui.number(model.model_metric, digits)}{unit}",
            # An anomaly detector without incidents in its holdout has no score to compare.
            delta=None
            if ui.is_missing(model.model_metric) or ui.is_missing(model.baseline_metric)
            else _("{difference} vs baseline").format(
                difference=f"{model.model_metric - model.baseline_metric:+.{digits}f}{unit}"
            ),
            # Smaller is better for errors: a negative difference is the good one.
            delta_color="inverse" if errors else "normal" if beats else "inverse",
            help=_(
                "Mean absolute scaled error over the week ahead: the forecast's miss over seasonal naive's "
                "typical miss on the training days. Smaller is better; below 1 beats that naive rule."
            )
            if forecast
            else _("Root-mean-square error per row: smaller is better.")
            if errors
            else _(
                "Of the {budget} highest-scored holdout intervals (k = {k}), the share that came in the day "
                "before an incident: how often the alarms a plant can afford to look at are right."
            ).format(budget=ui.pct(ALARM_BUDGET, 0), k=ui.number(max(1, round(model.n_test * ALARM_BUDGET))))
            if anomaly
            else None,
        )
        baseline_help = _("Naive baseline: {baseline}.").format(baseline=model.baseline_name)
        cols[1].metric(_("Baseline"), f"{ui.number(model.baseline_metric, digits)}{unit}", help=baseline_help)
        cols[2].metric(
            _("Training cycles") if remaining_life else _("Training rows"), ui.number(model.n_train)
        )
        positives = getattr(model, "n_test_positives", None)  # absent in snapshots before it was published
        cols[3].metric(
            _("Holdout cycles") if remaining_life else _("Holdout rows"),
            ui.number(model.n_test),
            help=(
                _("The cycles of the units that failed last, held out whole, never seen in training.")
                if remaining_life
                else _("The last 30 % of the time range, never seen in training.")
            ),
        )
        mine_daily = daily[daily["model_name"] == model.model_name] if len(daily) else daily
        if (expected_value or forecast) and 0 < len(mine_daily) < MIN_HOLDOUT_DAYS:
            st.warning(
                ngettext(
                    "The holdout spans only {n} day: the comparison is a first signal, not a verdict. "
                    "Collect more history before acting on it.",
                    "The holdout spans only {n} days: the comparison is a first signal, not a verdict. "
                    "Collect more history before acting on it.",
                    len(mine_daily),
                ).format(n=len(mine_daily)),
                icon=":material/info:",
            )
        thin = not errors and not anomaly and not ui.is_missing(positives)  # anomalies: incidents count
        if thin and positives < MIN_HOLDOUT_POSITIVES:
            st.warning(
                ngettext(
                    "Only {n} problem case (a defect or a failure) falls in the holdout: the comparison is a "
                    "first signal, not a verdict. Collect more history before acting on it.",
                    "Only {n} problem cases (defects or failures) fall in the holdout: the comparison is a "
                    "first signal, not a verdict. Collect more history before acting on it.",
                    int(positives),
                ).format(n=int(positives)),
                icon=":material/info:",
            )
        if not errors and not ui.is_missing(model.model_metric) and model.model_metric >= NEAR_PERFECT:
            st.warning(
                (
                    _(
                        "A near-perfect {metric} ({score}) is more often easy (synthetic) data, or a few "
                        "incidents that were easy to see coming, than a detector that good: check the "
                        "incidents and alarms below before trusting it."
                    )
                    if anomaly
                    else _(
                        "A near-perfect {metric} ({score}) is more often synthetic data or a feature that "
                        "gives the answer away than a model that good: check the top features before "
                        "trusting it."
                    )
                ).format(metric=metric, score=ui.number(model.model_metric, 3)),
                icon=":material/warning:",
            )
        threshold = getattr(model, "threshold", None)
        if remaining_life:
            _remaining_life_reading(model)
        elif forecast:
            _forecast_reading(model)
        elif anomaly:
            listed = incidents[incidents["model_name"] == model.model_name] if len(incidents) else incidents
            _anomaly_reading(model, listed, config.timezone)
            strongest = alarms[alarms["model_name"] == model.model_name] if len(alarms) else alarms
            _alarms_for_review(strongest, config.timezone, getattr(model, "threshold", None))
        elif expected_value:
            mine_features = (
                features[features["model_name"] == model.model_name] if len(features) else features
            )
            has_production = "cycles_started" in set(mine_features.get("feature", []))
            _expected_value_reading(model, has_production)
        elif not ui.is_missing(threshold) and not model.holdout_recall:
            st.markdown(
                _(
                    "At the alert threshold chosen on the validation fold (probability **{threshold}**), "
                    "none of the holdout's problem cases would have been caught: the model ranks cycles but "
                    "is not ready to raise alerts."
                ).format(threshold=ui.number(threshold, 3))
            )
        elif not ui.is_missing(threshold):
            st.markdown(
                _(
                    "Alerting when the predicted probability is at least **{threshold}** (chosen on the "
                    "validation fold) would have caught **{recall}** of the holdout's problem cases, with "
                    "**{precision}** of alerts right (F1 {f1})."
                ).format(
                    threshold=ui.number(threshold, 3),
                    recall=ui.pct(model.holdout_recall),
                    precision=ui.pct(model.holdout_precision),
                    f1=ui.number(model.holdout_f1, 3),
                )
            )
        decision = getattr(model, "champion_decision", None)
        if isinstance(decision, str) and decision:
            sentence = ui.sentence(decision)
            st.markdown(sentence if model.is_champion else ":orange[" + _("Not champion.") + "] " + sentence)
        elif beats:
            st.markdown(
                _("Beats the baseline. Registered as `{name}` v{version}.").format(
                    name=model.registered_model, version=model.model_version
                )
            )
        else:
            st.markdown(_(":orange[Does not beat the baseline]: not promoted to champion."))
        trained = ui.when(model.trained_at, config.timezone)
        st.caption(
            _("Task {task} · MLflow run `{run}` · trained {when}").format(
                task=model.task, run=model.mlflow_run_id, when=trained
            )
        )
        with st.expander(_("Model card: data it needs, validation, baseline")):
            st.markdown(
                model_card(model.model_name, getattr(model, "learner_note", "") or "")
                or _("No model card for this model.")
            )

        left, right = st.columns(2)
        with left:
            if ui.is_missing(model.model_metric) or ui.is_missing(model.baseline_metric):
                st.caption(
                    _("No {metric} to compare: nothing in the holdout to score the model against.").format(
                        metric=metric
                    )
                )
            else:
                scores = pd.DataFrame(
                    {
                        "scorer": [_("model"), _("naive baseline")],
                        "value": [model.model_metric, model.baseline_metric],
                    }
                )
                fig = px.bar(
                    scores,
                    x="scorer",
                    y="value",
                    color="scorer",
                    text=[ui.number(v, digits) for v in scores["value"]],
                    labels={"scorer": "", "value": f"{metric} ({unit.strip()})" if unit else metric},
                    title=(
                        _("{metric}: model vs baseline (smaller is better)")
                        if errors
                        else _("{metric}: model vs baseline")
                    ).format(metric=metric),
                )
                fig.update_layout(showlegend=False)
                ui.chart(fig, key=f"model_vs_baseline_{model.model_name}", hovermode="closest")
        with right:
            mine = features[features["model_name"] == model.model_name] if len(features) else features
            if mine.empty:
                st.caption(_("No feature importances published for this model."))
            elif not (mine["importance"] > 0).any():
                st.caption(_("Shuffling no single feature moved this model's holdout score."))
            else:
                # Features that moved nothing are left out: an empty bar reads as a missing one.
                top = (
                    mine[mine["importance"] > 0]
                    .nsmallest(TOP_FEATURES, "rank")
                    .assign(feature=lambda frame: frame["feature"].map(readable))
                )
                fig = px.bar(
                    top,
                    x="importance",
                    y="feature",
                    orientation="h",
                    labels={
                        "importance": (
                            _("rise in scaled error if shuffled")
                            if forecast
                            else _("RMSE rise if shuffled ({unit})").format(unit=model.unit)
                            if errors
                            else _("share of the alarms' distance from normal")
                            if anomaly
                            else _("drop in {metric} if shuffled").format(metric=metric)
                        ),
                        "feature": "",
                    },
                    title=_("What moved most in the alarms: top {n} features").format(n=len(top))
                    if anomaly
                    else _("Top {n} features").format(n=len(top)),
                )
                fig.update_yaxes(categoryorder="total ascending")
                if anomaly:
                    fig.update_xaxes(tickformat=".0%", rangemode="tozero")
                ui.chart(fig, key=f"model_features_{model.model_name}", hovermode="closest")
                if anomaly:
                    st.caption(
                        _(
                            "Per tag: `level` is the interval's mean against the machine's own history, "
                            "`sustained` the same over its last 12 intervals, `spread` the scatter of the "
                            "readings inside the interval. Each share is the feature's part in how far the "
                            "alarmed intervals lay from normal running, the sensors' usual co-movement "
                            "included."
                        )
                    )

        _holdout_chart(model, mine_daily)
        _in_operation(
            model,
            operating[operating["model_name"] == model.model_name] if len(operating) else operating,
            latest_scores[latest_scores["model_name"] == model.model_name]
            if len(latest_scores)
            else latest_scores,
            config.timezone,
        )
        mine = windows[windows["model_name"] == model.model_name] if len(windows) else windows
        mine = mine.sort_values("rank", kind="stable") if "rank" in mine else mine
        if len(mine):
            st.markdown(_("**Recommended operating windows** (chosen on earlier cycles, checked on later):"))
            for window in mine.itertuples():
                st.markdown(f"- {ui.sentence(window.sentence)}")
            # A window that is not significant is drawn as a hint, not beside the findings as their equal.
            label = mine["parameter"].where(
                mine["confident"].astype(bool), mine["parameter"] + " " + _("(hint)")
            )
            rates = pd.concat(
                pd.DataFrame(
                    {
                        "parameter": label,
                        "where": where,
                        "rate": mine[f"{side}_rate"],
                        "low": mine[f"{side}_rate"] - mine[f"{side}_ci_low"],
                        "high": mine[f"{side}_ci_high"] - mine[f"{side}_rate"],
                    }
                )
                for side, where in (("inside", _("inside the window")), ("outside", _("outside")))
            )
            fig = px.bar(
                rates,
                x="rate",
                y="parameter",
                color="where",
                barmode="group",
                orientation="h",
                error_x="high",
                error_x_minus="low",
                labels={"parameter": "", "rate": _("defect rate"), "where": ""},
                title=_("Defect rate inside and outside each window (95 % interval)"),
            )
            fig.update_xaxes(tickformat=".1%", rangemode="tozero")
            ui.chart(fig, key=f"model_windows_{model.model_name}", hovermode="closest")
            st.caption(
                _(
                    "An association in the client's own data, not a proof of cause: try a window on one "
                    "machine before making it the standard."
                )
            )
