"""The catalog of AI standard models, and training them for one client with MLflow.

Each entry of :data:`CATALOG` is a module that turns a client's core tables into a leakage-free
:class:`~forgeline.standard_models.base.TrainingSet`. Training is the same for all: a time-ordered
holdout, the model beside its naive baseline, everything logged to the program's MLflow store
(SQLite tracking + registry, see :mod:`forgeline.standard_models.store`), and the version registered as
``<client>__<model>`` once its run has finished. A version that beats its baseline becomes ``champion``,
but the alias moves only after the snapshot that shows it is published (:func:`promote_champions`).

Re-running on unchanged data is safe: a finished run with the same training-data fingerprint is reused,
not trained and registered again; the same data always gives the same fingerprint (deterministic SQL,
one training thread).

A model is trained again only when its training data changed materially (:func:`_immaterial_change`):
rows only added after the last run's data (every earlier row, label and feature exactly as it was, but for
the last day or label horizon, which new data completes: :func:`_settled_until`), less
than ``RETRAIN_GROWTH`` more rows and positive cases, the same features and the same model set-up keep
the last run and its version, with its holdout figures. A new day of a year's data does not retrain; a
correction, a withdrawal, a new feature, a changed set-up, or a tenth more data does.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import threading
from collections.abc import Sequence
from importlib import metadata
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from forgeline.clients import ClientConfig
from forgeline.i18n import N_, Stored, later, use_language, word
from forgeline.locking import open_warehouse
from forgeline.settings import Settings
from forgeline.standard_models import (
    champion,
    defect_prediction,
    demand_forecast,
    detector,
    energy_baseline,
    failure_prediction,
    forecaster,
    learner,
    operation,
    remaining_useful_life,
    sensor_anomalies,
)
from forgeline.standard_models.base import (
    HOLDOUT_SHARE,
    MAX_TRAINING_ROWS,
    ModelResult,
    NotEnoughData,
    TrainingSet,
    utc_now,
)
from forgeline.standard_models.champion import CHAMPION_ALIAS
from forgeline.standard_models.families import (
    ANOMALIES,
    EVENTS,
    EXPECTED_VALUES,
    FAMILIES,
    FORECASTS,
    REMAINING_LIFE,
    Events,
    Fitted,
)
from forgeline.standard_models.store import (
    ensure_mlflow_store,
    experiment_name,
    recover_interrupted,
    tracking_client,
)

log = logging.getLogger("forgeline.standard_models")

CATALOG: dict[str, ModuleType] = {
    defect_prediction.NAME: defect_prediction,
    failure_prediction.NAME: failure_prediction,
    energy_baseline.NAME: energy_baseline,
    remaining_useful_life.NAME: remaining_useful_life,
    sensor_anomalies.NAME: sensor_anomalies,
    demand_forecast.NAME: demand_forecast,
}
# The types a fitted model holds beyond scikit-learn's own (skops refuses others on load). We wrote the models
# ourselves, so we trust them; the first three are what earlier HistGradientBoosting versions hold.
SKOPS_TRUSTED_TYPES = [
    "collections.OrderedDict",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "functools.partial",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
    "forgeline.standard_models.detector.SensorAnomalyDetector",
    "forgeline.standard_models.forecaster.ProductForecaster",
    "sklearn.tree._tree.Tree",  # the isolation forest's trees
]
MODEL_URI_TAG = "forgeline.model_uri"  # set inside the run once its model is logged
PRIMARY_METRIC = "pr_auc"  # of runs logged before the family tag (families.py names each family's)
# Retrain when the training rows or the positive cases grew by this share or more since the last run.
RETRAIN_GROWTH = 0.10
# The last stretch of a run's training data that newer data may still complete (see _settled_until).
SETTLING = pd.Timedelta(days=1)
# MLflow keeps process-wide state (its SQLite store's engine, the registry) and SQLite takes one writer at a
# time: when clients run side by side in threads, their MLflow calls take turns. Reading the training data
# and fitting touch no MLflow state and run side by side (DuckDB and scikit-learn release the GIL).
_STORE_LOCK = threading.RLock()


class TrainingBlocked(RuntimeError):
    """Training was asked for a client whose quality gate did not pass."""


def missing_inputs(model_name: str, filled: set[str]) -> list[str]:
    """The core tables (without ``fct_``) a catalog model needs and ``filled`` (the core tables holding rows,
    named the same way) lacks; a model that reads any of several (a forecast: orders, counts or cycles)
    needs one of them. Empty: the data is there."""
    module = CATALOG[model_name]
    missing = [t.removeprefix("fct_") for t in module.REQUIRED_TABLES if t.removeprefix("fct_") not in filled]
    either = [t.removeprefix("fct_") for t in getattr(module, "REQUIRED_ANY", [])]
    if either and not any(t in filled for t in either):
        missing.append(" or ".join(either))
    return missing


def registered_model_name(client_id: str, model_name: str) -> str:
    return f"{client_id}__{model_name}"


def _experiment_id(client: Any, settings: Settings, client_id: str) -> str:
    """The client's experiment, created the first time. With the embedded store its artifacts go to a
    folder of the workspace; on a tracking server (docs/deploy.md) the experiment gets no location of its
    own, so artifacts go through the server (``--serve-artifacts``), never to a path on a worker."""
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(experiment_name(client_id))
    if experiment is not None:
        return experiment.experiment_id
    location: str | None = None
    if not settings.mlflow_tracking_uri.startswith(("http:", "https:")):
        folder = settings.mlflow_artifact_dir(client_id)
        folder.mkdir(parents=True, exist_ok=True)
        location = folder.as_uri()
    try:
        return client.create_experiment(experiment_name(client_id), artifact_location=location)
    except MlflowException as exc:  # created meanwhile by another run of the program
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        experiment = client.get_experiment_by_name(experiment_name(client_id))
        if experiment is None:  # created and deleted meanwhile: deleted experiments keep their name
            raise RuntimeError(
                f"MLflow experiment {experiment_name(client_id)!r} exists but is deleted; restore it in the "
                "MLflow UI (or `mlflow experiments restore`), then run again."
            ) from exc
        return experiment.experiment_id


def _finished_run(client: Any, experiment_id: str, model_name: str, fingerprint: str) -> Any | None:
    """The latest run that finished training on exactly this data with this set-up (a killed or failed
    run never counts; a changed learner retrains even on unchanged data)."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=(
            f"tags.model_name = '{model_name}' and tags.training_data_fingerprint = '{fingerprint}' "
            f"and tags.model_setup = '{_model_setup(model_name)}' and attributes.status = 'FINISHED'"
        ),
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def _latest_finished_run(client: Any, experiment_id: str, model_name: str) -> Any | None:
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.model_name = '{model_name}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _model_setup(model_name: str) -> str:
    """What fits the model's family — the learner, its search, its fold, the training-row cap — as one short
    digest: a change retrains the models of that family, never the others."""
    import json

    family = CATALOG[model_name].FAMILY
    boosted = {
        "learner": learner.LEARNER_VERSION,
        "lightgbm": metadata.version("lightgbm"),
        "fixed": learner.FIXED_PARAMS,
        "search": learner.SEARCH,
        "validation_share": learner.VALIDATION_SHARE,
        "early_stopping_rounds": learner.EARLY_STOPPING_ROUNDS,
    }
    regression = [learner.REGRESSION_ESTIMATOR, learner.MIN_VALIDATION_ROWS]
    own: dict[str, Any] = {
        EVENTS: {**boosted, "estimator": learner.ESTIMATOR},
        EXPECTED_VALUES: {**boosted, "regression": [*regression, "objective=regression"]},
        REMAINING_LIFE: {**boosted, "regression": [*regression, "objective=regression"]},
        ANOMALIES: {"anomaly_detector": detector.SETUP},
        FORECASTS: {
            **boosted,
            "regression": [*regression, "objective=regression_l1"],
            "forecaster": forecaster.SETUP,
        },
    }[family]
    setup = {"family": family.name, "max_training_rows": MAX_TRAINING_ROWS, **own}
    return _digest(json.dumps(setup, sort_keys=True))


