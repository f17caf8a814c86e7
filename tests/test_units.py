"""Unit conversion to one canonical unit per quantity kind (forgeline.mapping.units, backed by pint)."""

from __future__ import annotations

import pytest

from forgeline.mapping.units import (
    UnitConversion,
    UnitError,
    canonical_unit,
    conversion,
    parse_unit,
    quantity_kind,
    registry,
    unit_in_header,
)


def _convert(unit: str, value: float) -> float:
    c = conversion(unit)
    return value * c.scale + c.offset


@pytest.mark.parametrize(
    ("unit", "value", "expected", "kind", "canonical"),
    [
        # temperature: every Celsius spelling is 1:1; Fahrenheit and kelvin are affine
        ("℃", 25.0, 25.0, "temperature", "°C"),
        ("°C", 25.0, 25.0, "temperature", "°C"),
        ("degC", 25.0, 25.0, "temperature", "°C"),
        ("도", 25.0, 25.0, "temperature", "°C"),
        ("섭씨", 25.0, 25.0, "temperature", "°C"),
        ("°F", 212.0, 100.0, "temperature", "°C"),
        ("°F", 32.0, 0.0, "temperature", "°C"),
        ("degF", -40.0, -40.0, "temperature", "°C"),
        ("℉", 212.0, 100.0, "temperature", "°C"),
        ("화씨", 32.0, 0.0, "temperature", "°C"),
        ("K", 273.15, 0.0, "temperature", "°C"),
        ("K", 373.15, 100.0, "temperature", "°C"),
        # pressure
        ("bar", 10.0, 1.0, "pressure", "MPa"),
        ("psi", 145.0377, 1.0, "pressure", "MPa"),
        ("kgf/cm²", 1.0, 0.0980665, "pressure", "MPa"),
        ("kgf/cm2", 1.0, 0.0980665, "pressure", "MPa"),
        ("kPa", 1000.0, 1.0, "pressure", "MPa"),
        ("㎫", 2.0, 2.0, "pressure", "MPa"),
        # power and energy
        ("W", 1500.0, 1.5, "power", "kW"),
        ("kW", 1.5, 1.5, "power", "kW"),
        ("㎾", 1.5, 1.5, "power", "kW"),
        ("kWh", 3.0, 3.0, "energy", "kWh"),
        ("Wh", 1500.0, 1.5, "energy", "kWh"),
        ("MWh", 1.0, 1000.0, "energy", "kWh"),
        ("㎾h", 3.0, 3.0, "energy", "kWh"),
        ("kvarh", 3.0, 3.0, "energy", "kWh"),
        ("kvar", 2.0, 2.0, "power", "kW"),
        # torque: a joule's dimensionality, written as a force times an arm
        ("Nm", 40.0, 40.0, "torque", "N·m"),
        ("N·m", 40.0, 40.0, "torque", "N·m"),
        ("kN*m", 1.5, 1500.0, "torque", "N·m"),
        ("kgf*m", 1.0, 9.80665, "torque", "N·m"),
        ("J", 3.6e6, 1.0, "energy", "kWh"),
        # rotational speed: 1/time counts cycles, so 1 Hz = 60 rpm
        ("rpm", 1200.0, 1200.0, "rotational_speed", "rpm"),
        ("r/min", 1200.0, 1200.0, "rotational_speed", "rpm"),
        ("회/분", 1200.0, 1200.0, "rotational_speed", "rpm"),
        ("Hz", 1.0, 60.0, "rotational_speed", "rpm"),
        ("㎐", 1.0, 60.0, "rotational_speed", "rpm"),
        ("1/min", 30.0, 30.0, "rotational_speed", "rpm"),
        ("rad/s", 2 * 3.141592653589793, 60.0, "rotational_speed", "rpm"),
        # velocity, length
        ("mm/s", 4.2, 4.2, "velocity", "mm/s"),
        ("m/s", 1.0, 1000.0, "velocity", "mm/s"),
        ("m/min", 6.0, 100.0, "velocity", "mm/s"),
        ("㎜", 3.0, 3.0, "length", "mm"),
        ("μm", 1000.0, 1.0, "length", "mm"),
        ("µm", 1000.0, 1.0, "length", "mm"),
        # time
        ("min", 2.0, 120.0, "time", "s"),
        ("분", 2.0, 120.0, "time", "s"),
        ("h", 1.5, 5400.0, "time", "s"),
        ("시간", 1.0, 3600.0, "time", "s"),
        ("초", 7.0, 7.0, "time", "s"),
        ("ms", 250.0, 0.25, "time", "s"),
        # other kinds of the canonical table
        ("㎏", 2.0, 2.0, "mass", "kg"),
        ("g", 500.0, 0.5, "mass", "kg"),
        ("N", 2000.0, 2.0, "force", "kN"),
        ("mA", 1500.0, 1.5, "electric_current", "A"),
        ("㎃", 1500.0, 1.5, "electric_current", "A"),
        ("MA", 1.0, 1e6, "electric_current", "A"),
        ("kV", 0.4, 400.0, "voltage", "V"),
        ("m/s**2", 1.0, 1000.0, "acceleration", "mm/s²"),
        ("m³", 1.0, 1000.0, "volume", "L"),
        ("m3/h", 60.0, 1000.0, "volumetric_flow", "L/min"),
        ("t/h", 1.0, 1000.0, "mass_flow", "kg/h"),
        # dimensionless
        ("%", 87.5, 87.5, "percentage", "%"),
        ("percent", 87.5, 87.5, "percentage", "%"),
        ("ea", 12.0, 12.0, "dimensionless", ""),
        ("pcs", 12.0, 12.0, "dimensionless", ""),
        ("개", 12.0, 12.0, "dimensionless", ""),
        ("ppm", 1e6, 1.0, "dimensionless", ""),
    ],
)
def test_conversion_to_canonical(unit: str, value: float, expected: float, kind: str, canonical: str) -> None:
    c = conversion(unit, expected_kind=kind)
    assert c.source_unit == unit
    assert c.quantity_kind == kind == quantity_kind(unit)
    assert c.canonical_unit == canonical == canonical_unit(kind)
    assert _convert(unit, value) == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_fahrenheit_and_kelvin_are_affine() -> None:
    f = conversion("°F")
    assert f.scale == pytest.approx(5 / 9)
    assert f.offset == pytest.approx(-160 / 9)
    k = conversion("K")
    assert (k.scale, k.offset) == pytest.approx((1.0, -273.15))
    assert conversion("degC").offset == 0.0


