"""Units: every measurement becomes ONE canonical unit per quantity kind, computed by pint.

Factories export values in whatever unit their system uses (°F, bar, psi, W, ℃, 도, 분 ...). The data
engineer writes that unit in the YAML mapping; this module turns it into an affine conversion
(value * scale + offset) to the canonical unit of its kind. There is no list of allowed units: anything pint
can read is accepted, and a dimensionality without a canonical entry falls back to SI base units. Only
spellings pint cannot read are ours.

Choices worth knowing:
- 1/time is rotational speed in rpm. A unit with no angle in it (Hz, 1/min, count/min) counts cycles, so
  1 Hz = 60 rpm; a unit with an angle (rpm, rad/s, deg/s) keeps pint's angle arithmetic (1 rad/s ≈ 9.55 rpm).
- Torque is a kind of its own, in N·m: it has a joule's dimensionality, so a unit written with a force (N·m,
  kgf·m, lbf·ft) is a torque and one without (J, Wh, kWh) an energy. Power from torque and speed is then
  a feature models can compute (standard_models/features.py).
- Reactive power (var, kvar, kvarh) is defined here because pint lacks it; it is dimensionally power (energy).
- '%' stays a percentage (scale 1); other dimensionless units (count, ppm, ...) become plain numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pint

__all__ = [
    "UnitConversion",
    "UnitError",
    "canonical_unit",
    "conversion",
    "parse_unit",
    "quantity_kind",
    "registry",
    "unit_in_header",
]

# Spellings pint cannot read (or reads as something else), mapped to pint's spelling. Spellings only: this is
# never a list of allowed units. Keys are matched against the whole text first, then against each name in it.
_ALIASES: dict[str, str] = {
    # Korean words and symbol characters pint does not know
    "℃": "degC",
    "도": "degC",
    "섭씨": "degC",
    "℉": "degF",
    "화씨": "degF",
    "초": "s",
    "분": "min",
    "시간": "h",
    "개": "count",
    "회": "count",
    "회/분": "rpm",
    "㎜": "mm",
    "㎏": "kg",
    "㎾": "kW",
    "㎾h": "kWh",
    "㎫": "MPa",
    "㎐": "Hz",
    "㎃": "mA",
    # pint reads µm and μm, but the spelling is mapped explicitly so both micro characters stay equivalent
    "μm": "um",
    "µm": "um",
    # export spellings pint misreads or does not know
    "ea": "count",
    "pcs": "count",  # pint would read "pcs" as parsecs
    "Nm": "N*m",  # pint would read "Nm" as number_meter (a yarn count)
    "r/min": "rpm",
    "RPM": "rpm",
    "KW": "kW",
    "kw": "kW",
    "KWH": "kWh",
    "KWh": "kWh",
    "kwh": "kWh",
    "kgf/cm2": "kgf/cm**2",
}

# Units pint lacks. Reactive power is volt-ampere dimensionally, i.e. power; its energy is var * hour.
_DEFINITIONS: tuple[str, ...] = (
    "volt_ampere_reactive = volt * ampere = var = VAr = VAR = Var",
    "volt_ampere_reactive_hour = volt_ampere_reactive * hour = varh = VArh = VARh = Varh",
)

# Canonical unit per quantity kind: kind -> (pint spelling, display symbol). Each kind's dimensionality comes
# from pint; kinds in _SHARED_DIMENSIONALITY share theirs with another kind and are picked by rule.
_CANONICAL: dict[str, tuple[str, str]] = {
    "temperature": ("degC", "°C"),
    "temperature_difference": ("delta_degC", "Δ°C"),
    "pressure": ("MPa", "MPa"),
    "length": ("mm", "mm"),
    "area": ("m**2", "m²"),
    "volume": ("L", "L"),
    "time": ("s", "s"),
    "velocity": ("mm/s", "mm/s"),
    "acceleration": ("mm/s**2", "mm/s²"),
    "mass": ("kg", "kg"),
    "force": ("kN", "kN"),
    "energy": ("kWh", "kWh"),
    "power": ("kW", "kW"),
    "torque": ("N*m", "N·m"),
    "electric_current": ("A", "A"),
    "voltage": ("V", "V"),
    "rotational_speed": ("rpm", "rpm"),
    "volumetric_flow": ("L/min", "L/min"),
    "mass_flow": ("kg/h", "kg/h"),
    "angle": ("degree", "°"),
    "percentage": ("percent", "%"),
    "dimensionless": ("dimensionless", ""),
}
# The lowest value a quantity can physically take, in its canonical unit: a value below it means the unit
# (or the column) is wrong, e.g. Fahrenheit read as Celsius, a negative duration.
PHYSICAL_MINIMUM: dict[str, float] = {
    "temperature": -273.15,
    "time": 0.0,
    "mass": 0.0,
    "area": 0.0,
    "volume": 0.0,
}
_SHARED_DIMENSIONALITY = frozenset(
    {"temperature_difference", "angle", "percentage", "dimensionless", "torque"}
)

_OPERATORS = re.compile(r"(\*\*|[*/·×^()\s])")
_NAME_WITH_POWER = re.compile(r"^([^\W\d_]+)([23])$")  # cm2, m3: pint would not read the trailing power
_BRACKETS = {"(": ")", "[": "]", "{": "}", "（": "）", "［": "］"}
_EXAMPLES = "'degC', 'bar', 'mm/s', 'kWh'"


class UnitError(ValueError):
    """A unit text in a mapping that Forgeline cannot use; the message names the text and what to write."""


@dataclass(frozen=True)
class UnitConversion:
    """How to bring values written in source_unit to the canonical unit of their kind (affine, for SQL)."""

    source_unit: str
    canonical_unit: str
    quantity_kind: str
    scale: float
    offset: float

    def sql_terms(self) -> tuple[float, float]:
        """(scale, offset) rounded to 12 significant digits, so generated SQL is stable and free of noise."""
        return _round12(self.scale), _round12(self.offset)


def _round12(value: float) -> float:
    return float(f"{value:.12g}") + 0.0  # + 0.0 turns -0.0 into 0.0


@lru_cache(maxsize=1)
def registry() -> pint.UnitRegistry:
    """The one pint registry Forgeline converts with; cached because building it costs about 0.3 s."""
    ureg = pint.UnitRegistry()
    for definition in _DEFINITIONS:
        ureg.define(definition)
    return ureg


def _strip_brackets(text: str) -> str:
    text = text.strip()
    while len(text) >= 2 and _BRACKETS.get(text[0]) == text[-1]:
        text = text[1:-1].strip()
    return text


def _pint_spelling(text: str) -> str:
    """Rewrite our aliases and 'cm2'-style powers into text pint parses (pint itself reads '²', '³', '⁻¹')."""
    text = _strip_brackets(text)
    if text in _ALIASES:
        return _ALIASES[text]
    pieces = []
    for piece in _OPERATORS.split(text):
        if piece in _ALIASES:
            piece = _ALIASES[piece]
        elif match := _NAME_WITH_POWER.match(piece):
            piece = f"{match[1]}**{match[2]}"
        pieces.append(piece)
    return "".join(pieces)


def _check_text(text: object) -> None:
    if not isinstance(text, str):
        raise UnitError(f"unit {text!r} is not text. Write it as pint spells it, e.g. {_EXAMPLES}.")


def parse_unit(text: str) -> pint.Unit:
    """The pint unit a mapping's unit text means, after our spelling aliases; UnitError if unreadable."""
    _check_text(text)
    try:
        return registry().parse_units(_pint_spelling(text))
    except Exception as exc:  # pint raises many types here (even AssertionError for unknown characters)
        reason = str(exc) or type(exc).__name__
        raise UnitError(
            f"unit {text!r} is not a unit Forgeline knows (pint: {reason}). "
            f"Write it as pint spells it, e.g. {_EXAMPLES}."
        ) from exc