def _settled_until(data: TrainingSet) -> pd.Timestamp:
    """Rows up to here are settled: newer data cannot change them. The last day (or label horizon, if
    longer) before the end is not: the next delivery completes its partial hours and its look-ahead labels."""
    return pd.Timestamp(data.time.max()) - max(data.embargo, SETTLING)


def _training_tags(data: TrainingSet, model_name: str) -> dict[str, str]:
    """What the material-change rule compares with the next run's data (see the module docstring)."""
    settled = _settled_until(data)
    return {
        "training_rows": str(len(data.label)),
        "training_positives": str(int(data.label.sum())),
        "training_settled_until": settled.isoformat(),
        "training_settled_fingerprint": data.fingerprint(up_to=settled),
        "training_columns": _digest(",".join(sorted(map(str, data.features.columns)))),
        "model_setup": _model_setup(model_name),
        # The end of the data the version was trained and chosen on: later rows are live (operation.py).
        "training_data_until": pd.Timestamp(data.time.max()).isoformat(),
    }


def _immaterial_change(run: Any, data: TrainingSet) -> str | None:
    """Why ``data`` need not retrain the model of ``run`` (a sentence for the log), or None: retrain."""
    tags = run.data.tags
    wanted = ("training_rows", "training_positives", "training_settled_until", "training_settled_fingerprint")
    if any(name not in tags for name in (*wanted, "training_columns", "model_setup")):
        return None  # trained before these were recorded
    if tags.get("model_name") not in CATALOG:
        return None
    now = {
        "training_rows": str(len(data.label)),
        "training_positives": str(int(data.label.sum())),
        "training_columns": _digest(",".join(sorted(map(str, data.features.columns)))),
        "model_setup": _model_setup(tags.get("model_name", "")),
    }
    if tags["training_columns"] != now["training_columns"] or tags["model_setup"] != now["model_setup"]:
        return None
    before_rows, rows = int(tags["training_rows"]), int(now["training_rows"])
    before_positives, positives = int(tags["training_positives"]), int(now["training_positives"])
    if rows < before_rows or positives < before_positives:
        return None
    if rows - before_rows >= RETRAIN_GROWTH * before_rows:
        return None
    if positives - before_positives >= max(RETRAIN_GROWTH * before_positives, 1):
        return None
    # Only appended: the rows that were settled in the last run's data are exactly what it learned from.
    if (
        data.fingerprint(up_to=pd.Timestamp(tags["training_settled_until"]))
        != tags["training_settled_fingerprint"]
    ):
        return None
    return (
        f"{rows - before_rows:,} row(s) added (+{(rows - before_rows) / max(before_rows, 1):.1%}), "
        f"{positives - before_positives} new positive case(s), earlier rows unchanged: below the "
        f"{RETRAIN_GROWTH:.0%} retrain threshold"
    )


