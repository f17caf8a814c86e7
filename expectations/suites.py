"""One suite per core table: what must hold before a model may learn from a client's data.

Each ``build_<table>_suite`` lists its expectations; ``build_suite(table, required)`` adds a row-count
expectation when the client's standard models need that table to hold data.
"""

from __future__ import annotations

from collections.abc import Callable

import great_expectations as gx
import great_expectations.expectations as gxe

from forgeline.mapping.compile import QUARANTINE_THRESHOLDS
from forgeline.standard_models import CATALOG

# Tables a standard model needs filled (each model declares them); an empty one fails that client's gate.
REQUIRED_TABLES_BY_MODEL: dict[str, list[str]] = {
    name: list(model.REQUIRED_TABLES) for name, model in CATALOG.items()
}


def _suite(name: str, expectations: list[gxe.Expectation]) -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=name)
    for expectation in expectations:
        suite.add_expectation(expectation)
    return suite


def build_dim_equipment_suite() -> gx.ExpectationSuite:
    return _suite(
        "dim_equipment",
        [
            gxe.ExpectColumnValuesToNotBeNull(column="machine_id"),
            gxe.ExpectColumnValuesToBeUnique(column="machine_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="client_id"),
        ],
    )


def build_dim_products_suite() -> gx.ExpectationSuite:
    return _suite(
        "dim_products",
        [
            gxe.ExpectColumnValuesToBeUnique(column="product_id"),
            gxe.ExpectColumnValuesToBeBetween(column="ideal_cycle_time_s", min_value=0.01, max_value=86_400),
        ],
    )


def build_fct_cycles_suite() -> gx.ExpectationSuite:
    return _suite(
        "fct_cycles",
        [
            gxe.ExpectColumnValuesToNotBeNull(column="cycle_id"),
            gxe.ExpectColumnValuesToBeUnique(column="cycle_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="started_at"),
            gxe.ExpectColumnValuesToNotBeNull(column="machine_id"),
            # A cycle of an hour or more is a stopped machine recorded as a cycle; a few are tolerated.
            gxe.ExpectColumnValuesToBeBetween(
                column="cycle_time_s", min_value=0, max_value=3_600, mostly=0.99
            ),
        ],
    )


def build_fct_cycle_parameters_suite() -> gx.ExpectationSuite:
    return _suite(
        "fct_cycle_parameters",
        [
            gxe.ExpectColumnValuesToNotBeNull(column="cycle_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="parameter_value"),
            gxe.ExpectColumnValuesToNotBeNull(column="unit"),
        ],
    )


def build_fct_quality_results_suite() -> gx.ExpectationSuite:
    return _suite(
        "fct_quality_results",
        [
            gxe.ExpectColumnValuesToBeUnique(column="inspection_id"),
            gxe.ExpectColumnValuesToBeInSet(column="is_pass", value_set=[True, False]),
            gxe.ExpectColumnValuesToNotBeNull(column="is_pass"),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="inspected_count", column_B="defect_count", or_equal=True
            ),
            gxe.ExpectColumnValuesToBeBetween(column="defect_count", min_value=0),
        ],
    )


def build_fct_production_counts_suite() -> gx.ExpectationSuite:
    return _suite(
        "fct_production_counts",
        [
            gxe.ExpectColumnValuesToBeBetween(column="total_count", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="planned_time_s", min_value=0, max_value=86_400),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="total_count", column_B="good_count", or_equal=True
            ),
        ],
    )


def build_fct_sensor_readings_suite() -> gx.ExpectationSuite:
    return _suite(
        "fct_sensor_readings",
        [
            gxe.ExpectColumnValuesToNotBeNull(column="read_at"),
            gxe.ExpectColumnValuesToNotBeNull(column="value"),
            # Units are canonical by construction (the mapping converts them); every reading must have one.
            gxe.ExpectColumnValuesToNotBeNull(column="unit"),
            gxe.ExpectColumnValuesToNotBeNull(column="quantity_kind"),
        ],
    )


def build_fct_downtime_events_suite() -> gx.ExpectationSuite:
    return _suite(
        "fct_downtime_events",
        [
            gxe.ExpectColumnValuesToNotBeNull(column="reason_code"),
            gxe.ExpectColumnValuesToBeBetween(column="duration_s", min_value=0, max_value=86_400),
        ],
    )


def build_fct_maintenance_events_suite() -> gx.ExpectationSuite:
    return _suite(
        "fct_maintenance_events",
        [
            gxe.ExpectColumnValuesToBeUnique(column="maintenance_id"),
            gxe.ExpectColumnValuesToBeInSet(
                column="event_type", value_set=["failure", "corrective", "preventive", "inspection"]
            ),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="repair_ended_at", column_B="repair_started_at", or_equal=True
            ),
        ],
    )


def build_fct_machine_states_suite() -> gx.ExpectationSuite:
    return _suite(
        "fct_machine_states",
        [
            gxe.ExpectColumnValuesToNotBeNull(column="state"),
            # A state lasting more than a week is a gap in the data read as one long state.
            gxe.ExpectColumnValuesToBeBetween(
                column="duration_s", min_value=0, max_value=7 * 86_400, mostly=0.99
            ),
        ],
    )


def build_fct_energy_readings_suite() -> gx.ExpectationSuite:
    return _suite(
        "fct_energy_readings",
        [
            gxe.ExpectColumnValuesToNotBeNull(column="interval_start"),
            gxe.ExpectColumnValuesToBeBetween(column="energy_kwh", min_value=0),
        ],
    )


SUITE_BUILDERS: dict[str, Callable[[], gx.ExpectationSuite]] = {
    "dim_equipment": build_dim_equipment_suite,
    "dim_products": build_dim_products_suite,
    "fct_cycles": build_fct_cycles_suite,
    "fct_cycle_parameters": build_fct_cycle_parameters_suite,
    "fct_quality_results": build_fct_quality_results_suite,
    "fct_production_counts": build_fct_production_counts_suite,
    "fct_sensor_readings": build_fct_sensor_readings_suite,
    "fct_downtime_events": build_fct_downtime_events_suite,
    "fct_maintenance_events": build_fct_maintenance_events_suite,
    "fct_machine_states": build_fct_machine_states_suite,
    "fct_energy_readings": build_fct_energy_readings_suite,
}


QUARANTINE_SUITE = "mapping_quarantine"


def build_quarantine_suite() -> gx.ExpectationSuite:
    """Over ``mapped._quarantine_summary`` pivoted to one row per entity, a ``share_<rule>`` column each."""
    return _suite(
        QUARANTINE_SUITE,
        [
            gxe.ExpectColumnMaxToBeBetween(column=f"share_{rule}", min_value=0, max_value=threshold)
            for rule, threshold in QUARANTINE_THRESHOLDS.items()
        ],
    )


def build_suite(table: str, required: bool) -> gx.ExpectationSuite:
    """The table's suite; a table a model needs must also hold rows."""
    suite = SUITE_BUILDERS[table]()
    if required:
        suite.add_expectation(gxe.ExpectTableRowCountToBeBetween(min_value=1))
    return suite