def test_spelling_around_the_unit_is_ignored() -> None:
    assert conversion(" [bar] ").scale == pytest.approx(0.1)
    assert conversion("(℃)").canonical_unit == "°C"
    assert parse_unit("RPM") == parse_unit("rpm")


def test_case_matters_where_pint_says_so() -> None:
    assert conversion("mA").scale == pytest.approx(1e-3)
    assert conversion("MA").scale == pytest.approx(1e6)


def test_unknown_unit_raises_naming_the_text() -> None:
    with pytest.raises(UnitError, match=r"unit 'degF/x' is not a unit Forgeline knows.*pint spells it"):
        conversion("degF/x")
    with pytest.raises(UnitError, match="'tCO2'"):
        parse_unit("tCO2")
    with pytest.raises(UnitError, match="'10 bar'"):
        conversion("10 bar")
    with pytest.raises(UnitError, match="'℃℃'"):  # pint fails with a bare AssertionError here
        conversion("℃℃")


def test_unit_error_is_a_value_error() -> None:
    assert issubclass(UnitError, ValueError)


def test_kind_mismatch_names_both_kinds() -> None:
    with pytest.raises(UnitError, match=r"'bar'.*'pressure'.*'time'"):
        conversion("bar", expected_kind="time")
    with pytest.raises(UnitError, match=r"'kWh'.*'energy'.*'power'"):
        conversion("kWh", expected_kind="power")