def _registered_version(client: Any, registered: str, run: Any) -> str | None:
    """The registered version of a finished run's model; registered now if a stop came in between.

    A run registers only after it finished (its model complete), so a version always has a whole model
    behind it. A process stopped between the two leaves a finished run without a version: the next run on
    the same data registers it here instead of training again. None for a run without a recorded model.
    """
    from mlflow.exceptions import MlflowException

    run_id = run.info.run_id
    versions = client.search_model_versions(f"name = '{registered}' and run_id = '{run_id}'")
    if versions:
        return str(max(int(v.version) for v in versions))
    model_uri = run.data.tags.get(MODEL_URI_TAG)
    if not model_uri:
        return None
    log.info("Registering run %s as a version of %s…", run_id, registered)
    try:
        client.create_registered_model(registered)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    version = client.create_model_version(
        name=registered,
        source=model_uri,
        run_id=run_id,
        model_id=model_uri.removeprefix("models:/"),
        tags={"training_data_fingerprint": run.data.tags.get("training_data_fingerprint", "")},
    )
    log.info("Registered %s version %s.", registered, version.version)
    return str(version.version)


# Run tag: the baseline's name as its message and values (JSON; forgeline/i18n.py), beside the English one.
BASELINE_TAG = "baseline_wording"


def _baseline_tags(name: str | Stored) -> dict[str, str]:
    """The baseline's name in English (``baseline_name``, what every reader of a run has read) and, when the
    model words it as a message, that message and its values to word in the reader's language."""
    if isinstance(name, str):
        return {"baseline_name": name}
    with use_language("en"):
        english = word(name)
    return {"baseline_name": english, BASELINE_TAG: json.dumps(name, ensure_ascii=False)}


def _wording(**parts: str | None) -> str:
    """A result's stored messages (JSON texts of tags) as one JSON object, "" when there is none."""
    found = {}
    for part, text in parts.items():
        try:
            found[part] = json.loads(text) if text else None
        except ValueError:
            continue
    found = {part: stored for part, stored in found.items() if isinstance(stored, dict)}
    return json.dumps(found, ensure_ascii=False) if found else ""