@lru_cache(maxsize=1)
def _kinds_by_dimensionality() -> dict[pint.util.UnitsContainer, str]:
    ureg = registry()
    return {
        ureg.parse_units(spelling).dimensionality: kind
        for kind, (spelling, _display) in _CANONICAL.items()
        if kind not in _SHARED_DIMENSIONALITY
    }


def _has_angle(unit: pint.Unit) -> bool:
    _factor, root = registry().get_root_units(unit)
    return "radian" in root._units


def _has_force(unit: pint.Unit) -> bool:
    """Whether the unit is written with a force (N·m, kgf·m, lbf·ft): a torque, not an energy (J, kWh)."""
    force = registry().newton.dimensionality
    return any(registry().Unit(name).dimensionality == force for name in unit._units)


def _classify(unit: pint.Unit) -> tuple[str, pint.Unit, str]:
    """(kind, pint target unit, display symbol) of a unit; never fails, so the list of units stays open."""
    ureg = registry()
    dimensionality = unit.dimensionality
    if not dimensionality:
        if unit == ureg.Unit("percent"):
            kind = "percentage"
        elif _has_angle(unit):
            kind = "angle"
        else:
            kind = "dimensionless"
    elif dimensionality == ureg.kelvin.dimensionality and any(n.startswith("delta_") for n in unit._units):
        kind = "temperature_difference"
    elif dimensionality == ureg.joule.dimensionality and _has_force(unit):
        kind = "torque"  # N·m is a joule's dimensionality, but a force times an arm is a torque
    else:
        found = _kinds_by_dimensionality().get(dimensionality)
        if found is None:
            _factor, base = ureg.get_base_units(unit)
            return str(dimensionality), base, f"{base:~P}"
        kind = found
    spelling, display = _CANONICAL[kind]
    if kind == "rotational_speed" and not _has_angle(unit):
        spelling = "1/min"  # Hz, 1/min, count/min count cycles: one cycle is one revolution
    return kind, ureg.parse_units(spelling), display