@pytest.mark.parametrize("unit", ["N*m/s**3", "lbf*ft", "furlong/fortnight", "W/m**2", "degC/min", "ohm"])
def test_exotic_units_are_accepted_with_a_canonical_unit(unit: str) -> None:
    c = conversion(unit)
    assert c.quantity_kind
    assert c.scale > 0
    assert canonical_unit(c.quantity_kind) == c.canonical_unit


def test_open_kind_converts_to_si_base_units() -> None:
    c = conversion("N*m/s**3")
    assert c.quantity_kind == "[mass] * [length] ** 2 / [time] ** 5"
    assert c.canonical_unit == "kg·m²/s⁵"
    assert (c.scale, c.offset) == (1.0, 0.0)
    assert canonical_unit("[length] ** 3 / [time] ** 2") == "m³/s²"


def test_torque_is_a_force_times_an_arm_not_an_energy() -> None:
    # N·m and J share a dimensionality; the force in the unit's spelling makes it a torque.
    assert conversion("Nm").quantity_kind == "torque"
    assert conversion("lbf*ft").scale == pytest.approx(1.3558179483314)
    assert conversion("kWh").quantity_kind == conversion("J").quantity_kind == "energy"


def test_temperature_rates_and_differences_are_not_affine() -> None:
    assert conversion("degC/min").offset == 0.0
    d = conversion("delta_degF")
    assert (d.quantity_kind, d.canonical_unit) == ("temperature_difference", "Δ°C")
    assert (d.scale, d.offset) == pytest.approx((5 / 9, 0.0))


def test_unknown_kind_raises() -> None:
    with pytest.raises(UnitError, match="'banana'"):
        canonical_unit("banana")


def test_sql_terms_round_to_12_significant_digits() -> None:
    assert conversion("bar").sql_terms() == (0.1, 0.0)
    scale, offset = conversion("°F").sql_terms()
    assert (scale, offset) == (0.555555555556, -17.7777777778)
    assert UnitConversion("x", "y", "z", 1.23456789012345678, -0.0).sql_terms() == (1.23456789012, 0.0)
    assert conversion("psi").sql_terms()[0] == 0.00689475729317


def test_registry_is_cached() -> None:
    assert registry() is registry()


@pytest.mark.parametrize(
    ("header", "unit"),
    [
        ("금형온도(℃)", "°C"),
        ("Pressure [bar]", "bar"),
        ("oil_temp_F", "°F"),
        ("Usage_kWh", "kWh"),
        ("vibration_mm_s", "mm/s"),
        ("motor_current_A", "A"),
        ("hydraulic_pressure_bar", "bar"),
        ("비가동시간(분)", "min"),
        ("계획시간(분)", "min"),
        ("Lagging_Current_Reactive_Power_kVarh", "kvarh"),
        ("Process_temperature_K", "K"),
        ("Rotational_speed_rpm", "rpm"),
        ("Tool_wear_min", "min"),
        ("Temperature (C)", "°C"),
        ("speed_m_min", "m/min"),
        ("CO2(tCO2)", None),
        ("X_ActualPosition", None),
        ("PassOrFail", None),
        ("Cycle_Time", None),
        ("temp_max_min", None),  # minimum, not minutes
        ("created_at", None),  # not technical atmospheres
        ("check_in", None),  # not inches
        ("Line_A", None),  # a label, not amperes
        ("Motor_C", None),  # not coulombs, and not a temperature header
        ("production_week", None),  # a word pint also knows
        ("Water_pH", None),  # not picohenry
        ("Temp(avg)", None),
        ("rpm", None),  # a header that is only a unit names no measure
    ],
)
def test_unit_in_header(header: str, unit: str | None) -> None:
    assert unit_in_header(header) == unit


READABLE_HEADERS = ["금형온도(℃)", "vibration_mm_s", "oil_temp_F", "Heating (°C/min)", "Output (pcs)"]


@pytest.mark.parametrize("header", READABLE_HEADERS)
def test_unit_in_header_is_readable_by_parse_unit(header: str) -> None:
    found = unit_in_header(header)
    assert found is not None
    parse_unit(found)