def _result_from_run(
    client: Any, run: Any, registered: str, version: str, is_champion: bool, reused: bool
) -> ModelResult:
    """What publish shows of one model version, read from its MLflow run (new or reused alike).

    ``is_champion`` says what the published snapshot shows (:func:`_is_champion`); the alias itself moves
    only after that snapshot is published (:func:`promote_champions`).
    """
    tags, metrics = run.data.tags, run.data.metrics
    found = client.get_model_version(registered, version)
    family = FAMILIES[tags.get("family", "event")]
    anomaly = family is ANOMALIES
    return ModelResult(
        model_name=tags["model_name"],
        registered_model=registered,
        task=tags.get("task", ""),
        metric_name=family.metric,
        # NaN when nothing could score it (an anomaly detector without labelled incidents in its holdout).
        model_metric=float(metrics.get(f"holdout_{family.metric}", np.nan)),
        baseline_name=tags.get("baseline_name", ""),
        baseline_metric=float(metrics.get(f"baseline_{family.metric}", np.nan)),
        beats_baseline=tags.get("beats_baseline") == "true",
        model_version=version,
        is_champion=is_champion,
        mlflow_run_id=run.info.run_id,
        n_train=int(metrics["n_train"]),
        n_test=int(metrics["n_test"]),
        n_test_positives=int(metrics["positives_test"]) if "positives_test" in metrics else None,
        trained_at=pd.Timestamp(run.info.start_time, unit="ms", tz="UTC").to_pydatetime(),
        top_features=_load_json(client, run.info.run_id, "feature_importance.json"),
        reused=reused,
        threshold=metrics.get("threshold"),
        holdout_f1=metrics.get("holdout_f1"),
        holdout_precision=metrics.get("holdout_precision"),
        holdout_recall=metrics.get("holdout_recall"),
        champion_decision=found.tags.get(champion.DECISION_TAG, ""),
        wording=_wording(
            champion_decision=found.tags.get(champion.DECISION_WORDING_TAG),
            baseline_name=tags.get(BASELINE_TAG),
        ),
        learner_note=tags.get("learner_note", ""),
        operating_windows=_load_json(client, run.info.run_id, "operating_windows.json"),
        family=family.name,
        unit=tags.get("unit", ""),
        holdout_cv_rmse=metrics.get("holdout_cv_rmse"),
        holdout_nmbe=metrics.get("holdout_nmbe"),
        anomalies=int(metrics["holdout_anomalies"]) if "holdout_anomalies" in metrics else None,
        anomaly_excess=metrics.get("holdout_anomaly_excess"),
        anomaly_co2_kg=metrics.get("holdout_anomaly_co2_kg"),
        holdout_daily=_load_json(client, run.info.run_id, "holdout_daily.json"),
        holdout_phm_score=metrics.get("holdout_phm_score"),
        baseline_phm_score=metrics.get("baseline_phm_score"),
        holdout_units=int(metrics["units_test"]) if "units_test" in metrics else None,
        holdout_rmse_at_random_cycle=metrics.get("holdout_rmse_at_random_cycle"),
        baseline_rmse_at_random_cycle=metrics.get("baseline_rmse_at_random_cycle"),
        holdout_incidents=_count(metrics, "holdout_incidents"),
        holdout_incidents_warned=_count(metrics, "holdout_incidents_warned"),
        baseline_incidents_warned=_count(metrics, "baseline_incidents_warned"),
        holdout_warning_h=metrics.get("holdout_warning_h"),
        holdout_alarm_rate=metrics.get("holdout_alert_rate") if anomaly else None,
        baseline_alarm_precision=metrics.get("baseline_precision") if anomaly else None,
        holdout_incidents_warned_by_chance=metrics.get("holdout_incidents_warned_by_chance"),
        baseline_incidents_warned_by_chance=metrics.get("baseline_incidents_warned_by_chance"),
        incidents=_load_json(client, run.info.run_id, "holdout_incidents.json") if anomaly else [],
        alarms=_load_json(client, run.info.run_id, "holdout_alarms.json") if anomaly else [],
        **_forecast_figures(metrics) if family is FORECASTS else {},
    )


def _forecast_figures(metrics: dict[str, float]) -> dict[str, Any]:
    """A forecast's figures beside its headline (the week-ahead MASE): sMAPE, and both a day ahead."""
    return {
        "holdout_smape": metrics.get("holdout_smape"),
        "baseline_smape": metrics.get("baseline_smape"),
        "holdout_mase_day_ahead": metrics.get("holdout_mase_day_ahead"),
        "baseline_mase_day_ahead": metrics.get("baseline_mase_day_ahead"),
        "holdout_smape_day_ahead": metrics.get("holdout_smape_day_ahead"),
        "baseline_smape_day_ahead": metrics.get("baseline_smape_day_ahead"),
        "holdout_mase_7_days_ahead": metrics.get("holdout_mase_7_days_ahead"),
        "baseline_mase_7_days_ahead": metrics.get("baseline_mase_7_days_ahead"),
        "holdout_products": _count(metrics, "holdout_products"),
    }


def _count(metrics: dict[str, float], name: str) -> int | None:
    return int(metrics[name]) if name in metrics else None


