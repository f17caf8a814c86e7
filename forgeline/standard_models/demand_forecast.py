"""Standard model: demand (or production) forecast per product and day, a day and a week ahead (planning).

Needs: a daily quantity per product over at least 87 days (four weeks of history, then enough for a
two-week holdout), from the first of these a client delivers: ordered quantities
(``core.fct_work_orders``: ``planned_quantity`` by the local day it is due, else released), units counted
(``core.fct_production_counts``: ``total_count`` by production day) or parts made (``core.fct_cycles``:
``part_count`` by the cycle's local day). "This version" below says which series it forecast.

Rows: one per product, target day and horizon of 1 to 7 days (each day's plan for the week ahead). A day on
which the source holds no record at all (a Sunday the plant is shut, a file not delivered) is not known, not
zero: it is never a target and never counted as a zero; a product without a record on a day the plant
reported is zero. Features come only from the product's days up to the forecast's origin (the target day
less the horizon): the latest day's quantity, the means over the last 7 and 28 days, the share of zero days
among the last 28, the same weekday's quantity in each of the last four weeks (all known at the origin for
a horizon of at most 7 days), the target's weekday and whether it is a public holiday (a calendar is known
ahead), and the horizon. Quantities are divided by the product's mean daily quantity so far (+ 1), so that
one model learns from products of every volume; the forecast is multiplied back. The model stored in MLflow
predicts that scaled quantity: multiply its output by `product_mean` + 1 for units.

Naive baseline: seasonal naive, the same weekday a week before (the latest known one if that day had no
record), as forecasting practice has it. Metrics, on the last 30 % of the time range: MASE (the mean
absolute error scaled by each product's mean absolute change from the same weekday a week before, over
the training days: below 1 beats that naive rule on its own history) and sMAPE, for the week ahead
(every horizon of 1 to 7 days: the headline, and the champion rule's measure) and the day ahead (horizon 1).

Reading it: the forecast is the quantity of each product expected on each of the next seven days. The
week-ahead MASE says how much of the naive rule's typical miss is left; sMAPE says how far off a day is, as
a share. A product whose demand comes in campaigns (a mould set up for two weeks, then changed) is hard to
forecast from its own past: the orders behind it would say more.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from forgeline.clients import ClientConfig
from forgeline.i18n import N_, later
from forgeline.standard_models.base import NotEnoughData, TrainingSet, holiday_calendar
from forgeline.standard_models.families import FORECASTS, HORIZON_DAYS, LEVEL, forecast_scale
from forgeline.standard_models.forecaster import PROFILE

log = logging.getLogger("forgeline.standard_models")

FAMILY = FORECASTS
NAME = "demand_forecast"
TASK = "forecast: quantity per product and day, a day and a week ahead"
ROWS_NAME = N_("holdout product-day forecasts")
REQUIRED_TABLES: list[str] = []  # one of REQUIRED_ANY is enough
REQUIRED_ANY = ["fct_work_orders", "fct_production_counts", "fct_cycles"]
HISTORY_DAYS = 28
# Four weeks of history before the first row, then enough for the holdout (the last 30 % of the targets'
# range, less the unsettled last day) to hold the champion rule's 14 days with Sundays shut: 28 + 59.
MIN_SPAN_DAYS = 87

# Each source's daily quantity per product (the first with MIN_SPAN_DAYS days of it is used).
SOURCES = {
    "orders": (
        "ordered quantity (work orders, by the day due)",
        """select product_id, cast(timezone($timezone, coalesce(due_at, released_at)) as date) as day,
                  sum(planned_quantity) as quantity
           from core.fct_work_orders
           where product_id is not null and planned_quantity is not null
             and coalesce(due_at, released_at) is not null
           group by all""",
    ),
    "counts": (
        "units made (production counts, by production day)",
        """select product_id, production_date as day, sum(total_count) as quantity
           from core.fct_production_counts
           where product_id is not null and total_count is not null group by all""",
    ),
    "cycles": (
        "parts made (cycles, by local day)",
        """select product_id, production_date as day, sum(part_count) as quantity
           from core.fct_cycles
           where product_id is not null and production_date is not null group by all""",
    ),
}

# Windows run over a calendar of every day (days without a record are NULL, and aggregates skip them),
# so row offsets are day offsets. The last day's week ahead has rows too (``future``): the forecasts in
# operation. Cast to double and + 0.0: the same data hashes the same (the training-data fingerprint).
TRAINING_SQL = """
with source as ({source}),
products as (select product_id, min(day) as first_day from source group by product_id),
bounds as (select min(day) as first_day, max(day) as last_day from source),
reported as (select distinct day from source),
calendar as (
    select cast(unnest(generate_series(first_day, last_day + {horizon}, interval 1 day)) as date) as day
    from bounds
),
grid as (
    select products.product_id, calendar.day, calendar.day > bounds.last_day as future,
        case when reported.day is not null then cast(coalesce(source.quantity, 0) as double) end as y
    from products
    cross join calendar
    cross join bounds
    left join reported on reported.day = calendar.day
    left join source on source.product_id = products.product_id and source.day = calendar.day
    where calendar.day >= products.first_day
),
stats as (
    select product_id, day, future, y,
        avg(y) over last7 as mean_7d,
        avg(y) over last28 as mean_28d,
        avg(y) over upto as history_mean,
        avg(case when y = 0 then 1.0 when y is not null then 0.0 end) over last28 as zero_share_28d,
        last_value(y ignore nulls) over upto as latest,
        lag(y, 7) over byday as same_weekday_1w,
        lag(y, 14) over byday as same_weekday_2w,
        lag(y, 21) over byday as same_weekday_3w,
        lag(y, 28) over byday as same_weekday_4w
    from grid
    window byday as (partition by product_id order by day),
        upto as (partition by product_id order by day rows between unbounded preceding and current row),
        last7 as (partition by product_id order by day rows between 6 preceding and current row),
        last28 as (partition by product_id order by day rows between {last28} preceding and current row)
)
select target.product_id, target.day, horizons.horizon, target.future, target.y as _y,
    origin.latest, origin.mean_7d, origin.mean_28d, origin.history_mean, origin.zero_share_28d,
    target.same_weekday_1w, target.same_weekday_2w, target.same_weekday_3w, target.same_weekday_4w,
    isodow(target.day) - 1 as day_of_week
