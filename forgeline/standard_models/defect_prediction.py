"""Standard model: defect prediction from process parameters (quality).

Needs: ``core.fct_cycles``, ``core.fct_cycle_parameters`` and unit results in ``core.fct_quality_results``
(one inspection per cycle). One row per cycle: its process parameters (wide), plus the cycle's context on
its machine — seconds since the previous cycle and cycles since the last restart (start-up rejects are a
large share of defects in molding and casting), local hour of day and product.

Naive baseline: the machine's defect rate over its previous 50 cycles (what a shift leader watching the
reject bin would go by). Metric: PR-AUC on the last 30 % of the time range.

Reading it: the score is the chance that a cycle's part is a defect. Inspecting the riskiest 5 % of
cycles would catch the share of defects MLflow records as recall at 5 % alerts. The top features are the
parameters that move the prediction most: start the root-cause analysis, and the search for a safe
operating window, with them.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from forgeline.clients import ClientConfig
from forgeline.standard_models.base import NotEnoughData, TrainingSet

NAME = "defect_prediction"
TASK = "classification: P(defect) per cycle"
REQUIRED_TABLES = ["fct_cycles", "fct_cycle_parameters", "fct_quality_results"]
RESTART_GAP_S = 600  # a pause of 10 minutes or more restarts the process (cold mold, purge)
BASELINE_WINDOW = 50


def build_training_set(con: duckdb.DuckDBPyConnection, config: ClientConfig) -> TrainingSet:
    cycles = con.execute(
        """
        select c.cycle_id, c.machine_id, c.product_id, c.started_at, q.is_pass
        from core.fct_cycles as c
        inner join core.fct_quality_results as q on q.cycle_id = c.cycle_id
        where c.started_at is not null and q.is_pass is not null
        order by c.machine_id, c.started_at, c.cycle_id
        """
    ).df()
    if cycles.empty:
        raise NotEnoughData("no cycles with a unit inspection result (fct_cycles ⋈ fct_quality_results)")
    # One value per cycle and parameter, chosen order-independently (first() would take whichever row a
    # parallel scan meets first); + 0.0 turns -0.0 into 0.0, so the same data always hashes the same.
    parameters = con.execute(
        """
        pivot (
            select cycle_id, parameter_name, min(parameter_value) + 0.0 as parameter_value
            from core.fct_cycle_parameters
            group by cycle_id, parameter_name
        )
        on parameter_name using any_value(parameter_value) group by cycle_id
        order by cycle_id
        """
    ).df()
    frame = cycles.merge(parameters, on="cycle_id", how="left")
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True)
    frame = frame.sort_values(["machine_id", "started_at", "cycle_id"], kind="stable").reset_index(drop=True)

    by_machine = frame.groupby("machine_id", sort=False)
    gap_s = by_machine["started_at"].diff().dt.total_seconds()
    restart = gap_s.isna() | (gap_s >= RESTART_GAP_S)
    frame["seconds_since_previous_cycle"] = gap_s
    frame["cycles_since_restart"] = restart.astype(int).groupby(frame["machine_id"]).cumsum()
    frame["cycles_since_restart"] = frame.groupby(["machine_id", "cycles_since_restart"]).cumcount()
    frame["hour_of_day_local"] = frame["started_at"].dt.tz_convert(config.timezone).dt.hour
    frame["product"] = frame["product_id"].astype("category")

    defect = (~frame["is_pass"].astype(bool)).astype(int)
    # Past only: shift(1) so a cycle's own result never feeds its baseline score.
    recent_rate = (
        defect.groupby(frame["machine_id"])
        .transform(lambda s: s.shift(1).rolling(BASELINE_WINDOW, min_periods=1).mean())
        .fillna(0.0)
    )
    parameter_columns = sorted(c for c in parameters.columns if c != "cycle_id")
    features = frame[
        [
            *parameter_columns,
            "seconds_since_previous_cycle",
            "cycles_since_restart",
            "hour_of_day_local",
            "product",
        ]
    ]
    order = frame["started_at"].argsort(kind="stable").to_numpy()
    return TrainingSet(
        features=features.iloc[order].reset_index(drop=True),
        label=defect.iloc[order].reset_index(drop=True),
        time=frame["started_at"].iloc[order].reset_index(drop=True),
        baseline_score=recent_rate.iloc[order].reset_index(drop=True),
        baseline_name=f"defect rate of the previous {BASELINE_WINDOW} cycles",
        description={
            "rows": "one per inspected cycle",
            "label": "1 = the cycle's unit failed inspection",
            "parameters": len(parameter_columns),
        },
    )