def _kept_is_champion(
    client: Any, module: ModuleType, registered: str, version: str, data: TrainingSet
) -> bool:
    """:func:`_is_champion` for a kept version; one registered by a run stopped before the champion rule
    was applied to it (no verdict recorded) has the rule applied now, on the current data's holdout."""
    if champion.PROMOTE_TAG not in client.get_model_version(registered, version).tags:
        test = data.features[module.FAMILY.split(data).test]
        score, problem = _champion_score(module, registered, version, test)
        if score is None:
            log.warning("%s: version %s cannot be judged: %s", registered, version, problem)
            return False
        _decide(client, module, registered, version, data, score)
    return _is_champion(client, registered, version)


def _is_champion(client: Any, registered: str, version: str) -> bool:
    """Whether a kept (reused) version is champion, as the champion history intends.

    - Named in the history: champion exactly when the last event names it. The alias may lag behind the
      history (a stop inside ``set_champion``); :func:`promote_champions` completes the move.
    - Never named: champion when the alias names it (set before histories were kept), or when the policy
      promoted it and nothing happened since it was registered (a run stopped before publishing). A
      consultant's promote or rollback after that supersedes the pending promotion.
    """
    history = champion.champion_history(client, registered)
    named = [str(e.get("version")) for e in history]
    if version in named:
        return named[-1] == version
    if champion.current_champion(client, registered) == version:
        return True
    found = client.get_model_version(registered, version)
    if found.tags.get(champion.PROMOTE_TAG) != "true":
        return False
    registered_at = pd.Timestamp(int(found.creation_timestamp), unit="ms", tz="UTC")
    return not any(pd.Timestamp(e["at"]) >= registered_at.floor("s") for e in history if e.get("at"))


def _log_frame(frame: pd.DataFrame, name: str) -> None:
    """Log a frame as a Parquet artifact of the active run."""
    import tempfile

    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/{name}"
        frame.to_parquet(path, index=False)
        mlflow.log_artifact(path)


def _load_json(client: Any, run_id: str, name: str) -> list[dict[str, Any]]:
    """A run's JSON list artifact (top features, operating windows); empty for older runs without it."""
    import json
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download_artifacts(run_id, name, tmp)
        except Exception:  # an older run without the artifact: no chart, not an error
            return []
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)


def _fit(module: ModuleType, data: TrainingSet, progress: Any = log.info) -> Fitted:
    """Fit the model's family on the earlier part and score it and its baseline on the holdout."""
    from threadpoolctl import threadpool_limits

    # One OpenMP/BLAS thread: parallel reductions add floats in no fixed order, and the same data must
    # give the same model to the last bit (the clients running side by side share out the cores anyway).
    with threadpool_limits(limits=1):
        return module.FAMILY.fit(data, progress)


