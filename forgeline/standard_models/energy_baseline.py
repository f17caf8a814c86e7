"""Standard model: energy baseline, the expected kWh of each site and interval (energy and carbon).

Needs: ``core.fct_energy_readings`` at hourly or finer intervals. One row per site and interval of the
meters' own length (the most common one, at most an hour: 15 minutes for most energy management systems)
that the site's meters cover completely. The model learns the interval's use from drivers that do not come
from the meter itself: the local time of day and weekday, the country's public holidays (the `holidays`
library: lunar and substitute holidays included) and, where the client delivers cycles, the production
(cycles started and machines running on the site in the interval). The meter's own derivatives — reactive
energy, power factor, CO2, and earlier readings — are never inputs: they track the kWh almost one to one,
and a baseline that reads them would absorb the very savings and anomalies it is there to measure (as
IPMVP's whole-facility option C would have it).

Naive baseline: the mean use of the same time of the same weekday over the four weeks before (what a
meter-reading energy manager compares with). Metric: RMSE in kWh per interval on the last 30 % of the time
range, with CV(RMSE) and NMBE as ASHRAE Guideline 14 defines them (for hourly models it asks CV(RMSE) at
most 30 % and NMBE within ±10 % before savings are measured with one; finer intervals score higher).

Reading it: the expected kWh is what the site would have used, its calendar and production being what
they were. An interval that uses more than expected by over three typical misses is an anomaly; its excess is
given in kWh and in kg CO2e at the emission factor in force that day (the energy mart's). Without
production data the baseline knows only the calendar, and a plant whose load follows orders will show a
high CV(RMSE): map the production counts or cycles to tighten it.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from forgeline.clients import ClientConfig
from forgeline.i18n import N_, as_number, later
from forgeline.standard_models.base import NotEnoughData, TrainingSet, has_table, holiday_calendar
from forgeline.standard_models.families import EXPECTED_VALUES

FAMILY = EXPECTED_VALUES
NAME = "energy_baseline"
TASK = "regression: expected kWh per site and meter interval"
ROWS_NAME = N_("holdout site-intervals")
REQUIRED_TABLES = ["fct_energy_readings"]
BASELINE_WEEKS = 4
HOUR_S = 3600
LATE_DAYS = 7  # a meter silent for less than this before its site's last reading is late, not retired
# What the model may read: calendar and production drivers. A test plants a meter-derived column and
# checks that it never becomes a feature.
CALENDAR_FEATURES = ["minute_of_day_local", "day_of_week_local", "public_holiday"]
PRODUCTION_FEATURES = ["cycles_started", "machines_running"]

# Sums rounded to 6 decimals where taken, + 0.0 (-0.0 becomes 0.0): DuckDB adds floats in parallel in no
# fixed order, and the same data must hash the same (the training-data fingerprint).
TRAINING_SQL = f"""
with meters as (
    select meter_id, coalesce(site_id, 'main') as site_id, country, machine_id is not null as is_sub_meter
    from core.dim_energy_meters
),
readings as (
    select coalesce(meters.site_id, 'main') as site_id, readings.meter_id,
           coalesce(meters.is_sub_meter, false) as is_sub_meter,
           readings.interval_start, readings.interval_end, readings.energy_kwh,
           date_diff('second', readings.interval_start, readings.interval_end) as seconds
    from core.fct_energy_readings as readings
    left join meters on readings.meter_id = meters.meter_id
    where readings.energy_kwh is not null and readings.interval_end > readings.interval_start
),
counted as (
    -- A site's use is its main meters' (machine sub-meters would count twice); only sub-meters if it has
    -- no main meter. Meters reading coarser than an hour cannot feed an interval model.
    select *, bool_or(not is_sub_meter) over (partition by site_id) as site_has_main
    from readings
    where seconds <= {HOUR_S}
),
used as (
    select * from counted where not is_sub_meter or not site_has_main
),
meter_spans as (
    -- Each meter's own interval (its most common length; ties: the shorter) and the span it read over.
    select site_id, meter_id, min(interval_start) as first_start, max(interval_end) as last_end,
           mode(seconds order by seconds) as seconds
    from used group by site_id, meter_id
),
active_spans as (
    -- A meter whose readings stop within {LATE_DAYS} days of its site's last is late, not retired: the
    -- intervals after its last reading wait for its delivery (they would read as a saving without it).
    select spans.*,
           case when max(spans.last_end) over (partition by spans.site_id) - spans.last_end
                     <= interval {LATE_DAYS} days
                then max(spans.last_end) over (partition by spans.site_id)
                else spans.last_end end as active_until
    from meter_spans as spans
),
site_grain as (
    -- A site's rows are as long as its coarsest meter's interval: every meter can fill them.
    select site_id, max(seconds) as grain_s from meter_spans group by site_id
),
placed as (
    select used.*, site_grain.grain_s,
           time_bucket(to_seconds(site_grain.grain_s), used.interval_start) as bucket_start
    from used inner join site_grain using (site_id)
),
bucketed as (
    -- Only readings inside one row's interval: a catch-up reading spanning two would count twice.
    select site_id, grain_s, bucket_start as interval_start,
           round(sum(energy_kwh), 6) + 0.0 as energy_kwh, sum(seconds) as covered_s,
           count(distinct meter_id) as meters_seen
    from placed
    where seconds <= grain_s and interval_end <= bucket_start + to_seconds(grain_s)
    group by all
),
complete as (
    -- Only intervals every meter reading at the time covers whole (a meter counts from its first reading
    -- to its last, or to the site's last if it is late): a partial interval is not a lower use, and a
    -- meter installed or retired later drops nothing.
    select bucketed.*, timezone($timezone, bucketed.interval_start) as local_start
    from bucketed
    inner join (
        select bucketed.site_id, bucketed.interval_start, count(spans.meter_id) as active
        from bucketed
        left join active_spans as spans
            on spans.site_id = bucketed.site_id
            and spans.first_start <= bucketed.interval_start
            and spans.active_until >= bucketed.interval_start + to_seconds(bucketed.grain_s)
        group by all
    ) as expected using (site_id, interval_start)
    where bucketed.meters_seen = expected.active and bucketed.covered_s = bucketed.grain_s * expected.active
)
select
    site_id, interval_start, local_start, energy_kwh, grain_s as interval_s,
    hour(local_start) * 60 + minute(local_start) as minute_of_day_local,
    isodow(local_start) - 1 as day_of_week_local,
    cast(local_start as date) as local_date,
    -- Past only: the same site, weekday and time of day over the {BASELINE_WEEKS} weeks before (by the
    -- calendar, not by rows: after a gap it does not reach further back), never this interval itself.
    avg(energy_kwh) over (
        partition by site_id, isodow(local_start), hour(local_start) * 60 + minute(local_start)
        order by local_start
        range between interval {BASELINE_WEEKS * 7} days preceding and interval 1 day preceding
    ) as baseline_kwh
from complete
order by interval_start, site_id
"""

PRODUCTION_SQL = """
select coalesce(equipment.site_id, 'main') as site_id,
       time_bucket(to_seconds(grains.interval_s), cycles.started_at) as interval_start,
       count(*) as cycles_started, count(distinct cycles.machine_id) as machines_running
from core.fct_cycles as cycles
left join core.dim_equipment as equipment on cycles.machine_id = equipment.machine_id
inner join grains on coalesce(equipment.site_id, 'main') = grains.site_id
where cycles.started_at is not null
group by all
"""


def _has_rows(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return has_table(con, schema, table) and bool(
        con.execute(f"select 1 from {schema}.{table} limit 1").fetchall()
    )


def _holiday_flags(dates: pd.Series, site_countries: pd.Series) -> tuple[np.ndarray, list[str]]:
    """1 where the local date is a public holiday in the site's country; the countries not known to the
    `holidays` library (their days count as ordinary days, and the description says so)."""
    flags = np.zeros(len(dates), dtype="int32")
    unknown = []
    years = {d.year for d in dates}
    for country in sorted(set(site_countries.dropna())):
        calendar = holiday_calendar(country, years)
        if calendar is None:
            unknown.append(country)
            continue
        mask = (site_countries == country).to_numpy()
        flags[mask] = dates[mask].map(calendar.__contains__).to_numpy(dtype="int32")
    return flags, unknown


def build_training_set(con: duckdb.DuckDBPyConnection, config: ClientConfig) -> TrainingSet:
    if not _has_rows(con, "core", "fct_energy_readings"):
        raise NotEnoughData("no energy readings (core.fct_energy_readings is empty)")
    frame = con.execute(TRAINING_SQL, {"timezone": config.timezone}).df()
    if frame.empty:
        raise NotEnoughData(
            "no site and interval is fully covered by readings of an hour or less: the energy baseline needs "
            "hourly or finer intervals (daily or monthly meter readings cannot support it)"
        )
    countries = dict(
        con.execute(
            "select coalesce(site_id, 'main'), min(country) from core.dim_energy_meters group by 1"
        ).fetchall()
    )
    grains = frame.groupby("site_id")["interval_s"].first()
    features = frame[["minute_of_day_local", "day_of_week_local"]].astype("int32")
    dates = pd.Series(pd.to_datetime(frame["local_date"]).dt.date)
    flags, unknown = _holiday_flags(dates, frame["site_id"].map(countries))
    features["public_holiday"] = flags
    if _has_rows(con, "core", "fct_cycles"):
        con.register("grains", frame[["site_id", "interval_s"]].drop_duplicates())
        production = con.execute(PRODUCTION_SQL).df()
        con.unregister("grains")
        keys = ["site_id", "interval_start"]
        production["interval_start"] = pd.to_datetime(production["interval_start"], utc=True)
        frame["interval_start"] = pd.to_datetime(frame["interval_start"], utc=True)
        joined = frame[keys].merge(production, on=keys, how="left")
        for column in PRODUCTION_FEATURES:
            features[column] = joined[column].fillna(0).astype("int64").to_numpy()
    if frame["site_id"].nunique() > 1:
        features["site"] = frame["site_id"].astype("category")

    factors = _emission_factors(con, frame)
    context = pd.DataFrame({"site_id": frame["site_id"].to_numpy(), "kg_co2e_per_unit": factors})
    description = {
        "rows": "one per site and interval (its coarsest meter's, at most an hour) fully covered: "
        + ", ".join(f"{site} {int(grain) // 60} min" for site, grain in grains.items()),
        "label": "kWh used in the interval",
        "drivers": ", ".join(features.columns),
        "never_inputs": "reactive energy, power factor, CO2, earlier readings (they track the kWh)",
    }
    if unknown:
        description["holidays_unknown"] = (
            f"no public-holiday calendar for {', '.join(unknown)}: holidays count as ordinary days there"
        )
    return TrainingSet(
        features=features.reset_index(drop=True),
        label=frame["energy_kwh"].astype("float64"),
        time=pd.to_datetime(frame["interval_start"], utc=True),
        baseline_score=frame["baseline_kwh"].astype("float64"),
        baseline_name=later(
            N_("mean of the same weekday and time over the {n} weeks before"), n=as_number(BASELINE_WEEKS)
        ),
        description=description,
        unit="kWh",
        timezone=config.timezone,
        context=context,
    )


def _emission_factors(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> np.ndarray:
    """The kg CO2e per kWh in force on each row's site and local day, as the energy mart applied it (one
    owner for that rule: marts/energy_daily.sql); NaN where the mart has none."""
    if not _has_rows(con, "marts", "energy_daily"):
        return np.full(len(frame), np.nan)
    factors = con.execute(
        "select site_id, reading_date, emission_factor_kg_per_kwh from marts.energy_daily"
    ).df()
    factors["reading_date"] = pd.to_datetime(factors["reading_date"]).dt.date
    keys = pd.DataFrame(
        {"site_id": frame["site_id"].to_numpy(), "reading_date": pd.to_datetime(frame["local_date"]).dt.date}
    )
    joined = keys.merge(factors, on=["site_id", "reading_date"], how="left")
    return joined["emission_factor_kg_per_kwh"].to_numpy(dtype=float)