@lru_cache(maxsize=1024)
def _conversion(text: str) -> UnitConversion:
    unit = parse_unit(text)
    kind, target, display = _classify(unit)
    quantity = registry().Quantity
    at_zero = float(quantity(0.0, unit).to(target).magnitude)
    at_one = float(quantity(1.0, unit).to(target).magnitude)
    scale = at_one if at_zero == 0.0 else at_one - at_zero
    return UnitConversion(text, display, kind, scale, at_zero + 0.0)


def conversion(text: str, expected_kind: str | None = None) -> UnitConversion:
    """The affine conversion of text to its kind's canonical unit; UnitError if unreadable or another kind."""
    _check_text(text)
    result = _conversion(text)
    if expected_kind is not None and result.quantity_kind != expected_kind:
        example = _canonical_example(expected_kind)
        raise UnitError(
            f"unit {text!r} is of kind {result.quantity_kind!r}, but this field holds kind "
            f"{expected_kind!r}. Write a unit of {expected_kind}{example}, or map the column to a field "
            f"of kind {result.quantity_kind!r}."
        )
    return result


def _canonical_example(kind: str) -> str:
    try:
        symbol = canonical_unit(kind)
    except UnitError:
        return ""
    return f", e.g. {symbol!r}" if symbol else ""


def quantity_kind(text: str) -> str:
    """The quantity kind of a unit text, e.g. 'pressure' for 'psi', so fields can check what they receive."""
    return conversion(text).quantity_kind


def canonical_unit(kind: str) -> str:
    """The display symbol of a kind's canonical unit; open kinds (a dimensionality) give SI base units."""
    if kind in _CANONICAL:
        return _CANONICAL[kind][1]
    ureg = registry()
    try:
        if not kind.strip().startswith(("[", "1")):
            raise ValueError("not a dimensionality")
        dimensionality = ureg.get_dimensionality(kind)
        unit = ureg.dimensionless
        for dimension, power in dimensionality.items():
            some_unit = next(iter(ureg.get_compatible_units(dimension)))
            unit *= ureg.get_base_units(some_unit)[1] ** power
    except Exception as exc:  # pint raises many types for text that is not a dimensionality
        known = ", ".join(sorted(_CANONICAL))
        raise UnitError(
            f"quantity kind {kind!r} is not one Forgeline knows. Use one of {known}, "
            "or a pint dimensionality such as '[length] ** 3 / [time] ** 2'."
        ) from exc
    return f"{unit:~P}"


# Header tokens that pint reads as units but column names mostly use as words or labels ('created_at' is not
# technical atmospheres, 'temp_min' is not minutes). Like single letters, they count as units only when the
# header also names the quantity kind (a _KIND_HINTS word).
_AMBIGUOUS_TOKENS = frozenset(
    {"min", "at", "in", "am", "pm", "pt", "pc", "ac", "us", "as", "ha", "ly", "mi", "gr", "dr", "ct", "deg"}
)
_KIND_HINTS: dict[str, tuple[str, ...]] = {
    "temperature": ("temp", "온도"),
    "time": ("time", "duration", "wear", "시간"),
    "electric_current": ("current", "amp", "전류"),
    "voltage": ("volt", "전압"),
    "power": ("power", "전력"),
    "energy": ("energy", "에너지", "전력량"),
    "length": ("length", "position", "pos", "dist", "길이", "위치"),
    "mass": ("weight", "mass", "중량", "무게"),
    "force": ("force", "load", "하중"),
    "torque": ("torque", "토크"),
    "volume": ("volume", "부피"),
    "angle": ("angle", "각도"),
}
# Letters that are temperature scales in a temperature header, though pint reads F as farad and C as coulomb.
_TEMPERATURE_LETTERS = {"F": "degF", "C": "degC"}
_HEADER_SEPARATORS = re.compile(r"[\s_\-.]+")
_LAST_BRACKETED = re.compile(r"[(\[{（［]([^()\[\]{}（）［］]*)[)\]}）］][^()\[\]{}（）［］]*$")