def _train_one(
    settings: Settings, config: ClientConfig, model_name: str, data: TrainingSet, gate: Any
) -> ModelResult:
    import mlflow
    import sklearn
    from mlflow.models import infer_signature

    module = CATALOG[model_name]
    registered = registered_model_name(config.id, model_name)
    fingerprint = data.fingerprint()
    with _STORE_LOCK:
        mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
        mlflow.set_registry_uri(settings.mlflow_tracking_uri)
        client = tracking_client(settings)
        experiment_id = _experiment_id(client, settings, config.id)

        earlier = _finished_run(client, experiment_id, model_name, fingerprint)
        version = _registered_version(client, registered, earlier) if earlier is not None else None
        if earlier is not None and version is not None:
            log.info(
                "%s %s: training data unchanged (fingerprint %s); keeping run %s, version %s.",
                config.id,
                model_name,
                fingerprint[:12],
                earlier.info.run_id,
                version,
            )
            is_champion = _kept_is_champion(client, module, registered, version, data)
            return _result_from_run(client, earlier, registered, version, is_champion, reused=True)
        latest = _latest_finished_run(client, experiment_id, model_name)
        why = _immaterial_change(latest, data) if latest is not None else None
        version = _registered_version(client, registered, latest) if why else None
        if latest is not None and why and version is not None:
            log.info(
                "%s %s: not retrained: %s; keeping run %s, version %s.",
                config.id,
                model_name,
                why,
                latest.info.run_id,
                version,
            )
            is_champion = _kept_is_champion(client, module, registered, version, data)
            return _result_from_run(client, latest, registered, version, is_champion, reused=True)

    log.info(
        "%s %s: training on %s rows (fingerprint %s)…",
        config.id,
        model_name,
        f"{len(data.label):,}",
        fingerprint[:12],
    )

    def progress(line: str) -> None:
        log.info("%s %s: %s", config.id, model_name, line)

    family = module.FAMILY
    fitted = _fit(module, data, progress)
    split, metrics, baseline = fitted.split, fitted.metrics, fitted.baseline
    label = data.label.to_numpy()
    # NaN when nothing scores it (an anomaly detector without incidents): it then beats nothing.
    mine, theirs = (
        metrics.get(f"holdout_{family.metric}", np.nan),
        baseline.get(f"baseline_{family.metric}", np.nan),
    )
    beats = bool(mine < theirs if family.lower_is_better else mine > theirs)
    gate_summary = gate.summary()
    counts = {"n_train": int(split.train.sum()), "n_test": int(split.test.sum())}
    if isinstance(family, Events):  # events and anomalies: rows labelled positive
        counts |= {
            "positives_train": int(label[split.train].sum()),
            "positives_test": int(label[split.test].sum()),
        }
    if family is REMAINING_LIFE:
        units = data.context["unit_id"] if data.context is not None else pd.Series(dtype=str)
        counts |= {
            "units_train": int(units[split.train].nunique()),
            "units_test": int(units[split.test].nunique()),
        }

    with _STORE_LOCK:
        with mlflow.start_run(
            experiment_id=experiment_id, run_name=f"{model_name} {utc_now():%Y-%m-%d %H:%M}"
        ) as run:
            mlflow.log_params(
                {
                    **{f"model__{k}": v for k, v in fitted.params.items()},
                    "estimator": family.estimator,
                    "holdout": f"time-ordered, last {HOLDOUT_SHARE:.0%} of the time range",
                    "validation": f"time-ordered, latest {learner.VALIDATION_SHARE:.0%} of the training rows",
                    "training_rows": f"the latest {MAX_TRAINING_ROWS:,} before the holdout, at most",
                    "holdout_starts_after": split.cut.isoformat(),
                    "embargo": str(data.embargo),
                    "n_features": data.features.shape[1],
                    "training_data_fingerprint": fingerprint,
                    "threshold_rule": family.threshold_rule,
                }
            )
            # NaN figures (no emission factor, no fold) are left out: MLflow stores them, the app cannot.
            mlflow.log_metrics({k: v for k, v in {**metrics, **baseline, **counts}.items() if np.isfinite(v)})
            mlflow.set_tags(
                {
                    "client_id": config.id,
                    "model_name": model_name,
                    "family": family.name,
                    "task": module.TASK,
                    "unit": data.unit,
                    **_baseline_tags(data.baseline_name),
                    "beats_baseline": str(beats).lower(),
                    "training_data_fingerprint": fingerprint,
                    "gate_passed": str(bool(gate_summary.get("passed"))).lower(),
                    "gate_checked_at": str(gate_summary.get("checked_at", "")),
                    "gate_expectations": str(gate_summary.get("expectations", "")),
                    "learner_note": fitted.note,
                    **_training_tags(data, model_name),
                }
            )
            mlflow.log_dict(fitted.top_features, "feature_importance.json")
            mlflow.log_dict({**data.description, "gate": gate_summary}, "training_set.json")
            mlflow.log_dict(fitted.search, "hyperparameter_search.json")
            mlflow.log_dict(fitted.windows, "operating_windows.json")
            mlflow.log_dict(fitted.incidents, "holdout_incidents.json")
            mlflow.log_dict(fitted.alarms, "holdout_alarms.json")
            mlflow.log_dict(family.daily(fitted.holdout, config.timezone), "holdout_daily.json")
            mlflow.log_text(model_card(model_name, fitted.note), "model_card.md")
            _log_frame(fitted.holdout, "holdout_predictions.parquet")
            log.info("%s %s: logging the model to MLflow (run %s)…", config.id, model_name, run.info.run_id)
            # Integer features declared as floats: a missing value at scoring time is then not a schema error.
            example = learner.inputs(fitted.model, data.features[split.test].head(5))
            example = example.astype({c: "float64" for c in example.select_dtypes("integer").columns})
            info = mlflow.sklearn.log_model(
                fitted.model,
                name="model",
                # Explicit requirements: inferring them costs seconds per model and needs no network here.
                pip_requirements=[
                    f"scikit-learn=={sklearn.__version__}",
                    f"lightgbm=={metadata.version('lightgbm')}",
                    f"pandas=={pd.__version__}",
                ],
                signature=infer_signature(example, fitted.holdout[family.prediction].head(5).to_numpy()),
                input_example=example,
                # MLflow stores sklearn models with skops, which loads only the types it is told to trust.
                skops_trusted_types=SKOPS_TRUSTED_TYPES,
            )
            # Registration comes after the run finished: a run stopped half way never becomes a version.
            mlflow.set_tag(MODEL_URI_TAG, info.model_uri)

        finished = client.get_run(run.info.run_id)
        version = _registered_version(client, registered, finished)
        assert version is not None  # the run just recorded its model
        score = fitted.holdout[family.prediction].to_numpy()
        decision = _decide(client, module, registered, version, data, score)
    (log.info if decision.promote else log.warning)("%s %s: %s", config.id, model_name, decision.reason)
    return _result_from_run(client, finished, registered, version, decision.promote, reused=False)


