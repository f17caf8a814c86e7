"""Generic feature engineering from the common schema: features a standard model adds the same way for
every client, decided by what a tag measures (its quantity kind in ``core.dim_sensor_tags``, from the
mapping's units), never by a client's column names.

- **Mechanical power** from torque and rotational speed: P [kW] = τ [N·m] × n [rpm] × 2π / 60 / 1000, for
  each torque tag with each rotational-speed tag. A spindle or motor under load shows in power when
  neither torque nor speed alone says much (the AI4I 2020 predictive-maintenance data defines its power
  failures on it).
- **Temperature differences** between each pair of temperature tags (process less air, one mould half less
  the other): heat flow and cooling show in a difference, not in either level.

Each combines values of the same row (one cycle, one cycle of a unit), so it can never look ahead. At most
:data:`MAX_COMBINATIONS` powers. Differences only among at most :data:`MAX_TEMPERATURES` temperatures: with
more (a molding machine's barrel zones, a casting die's eight thermocouples) which pairs matter cannot be
told from their kinds, and dozens of arbitrary pairs only add noise to a model that already reads each
level (on KAMP's injection-molding data, pairs taken in tag order lowered the holdout PR-AUC).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations, product

import duckdb
import numpy as np
import pandas as pd

MAX_COMBINATIONS = 8
MAX_TEMPERATURES = 4  # at most 6 differences
TORQUE, SPEED, TEMPERATURE = "torque", "rotational_speed", "temperature"


@dataclass(frozen=True)
class Combination:
    """One derived feature: its column, the two tags it reads, and what it is (for the model card)."""

    name: str
    left: str
    right: str
    meaning: str
    power: bool  # torque x speed in kW; else the difference left - right

    def values(self, frame: pd.DataFrame) -> np.ndarray:
        left = frame[self.left].to_numpy(dtype=float)
        right = frame[self.right].to_numpy(dtype=float)
        if self.power:
            return left * right * 2 * math.pi / 60 / 1000 + 0.0
        return left - right + 0.0


def tag_kinds(con: duckdb.DuckDBPyConnection, tag_type: str) -> dict[str, str]:
    """Each tag of ``tag_type`` ('process_parameter' or 'sensor') with its quantity kind, if the mapping
    gave it a unit; none where the warehouse has no tag dimension (core tables written by hand)."""
    known = con.execute(
        "select 1 from information_schema.tables "
        "where table_schema = 'core' and table_name = 'dim_sensor_tags'"
    ).fetchall()
    if not known:
        return {}
    return dict(
        con.execute(
            "select tag, min(quantity_kind) from core.dim_sensor_tags "
            "where tag_type = ? and quantity_kind is not null group by tag order by tag",
            [tag_type],
        ).fetchall()
    )


def combinations_of(kinds: dict[str, str], columns: list[str]) -> list[Combination]:
    """The combinations the kinds of ``columns`` imply (only tags that are columns, in sorted order)."""
    by_kind: dict[str, list[str]] = {}
    for column in sorted(set(columns)):
        if column in kinds:
            by_kind.setdefault(kinds[column], []).append(column)
    powers = [
        Combination(
            f"power_kw__{torque}__{speed}", torque, speed, f"power from {torque} x {speed} (kW)", power=True
        )
        for torque, speed in product(by_kind.get(TORQUE, []), by_kind.get(SPEED, []))
    ][:MAX_COMBINATIONS]
    temperatures = by_kind.get(TEMPERATURE, [])
    differences = [
        Combination(f"difference__{a}__{b}", a, b, f"{a} less {b} (°C)", power=False)
        for a, b in combinations(temperatures, 2)
        if len(temperatures) <= MAX_TEMPERATURES
    ]
    return powers + differences


def with_combinations(
    features: pd.DataFrame, kinds: dict[str, str], columns: list[str]
) -> tuple[pd.DataFrame, list[Combination]]:
    """``features`` with the combinations of ``columns`` added (a name already taken by a client's own tag
    is skipped: its data wins), and the combinations added."""
    added = [c for c in combinations_of(kinds, columns) if c.name not in features.columns]
    if not added:
        return features, []
    derived = pd.DataFrame({c.name: c.values(features) for c in added}, index=features.index)
    return pd.concat([features, derived], axis=1), added
