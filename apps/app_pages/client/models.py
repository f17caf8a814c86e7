"""Model results: each standard model against its naive baseline, champion status, top features."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from apps import data, ui
from forgeline.standard_models import model_card

TOP_FEATURES = 10
FEW_POSITIVES = 20  # below this many events in the holdout, a metric moves a lot with one event

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
st.caption(
    "Each model is scored on a holdout set and compared with a naive baseline; it becomes `champion` "
    "only if it beats the baseline."
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
        cols[1].metric(f"Baseline ({model.baseline_name})", ui.number(model.baseline_metric, 3))
        cols[2].metric("Training rows", ui.number(model.n_train))
        positives = getattr(model, "n_test_positives", None)  # absent in snapshots before it was published
        cols[3].metric(
            "Holdout rows",
            ui.number(model.n_test),
            help="The last 30 % of the time range, never seen in training.",
        )
        if not ui.is_missing(positives) and positives < FEW_POSITIVES:
            st.warning(
                f"Only {int(positives)} problem cases (defects or failures) fall in the holdout: the "
                "comparison is a first signal, not a verdict. Collect more history before acting on it.",
                icon=":material/info:",
            )
        if beats:
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