def _champion_score(
    module: ModuleType, registered: str, version: str, features: pd.DataFrame
) -> tuple[Any, Stored | None]:
    """The current champion's predictions of these rows, or None and why it cannot give them."""
    import mlflow

    try:
        model = mlflow.sklearn.load_model(f"models:/{registered}/{version}")
        missing = learner.missing_columns(model, features)
        if missing:
            return None, later(
                N_(
                    "the current champion (version {version}) reads features this data no longer has "
                    "({columns})"
                ),
                version=str(version),
                columns=f"{', '.join(missing[:3])}{'…' if len(missing) > 3 else ''}",
            )
        return module.FAMILY.predict(model, learner.inputs(model, features)), None
    except Exception as exc:  # an unreadable or incompatible champion must not stop training
        return None, later(
            N_("the current champion (version {version}) could not score this holdout ({error})"),
            version=str(version),
            error=str(exc)[:240],
        )


def _decide(
    client: Any, module: ModuleType, registered: str, version: str, data: TrainingSet, score: np.ndarray
) -> champion.Decision:
    """Apply the champion rule to a new version on its holdout and keep the decision on the version."""
    test = data.features[module.FAMILY.split(data).test]
    current = champion.current_champion(client, registered)
    champion_score, note = (None, None)
    if current is not None and current != version:
        champion_score, note = _champion_score(module, registered, current, test)
    decision = module.FAMILY.decide(
        data, module, score, champion_score, champion_version=current, version=version, champion_note=note
    )
    champion.record_decision(client, registered, version, decision)
    return decision


def promote_champions(settings: Settings, results: Sequence[ModelResult]) -> list[str]:
    """Move the alias ``champion`` to each version the just-published snapshot shows as champion.

    Called only after the snapshot is published and ``CURRENT`` names it: the alias never points at a
    version the client's published results do not show. Idempotent: a run stopped before this step has it
    done by the next run (same data, same versions). Returns the registered models whose alias moved.
    """
    if not results:
        return []
    with _STORE_LOCK:
        return _move_champion_aliases(settings, results)


def _move_champion_aliases(settings: Settings, results: Sequence[ModelResult]) -> list[str]:
    client = tracking_client(settings)
    moved = []
    for result in results:
        if not result.is_champion:
            # A move the history records but the alias never made (a stop inside set_champion, e.g. in a
            # consultant's rollback) is completed, not overwritten.
            history = champion.champion_history(client, result.registered_model)
            intended = str(history[-1]["version"]) if history else None
            current = champion.current_champion(client, result.registered_model)
            if intended is not None and current != intended:
                client.set_registered_model_alias(result.registered_model, CHAMPION_ALIAS, intended)
                moved.append(result.registered_model)
            continue
        reason = result.champion_decision or "the policy promoted it"
        registered, version = result.registered_model, result.model_version
        if champion.set_champion(client, registered, version, reason, by="forgeline run"):
            moved.append(result.registered_model)
    return moved


def prepare_client_store(settings: Settings, client_id: str) -> list[str]:
    """At a client's run start: the store in order, and what a killed earlier run left open closed."""
    with _STORE_LOCK:
        ensure_mlflow_store(settings)
        return recover_interrupted(settings, client_id)


def model_card(model_name: str, note: str = "") -> str:
    """What the model needs, how it is validated, the baseline it must beat (its module's docstring), how
    the learner is tuned (:mod:`~forgeline.standard_models.learner`), and a version's own caveat."""
    module = CATALOG.get(model_name)
    if module is None:
        return ""
    card = (
        inspect.cleandoc(module.__doc__ or "")
        + f"\n\nTraining uses at most the latest {MAX_TRAINING_ROWS:,} rows before the holdout; the holdout"
        " is never cut.\n\n" + inspect.cleandoc(module.FAMILY.learner_description)
    )
    card += f"\n\nThis version: {note}." if note else ""
    # Read by people, not Sphinx: a role such as :func:`~a.b.c` becomes `c`, ``code`` becomes `code`.
    card = re.sub(r":\w+:`~?(?:[\w.]+\.)?([^`]+)`", r"`\1`", card)
    return card.replace("``", "`")