def _header_spelling(unit: pint.Unit) -> str:
    """pint's compact spelling of a unit, which parse_unit reads back; full names if the symbol does not."""
    for spec in ("~C", "C"):
        text = format(unit, spec)
        try:
            if parse_unit(text) == unit:
                return text
        except UnitError:
            continue
    return str(unit)


def _hinted(kind: str, context: str) -> bool:
    return any(hint in context for hint in _KIND_HINTS.get(kind, ()))


def _header_unit(token: str, context: str, *, table_kinds_only: bool) -> pint.Unit | None:
    """The unit a header token names, or None; ambiguous tokens need a hint of their kind in the header."""
    ambiguous = len(token) == 1 or token in _AMBIGUOUS_TOKENS
    if token in _TEMPERATURE_LETTERS and _hinted("temperature", context):
        return registry().parse_units(_TEMPERATURE_LETTERS[token])
    try:
        unit = parse_unit(token)
    except UnitError:
        return None
    if not unit._units:  # a number or nothing, not a unit
        return None
    kind, _target, _display = _classify(unit)
    if table_kinds_only and (kind not in _CANONICAL or kind in _SHARED_DIMENSIONALITY):
        return None
    if ambiguous and not _hinted(kind, context):
        return None
    return unit


def _written_as_symbol(token: str, unit: pint.Unit) -> bool:
    """True if the token is pint's symbol of the unit (kWh, bar, mm), not a word pint knows (week, hand)."""
    spelled = _pint_spelling(token)
    symbol = format(unit, "~C")
    if spelled.lower() != symbol.lower():
        return False
    names = list(unit._units)
    return not (len(names) == 1 and names[0] == symbol and len(symbol) > 3)


def unit_in_header(header: str) -> str | None:
    """The unit a column header states, as pint spells it, or None; conservative, as a wrong guess misleads.

    A bracketed part ('금형온도(℃)', 'Pressure [bar]') is read with parse_unit. Without brackets only the
    last one or two '_'-separated tokens count ('Usage_kWh', 'vibration_mm_s'), written as pint symbols of
    a kind with a canonical unit. Single letters and word-like symbols ('min', 'at', 'in') also need the
    header to name their kind ('motor_current_A', 'oil_temp_F'); F and C are temperature scales only then.
    The result is pint's compact spelling ('°C', 'min', 'mm/s', 'kvarh'), which parse_unit reads back.
    """
    lowered = header.lower()
    bracketed = _LAST_BRACKETED.search(header)
    if bracketed:
        content = bracketed[1].strip()
        context = lowered[: bracketed.start()] + lowered[bracketed.end() :]
        unit = _header_unit(content, context, table_kinds_only=False)
        return None if unit is None else _header_spelling(unit)
    tokens = [token for token in _HEADER_SEPARATORS.split(header.strip()) if token]
    if len(tokens) >= 3 and tokens[-2] not in _AMBIGUOUS_TOKENS:
        numerator, denominator = tokens[-2], tokens[-1]
        parts = [_safe_parse(numerator), _safe_parse(denominator)]
        pairs = zip((numerator, denominator), parts, strict=True)
        if all(part is not None and _written_as_symbol(token, part) for token, part in pairs):
            unit = _header_unit(f"{numerator}/{denominator}", "", table_kinds_only=True)
            if unit is not None:
                return _header_spelling(unit)
    if len(tokens) < 2:
        return None
    last = tokens[-1]
    context = " ".join(tokens[:-1]).lower()
    unit = _header_unit(last, context, table_kinds_only=True)
    if unit is None:
        return None
    if last not in _TEMPERATURE_LETTERS and not _written_as_symbol(last, unit):
        return None
    return _header_spelling(unit)


def _safe_parse(token: str) -> pint.Unit | None:
    try:
        return parse_unit(token)
    except UnitError:
        return None
