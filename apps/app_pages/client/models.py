"""Model results: each standard model against its naive baseline, champion status and why, the alert
threshold's figures, top features and recommended operating windows."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from apps import data, ui
from forgeline.standard_models import model_card
from forgeline.standard_models.champion import MIN_HOLDOUT_POSITIVES

TOP_FEATURES = 10
NEAR_PERFECT = 0.98  # a holdout score this high is more often a leak or easy synthetic data than a model

user = ui.require_user()
config = ui.choose_client(user)
ui.client_header("Model results", config)
ui.held_back_banner(user, config)

models = data.model_results(user, config.id)
if models.empty:
    if config.models:
        info = data.run_info(user, config.id)
        if info is None:
            reason = "not run yet"
        elif not ui.is_missing(info.get("gate_passed")) and not bool(info["gate_passed"]):
            reason = "the quality gate failed: see Data quality"
        else:  # trained only when time-ordered train and holdout parts both hold problem cases
            reason = "not trained: the history is too short for a fair holdout; see the run's log"
        st.info(f"No model results for {', '.join(config.models)} in the current snapshot ({reason}).")
    else:
        st.info("No standard models are configured for this client.")
    st.stop()

features = data.model_features(user, config.id)
windows = data.operating_windows(user, config.id)
st.caption(
    "Each model is scored on a holdout set (the latest 30 % of the time range, never seen in training) "
    "beside a naive baseline. A new version becomes `champion` only if it beats both the current champion "
    "and the baseline on that holdout by more than the bootstrap's 90 % interval, and the holdout holds at "
    f"least {MIN_HOLDOUT_POSITIVES} problem cases."
)

for model in models.itertuples():
    with st.container(border=True):
        badge = " :green-badge[champion]" if model.is_champion else ""
        st.subheader(f"{model.model_name}{badge}")
        beats = bool(model.beats_baseline)
        cols = st.columns(4)
        cols[0].metric(
            f"{model.metric_name} (holdout)",
            ui.number(model.model_metric, 3),
            delta=f"{model.model_metric - model.baseline_metric:+.3f} vs baseline",
            delta_color="normal" if beats else "inverse",
        )
        baseline_help = f"Naive baseline: {model.baseline_name}."
        cols[1].metric("Baseline", ui.number(model.baseline_metric, 3), help=baseline_help)
        cols[2].metric("Training rows", ui.number(model.n_train))
        positives = getattr(model, "n_test_positives", None)  # absent in snapshots before it was published
        cols[3].metric(
            "Holdout rows",
            ui.number(model.n_test),
            help="The last 30 % of the time range, never seen in training.",
        )
        if not ui.is_missing(positives) and positives < MIN_HOLDOUT_POSITIVES:
            st.warning(
                f"Only {int(positives)} problem cases (defects or failures) fall in the holdout: the "
                "comparison is a first signal, not a verdict. Collect more history before acting on it.",
                icon=":material/info:",
            )
        if not ui.is_missing(model.model_metric) and model.model_metric >= NEAR_PERFECT:
            st.warning(
                f"A near-perfect {model.metric_name} ({model.model_metric:.3f}) is more often synthetic data "
                "or a feature that gives the answer away than a model that good: check the top features "
                "before trusting it.",
                icon=":material/warning:",
            )
        threshold = getattr(model, "threshold", None)
        if not ui.is_missing(threshold) and not model.holdout_recall:
            st.markdown(
                f"At the alert threshold chosen on the validation fold (probability **{threshold:.3f}**), "
                "none of the holdout's problem cases would have been caught: the model ranks cycles but is "
                "not ready to raise alerts."
            )
        elif not ui.is_missing(threshold):
            st.markdown(
                f"Alerting when the predicted probability is at least **{threshold:.3f}** (chosen on the "
                f"validation fold) would have caught **{ui.pct(model.holdout_recall)}** of the holdout's "
                f"problem cases, with **{ui.pct(model.holdout_precision)}** of alerts right "
                f"(F1 {ui.number(model.holdout_f1, 3)})."
            )
        decision = getattr(model, "champion_decision", None)
        if isinstance(decision, str) and decision:
            sentence = decision[0].upper() + decision[1:] + ("" if decision.endswith(".") else ".")
            st.markdown(sentence if model.is_champion else f":orange[Not champion.] {sentence}")
        elif beats:
            st.markdown(
                f"Beats the baseline. Registered as `{model.registered_model}` v{model.model_version}."
            )
        else:
            st.markdown(":orange[Does not beat the baseline]: not promoted to champion.")
        trained = ui.when(model.trained_at, config.timezone)
        st.caption(f"Task {model.task} · MLflow run `{model.mlflow_run_id}` · trained {trained}")
        with st.expander("Model card: data it needs, validation, baseline"):
            st.markdown(model_card(model.model_name) or "No model card for this model.")

        left, right = st.columns(2)
        with left:
            scores = pd.DataFrame(
                {
                    "scorer": ["model", f"baseline ({model.baseline_name})"],
                    "value": [model.model_metric, model.baseline_metric],
                }
            )
            fig = px.bar(
                scores,
                x="scorer",
                y="value",
                color="scorer",
                text=scores["value"].map(lambda v: ui.number(v, 3)),
                labels={"scorer": "", "value": model.metric_name},
                title=f"{model.metric_name}: model vs baseline",
            )
            fig.update_layout(showlegend=False)
            ui.chart(fig, key=f"model_vs_baseline_{model.model_name}", hovermode="closest")
        with right:
            mine = features[features["model_name"] == model.model_name] if len(features) else features
            if mine.empty:
                st.caption("No feature importances published for this model.")
            else:
                top = mine.nsmallest(TOP_FEATURES, "rank")
                fig = px.bar(
                    top,
                    x="importance",
                    y="feature",
                    orientation="h",
                    labels={"importance": "importance", "feature": ""},
                    title=f"Top {len(top)} features",
                )
                fig.update_yaxes(categoryorder="total ascending")
                ui.chart(fig, key=f"model_features_{model.model_name}", hovermode="closest")

        mine = windows[windows["model_name"] == model.model_name] if len(windows) else windows
        mine = mine.sort_values("rank", kind="stable") if "rank" in mine else mine
        if len(mine):
            st.markdown("**Recommended operating windows** (chosen on earlier cycles, checked on later):")
            for window in mine.itertuples():
                st.markdown(f"- {window.sentence[0].upper()}{window.sentence[1:]}.")
            # A window that is not significant is drawn as a hint, not beside the findings as their equal.
            label = mine["parameter"].where(mine["confident"].astype(bool), mine["parameter"] + " (hint)")
            rates = pd.concat(
                pd.DataFrame(
                    {
                        "parameter": label,
                        "where": where,
                        "defect rate": mine[f"{side}_rate"],
                        "low": mine[f"{side}_rate"] - mine[f"{side}_ci_low"],
                        "high": mine[f"{side}_ci_high"] - mine[f"{side}_rate"],
                    }
                )
                for side, where in (("inside", "inside the window"), ("outside", "outside"))
            )
            fig = px.bar(
                rates,
                x="defect rate",
                y="parameter",
                color="where",
                barmode="group",
                orientation="h",
                error_x="high",
                error_x_minus="low",
                labels={"parameter": ""},
                title="Defect rate inside and outside each window (95 % interval)",
            )
            fig.update_xaxes(tickformat=".1%", rangemode="tozero")
            ui.chart(fig, key=f"model_windows_{model.model_name}", hovermode="closest")
            st.caption(
                "An association in the client's own data, not a proof of cause: try a window on one machine "
                "before making it the standard."
            )