def build_training_set(settings: Settings, config: ClientConfig, model_name: str) -> TrainingSet:
    """Read the client's core tables (read-only, closed at once) into one model's training set."""
    if model_name not in CATALOG:
        raise ValueError(
            f"{config.id}: mapping.yml asks for model {model_name!r}, which is not in the catalog "
            f"{sorted(CATALOG)}. Fix `models:` in mapping.yml."
        )
    # The client's DuckDB share of memory and cores, as in its other stages (settings).
    con = open_warehouse(settings, config.id, read_only=True)
    try:
        return CATALOG[model_name].build_training_set(con, config)
    finally:
        con.close()


def _in_operation(settings: Settings, config: ClientConfig, data: TrainingSet, result: ModelResult) -> None:
    """The champion (this version once published, or the one the alias names) on every row after its
    training cut: its weeks and latest scores go on ``result`` (see :mod:`.operation`)."""
    import mlflow

    module = CATALOG[result.model_name]
    registered = result.registered_model
    with _STORE_LOCK:
        client = tracking_client(settings)
        version = (
            result.model_version if result.is_champion else champion.current_champion(client, registered)
        )
        if version is None:
            return
        try:
            run = client.get_run(client.get_model_version(registered, version).run_id)
            cut = pd.Timestamp(run.data.params["holdout_starts_after"])
            until = run.data.tags.get("training_data_until")
            # `models:/` resolves through MLflow's process-wide registry: point it at this store first.
            mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
            mlflow.set_registry_uri(settings.mlflow_tracking_uri)
            model = mlflow.sklearn.load_model(f"models:/{registered}/{version}")
        except Exception as exc:  # a champion that cannot be read must not stop the run
            log.warning("%s %s: champion v%s not scored: %s", config.id, result.model_name, version, exc)
            return
    missing = learner.missing_columns(model, data.features)
    if missing:
        log.warning(
            "%s %s: champion v%s reads features this data no longer has (%s): not scored",
            config.id,
            result.model_name,
            version,
            ", ".join(map(str, missing[:3])),
        )
        return
    from threadpoolctl import threadpool_limits

    try:
        with threadpool_limits(limits=1):
            result.operation_weekly, result.scores = operation.track(
                module, data, model, version, cut, config.timezone, pd.Timestamp(until) if until else None
            )
    except Exception as exc:  # scoring is evidence beside the results: it must never cost them
        log.warning("%s %s: champion v%s not scored: %s", config.id, result.model_name, version, exc)
        return
    drifted = [w for w in result.operation_weekly if w["drift"]]
    log.info(
        "%s %s: champion v%s scored after its training cut: %s row(s) with known outcomes, %d week(s), "
        "%d with drift",
        config.id,
        result.model_name,
        version,
        f"{sum(w['rows'] for w in result.operation_weekly):,}",
        len(result.operation_weekly),
        len(drifted),
    )


def train_client_models(settings: Settings, config: ClientConfig, gate: Any) -> list[ModelResult]:
    """Train each of the client's standard models; only after a passed quality gate."""
    if gate is None or not gate.passed:
        raise TrainingBlocked(f"{config.id}: the quality gate did not pass; training is blocked.")
    with _STORE_LOCK:
        ensure_mlflow_store(settings)
    results = []
    for model_name in config.models:
        try:
            data = build_training_set(settings, config, model_name)
            result = _train_one(settings, config, model_name, data, gate)
            _in_operation(settings, config, data, result)
        except NotEnoughData as exc:
            log.warning("%s %s not trained: %s", config.id, model_name, exc)
            continue
        if np.isnan(result.model_metric):
            log.info(
                "%s %s v%s: not scored (nothing in its holdout to score it against): %s",
                config.id,
                model_name,
                result.model_version,
                result.champion_decision,
            )
        else:
            log.info(
                "%s %s v%s: holdout %s %.3f vs baseline %.3f (%s)%s",
                config.id,
                model_name,
                result.model_version,
                result.metric_name,
                result.model_metric,
                result.baseline_metric,
                result.baseline_name,
                " → champion once published" if result.is_champion else "",
            )
        results.append(result)
    return results


__all__ = [
    "CATALOG",
    "ModelResult",
    "NotEnoughData",
    "TrainingBlocked",
    "ensure_mlflow_store",
    "model_card",
    "prepare_client_store",
    "promote_champions",
    "train_client_models",
]