from stats as target
cross join (select cast(unnest(range(1, {horizon} + 1)) as integer) as horizon) as horizons
inner join stats as origin
    on origin.product_id = target.product_id and origin.day = target.day - horizons.horizon
inner join products on products.product_id = target.product_id
cross join bounds
where target.day - {history} >= products.first_day
  -- a product made in the 28 days up to the origin: one stopped for good is not forecast as a run of
  -- easy zeros (its restart after a long pause is an order to plan, not a pattern to learn)
  and origin.mean_28d > 0
  and (
      target.y is not null
      -- the week after the data: from its last day, on weekdays that had a record in the last four weeks
      or (target.future and origin.day = bounds.last_day and coalesce(
          target.same_weekday_1w, target.same_weekday_2w, target.same_weekday_3w, target.same_weekday_4w
      ) is not null)
  )
order by target.day, horizons.horizon, target.product_id
"""

SAME_WEEKDAY = ["same_weekday_1w", "same_weekday_2w", "same_weekday_3w", "same_weekday_4w"]
QUANTITIES = ["latest", "mean_7d", "mean_28d", *SAME_WEEKDAY]  # divided by the product's mean (+ 1)


def _parameters(sql: str, timezone: str) -> dict[str, str]:
    """The time zone, for the sources that turn times into local days (DuckDB refuses unused parameters)."""
    return {"timezone": timezone} if "$timezone" in sql else {}


def _daily_series(con: duckdb.DuckDBPyConnection, timezone: str) -> tuple[str, str, str]:
    """The first source with :data:`MIN_SPAN_DAYS` days of quantities per product: its key, description
    and SQL; else NotEnoughData naming what each source holds."""
    held = []
    for key, (description, sql) in SOURCES.items():
        span = con.execute(
            f"select count(distinct day), min(day), max(day) from ({sql})", _parameters(sql, timezone)
        ).fetchone()
        days, first, last = span if span else (0, None, None)
        if days and first is not None and (last - first).days + 1 >= MIN_SPAN_DAYS:
            return key, description, sql
        span_days = (last - first).days + 1 if days else 0
        held.append(
            f"{description}: {span_days} day(s)"
            + (f" from {first} to {last}, {int(days)} with records" if days else "")
        )
    raise NotEnoughData(
        f"no daily quantity per product spans {MIN_SPAN_DAYS} days ({'; '.join(held)}). A forecast needs "
        f"{HISTORY_DAYS} days of history before its first row and a holdout of two weeks: map a product "
        "to the work orders, production counts or cycles, and deliver a longer history."
    )


def _shut_on_holidays(calendar: Any, reported: set) -> bool:
    """Whether the plant shuts on public holidays: some fell between its first and last reported day, and
    it reported none of them (a day without records is never a target, so the model never learns that)."""
    if calendar is None or not reported:
        return False
    first, last = min(reported), max(reported)
    past = {day for day in calendar if first <= day <= last}
    return bool(past) and not (past & reported)


def build_training_set(con: duckdb.DuckDBPyConnection, config: ClientConfig) -> TrainingSet:
    key, description, source = _daily_series(con, config.timezone)
    sql = (
        TRAINING_SQL.replace("{source}", source)
        .replace("{horizon}", str(HORIZON_DAYS))
        .replace("{history}", str(HISTORY_DAYS))
        .replace("{last28}", str(HISTORY_DAYS - 1))
    )
    frame = con.execute(sql, _parameters(sql, config.timezone)).df()
    if frame.empty or not (~frame["future"]).any():
        raise NotEnoughData(
            f"the {description} leave no product with {HISTORY_DAYS} days of history before a day to forecast"
        )
    country_row = con.execute("select mode(country) from core.dim_sites where country is not null").fetchone()
    country = str(country_row[0]) if country_row and country_row[0] else "KR"
    days = pd.to_datetime(frame["day"]).dt.date
    calendar = holiday_calendar(country, {d.year for d in days})
    if calendar is None:
        log.warning(
            "demand_forecast: country %r is not one the holidays library knows: no public holidays (set the "
            "site's `country` in mapping.yml to an ISO code such as KR)",
            country,
        )
    holiday = (
        days.map(calendar.__contains__).to_numpy(dtype="float64")
        if calendar is not None
        else np.zeros(len(days))
    )
    scale = forecast_scale(frame["history_mean"])
    features = pd.DataFrame(
        {
            "horizon_days": frame["horizon"].to_numpy(dtype="float64"),
            "day_of_week": frame["day_of_week"].to_numpy(dtype="float64"),
            "public_holiday": holiday,
            LEVEL: frame["history_mean"].to_numpy(dtype="float64") + 0.0,
            "zero_share_28d": frame["zero_share_28d"].to_numpy(dtype="float64") + 0.0,
            **{f"{name}_scaled": frame[name].to_numpy(dtype=float) / scale + 0.0 for name in QUANTITIES},
        }
    )
    # The seasonal-index forecast (forecaster.py): the last 7 days' mean times the weekday's index (its
    # mean over the last four weeks against the 28-day mean), all scaled alike; without an index, the mean.
    weekday = features[[f"{name}_scaled" for name in SAME_WEEKDAY]].mean(axis=1).to_numpy()
    month = features["mean_28d_scaled"].to_numpy()
    index = np.divide(weekday, month, out=np.ones(len(month)), where=(month > 0) & np.isfinite(weekday))
    features[PROFILE] = features["mean_7d_scaled"].to_numpy() * index + 0.0
    # Seasonal naive: the same weekday a week before, else the latest known same weekday.
    baseline = frame[SAME_WEEKDAY].bfill(axis=1).iloc[:, 0].to_numpy(dtype=float)
    # A day's outcome is known at its end: the row's time is the local day's last second, in UTC.
    local_end = pd.to_datetime(frame["day"]) + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)
    time = local_end.dt.tz_localize(
        config.timezone, ambiguous=np.zeros(len(local_end), bool), nonexistent="shift_forward"
    )
    time = time.dt.tz_convert("UTC")
    # What a row is (the feature ``horizon_days`` is the horizon as the model reads it).
    context = pd.DataFrame(
        {"product_id": frame["product_id"].astype(str), "horizon": frame["horizon"].astype("int64")}
    )
    future = frame["future"].to_numpy(dtype=bool)
    known = ~future
    # The week ahead leaves out the public holidays of a plant that shuts on them.
    if _shut_on_holidays(calendar, set(days[known])):
        future &= holiday == 0
    pending = (
        pd.concat([features[future], context[future]], axis=1)
        .reset_index(drop=True)
        .assign(time=time[future].to_numpy(), baseline=baseline[future])
    )
    products = int(frame.loc[known, "product_id"].nunique())
    log.info("demand_forecast: %s per product, %d product(s)", description, products)
    return TrainingSet(
        features=features[known].reset_index(drop=True),
        label=pd.Series(frame.loc[known, "_y"].to_numpy(dtype=float)),
        time=pd.Series(time[known].to_numpy()),
        baseline_score=pd.Series(baseline[known]),
        baseline_name=later(N_("the same weekday a week before (seasonal naive)")),
        # The last day may still be partial (a delivery in the middle of it): its outcome is not settled.
        embargo=timedelta(days=1),
        description={
            "rows": f"one per product, target day and horizon of 1 to {HORIZON_DAYS} days",
            "label": description,
            "series": key,
            "products": products,
        },
        unit="units",
        timezone=config.timezone,
        context=context[known].reset_index(drop=True),
        pending=pending,
    )
