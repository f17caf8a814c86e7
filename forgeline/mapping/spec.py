"""The mapping file: one declarative YAML per client that says how its exports become the common schema.

``<home>/clients/<id>/mapping.yml`` holds who the client is, its master data (inline, or fed by a
delivered file like any other entity), and for each kind of delivered file how to read it and which
common entities it feeds, field by field: column, unit, time format and zone, value maps, derived
expressions, wide columns → tags, dedup keys. ``docs/mapping.md`` is the reference; the JSON Schema in
``docs/mapping.schema.json`` (``forgeline mapping-schema``) gives editors completion.

These models validate structure and meaning (known entities and fields, units of the right kind, codes
in the common taxonomies, safe expressions); ``forgeline/clients.py`` turns their errors into messages
with the file, line and key.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from forgeline.mapping.entities import ENTITIES, taxonomy
from forgeline.settings import check_client_id

Scalar = str | int | float | bool | None
# A plausible range of a measure, [min, max] in the canonical unit of its kind (°C, MPa, s…); either end
# may be null. A row whose value falls outside is quarantined (rule `range`), not loaded.
ValueRange = tuple[float | None, float | None]


def _valid_weekdays(text: str) -> bool:
    import re

    from forgeline.mapping.entities import weekdays_pattern

    return re.fullmatch(weekdays_pattern(), text.lower().replace(" ", "")) is not None


def _check_range(value: ValueRange | None) -> ValueRange | None:
    if value is not None and None not in value and value[0] > value[1]:  # type: ignore[operator]
        raise ValueError(f"range {list(value)}: the minimum is above the maximum")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def parse_duration(text: str | int | float) -> timedelta:
    """'100 ms', '6 s', '15 min', '1 h', '1 day' (any time unit pint knows) → timedelta."""
    from forgeline.mapping.units import registry

    if isinstance(text, int | float):
        return timedelta(seconds=float(text))
    try:
        quantity = registry().Quantity(str(text).strip())
        seconds = float(quantity.to("second").magnitude)
    except Exception as exc:  # pint raises several types for text that is not a duration
        raise ValueError(
            f"{text!r} is not a duration; write a number and a time unit, e.g. '100 ms', '6 s', '15 min'"
        ) from exc
    if seconds <= 0:
        raise ValueError(f"{text!r}: a duration must be positive")
    return timedelta(seconds=seconds)


class Login(_Strict):
    username: str
    display_name: str


class OrderTime(_Strict):
    """For data without timestamps: time = start + position × cadence."""

    order: str = Field(
        description="'row' (the row's position in its file) or a column holding a running number"
    )

    @field_validator("order", mode="before")
    @classmethod
    def _not_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(YAML_BOOL_HINT)
        return value

    cadence: str = Field(description="time between two consecutive positions, e.g. '100 ms', '6 s'")
    start: str = Field(description="local time of position 0 (or of the file's first row), ISO format")

    @field_validator("cadence")
    @classmethod
    def _cadence(cls, value: str) -> str:
        parse_duration(value)
        return value


class FieldSpec(_Strict):
    """Where one core field's value comes from, and how to read it."""

    column: str | None = Field(default=None, description="the source column")
    expr: str | None = Field(
        default=None,
        description='a restricted expression over source columns, e.g. "생산수량 - 불량수량" or '
        "\"date || ' ' || time\" (arithmetic, comparisons, CASE, a few functions; nothing else)",
    )
    value: Scalar = Field(default=None, description="a constant for every row")
    from_order: OrderTime | None = Field(default=None, description="time from row order and cadence")
    unit: str | None = Field(default=None, description="unit of the values as delivered, e.g. °F, bar, 분")
    format: str | None = Field(
        default=None,
        description="for times and dates: strptime format, e.g. '%d/%m/%Y %H:%M' (default: ISO 8601)",
    )
    timezone: str | None = Field(
        default=None, description="zone of local times (default: the client's); ignored for ISO offsets"
    )
    map: dict[str, Scalar] | None = Field(
        default=None, description="value map, e.g. {양품: true, 불량: false} or {설비고장: BREAKDOWN}"
    )
    default: Scalar = Field(
        default=None, description="value when the cell is empty, or (with map) when its value is not mapped"
    )
    null_values: list[str] = Field(
        default_factory=list, description="values meaning 'missing', e.g. ['-1', 'None']"
    )
    range: ValueRange | None = Field(
        default=None,
        description="plausible [min, max] of a number, in the canonical unit (°C, MPa, s…); rows outside "
        "are quarantined",
    )

    @field_validator("range")
    @classmethod
    def _ordered_range(cls, value: ValueRange | None) -> ValueRange | None:
        return _check_range(value)

    @model_validator(mode="after")
    def _one_origin(self) -> FieldSpec:
        origins = [n for n in ("column", "expr", "from_order") if getattr(self, n) is not None]
        if self.value is not None:
            origins.append("value")
        if len(origins) > 1:
            raise ValueError(f"give one of column, expr, value or from_order, not {origins}")
        if not origins and self.default is None:
            raise ValueError("say where the value comes from: column, expr, value or from_order")
        return self

    @field_validator("expr")
    @classmethod
    def _safe_expr(cls, value: str | None) -> str | None:
        if value is not None:
            from forgeline.mapping.expressions import parse_expression

            parse_expression(value)
        return value


YAML_BOOL_HINT = (
    'YAML read this as true/false: put a column named No, Yes, On, Off, Y or N in quotes, e.g. "No"'
)


def _as_field(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(YAML_BOOL_HINT)
    return {"column": value} if isinstance(value, str) else value


def tag_name(column: str) -> str:
    """A column's default tag name: snake_case, units stripped of brackets."""
    name = re.sub(r"[^\w]+", "_", column.strip(), flags=re.UNICODE).strip("_")
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return name.lower() or "value"


class TagSpec(_Strict):
    """One wide column turned into rows of a tag (sensor or process parameter)."""

    tag: str | None = Field(default=None, description="tag name (default: the column name, snake_case)")
    unit: str | None = Field(default=None, description="unit as delivered (default: none, dimensionless)")
    semantics: str | None = Field(default=None, description="what it measures, in words")
    map: dict[str, float] | None = Field(
        default=None, description="text values → numbers, e.g. {worn: 1, unworn: 0}"
    )
    null_values: list[str] = Field(default_factory=list)
    range: ValueRange | None = Field(
        default=None,
        description="plausible [min, max] in the tag's canonical unit (°C, MPa…); readings outside are "
        "quarantined",
    )

    @field_validator("range")
    @classmethod
    def _ordered_range(cls, value: ValueRange | None) -> ValueRange | None:
        return _check_range(value)

    def name_for(self, column: str) -> str:
        """The tag's name: the one given, else the column's (``tag_name``)."""
        return self.tag or tag_name(column)


class FeedSpec(_Strict):
    """How one source feeds one common entity."""

    fields: dict[str, Annotated[FieldSpec, Field()]] = Field(
        default_factory=dict,
        description="core field → where its value comes from (a column name, or details)",
    )
    tags: dict[str, TagSpec] = Field(
        default_factory=dict,
        description="wide columns → tags (cycles: process parameters; sensor_readings: sensors); "
        "a column → a unit string, or details",
    )
    where: str | None = Field(default=None, description="keep only rows where this expression holds")
    dedup: list[str] | None = Field(
        default=None,
        description="fields whose repeat means the same row delivered again (the later load wins)",
    )
    sample_period: str | None = Field(
        default=None, description="machine_states from samples: a state lasts at most this long"
    )

    @field_validator("fields", mode="before")
    @classmethod
    def _short_fields(cls, value: Any) -> Any:
        return {k: _as_field(v) for k, v in value.items()} if isinstance(value, dict) else value

    @field_validator("tags", mode="before")
    @classmethod
    def _short_tags(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {str(column): {} for column in value}
        if isinstance(value, dict):
            return {k: ({"unit": v} if isinstance(v, str) else (v or {})) for k, v in value.items()}
        return value

    @field_validator("where")
    @classmethod
    def _safe_where(cls, value: str | None) -> str | None:
        if value is not None:
            from forgeline.mapping.expressions import parse_expression

            parse_expression(value)
        return value

    @field_validator("sample_period")
    @classmethod
    def _period(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class SourceSpec(_Strict):
    """One kind of delivered file: how to read it, and what it feeds."""

    name: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,40}$", description="short name; its raw table is raw.<name>"
    )
    files: str = Field(description="glob relative to the landing folder, e.g. 'shots_*.csv' or '**/*.csv'")
    format: Literal["csv", "tsv", "excel", "parquet", "jsonl"] = "csv"
    encoding: str = Field(
        default="auto", description="auto (UTF-8 with or without BOM, else CP949), or a codec"
    )
    delimiter: str | None = Field(default=None, description="default ',' for csv, tab for tsv")
    header_row: int = Field(default=1, ge=0, description="1-based row of the column names; 0 = no header")
    columns: list[str] | None = Field(default=None, description="column names of a file without header")
    sheet: str | None = Field(default=None, description="Excel sheet (default: the first)")
    skip_rows: int = Field(default=0, ge=0, description="rows after the header to skip (e.g. a units row)")
    decimal: Literal[".", ","] = Field(default=".", description="',' for decimal commas (1.234,5)")
    required_columns: list[str] = Field(default_factory=list, description="columns a delivery must have")
    expected_every: str | None = Field(
        default=None,
        description="how often a delivery is expected, e.g. '1 day': a later one is reported late",
    )
    feeds: dict[str, FeedSpec] = Field(description="common entity → how this source feeds it")

    @model_validator(mode="after")
    def _check(self) -> SourceSpec:
        if self.header_row == 0 and not self.columns:
            raise ValueError("header_row: 0 (no header) needs `columns:`, the names of the columns in order")
        if self.columns and self.header_row:
            raise ValueError("`columns:` names the columns of a file without header: set header_row: 0")
        if self.expected_every:
            parse_duration(self.expected_every)
        if self.decimal == "," and self.format not in ("csv", "tsv"):
            raise ValueError(f"decimal: ',' is for text files; {self.format} files store numbers as numbers")
        if not self.feeds:
            raise ValueError("feeds: name at least one entity this source feeds")
        for name, feed in self.feeds.items():
            _check_feed(name, feed)
        return self

    def takes(self, relative: str) -> bool:
        """Whether this source reads a delivered file (its path relative to the landing folder)."""
        from pathlib import PurePosixPath

        try:
            return PurePosixPath(relative).match(self.files)
        except ValueError:  # an empty or malformed pattern takes nothing
            return False

    @property
    def field_delimiter(self) -> str:
        return self.delimiter or ("\t" if self.format == "tsv" else ",")


def _is_number(value: Scalar) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def _check_feed(entity_name: str, feed: FeedSpec) -> None:
    from forgeline.mapping.units import UnitError, conversion

    entity = ENTITIES.get(entity_name)
    if entity is None:
        raise ValueError(f"feeds.{entity_name}: no such entity; use one of {sorted(ENTITIES)}")
    for name, spec in feed.fields.items():
        target = entity.get(name)
        where = f"feeds.{entity_name}.fields.{name}"
        if target is None:
            raise ValueError(
                f"{where}: {entity_name} has no field {name!r}; its fields are {entity.field_names}"
            )
        if spec.unit is not None:
            if target.kind is None:
                raise ValueError(f"{where}: a {target.type} field takes no unit")
            try:
                conversion(spec.unit, expected_kind=target.kind)
            except UnitError as exc:
                raise ValueError(f"{where}: {exc}") from exc
        if spec.from_order is not None and target.type != "timestamp":
            raise ValueError(f"{where}: from_order makes times; {name} is a {target.type}")
        if target.type == "code" and spec.map:
            allowed = taxonomy(target.taxonomy or "")
            wrong = sorted(
                {str(v) for v in [*spec.map.values(), spec.default] if v is not None} - set(allowed.codes)
            )
            if wrong:
                raise ValueError(
                    f"{where}: {wrong} not in the common {target.taxonomy} codes {sorted(allowed.codes)}"
                )
    missing = [f.name for f in entity.fields if f.required and f.name not in feed.fields]
    if missing:
        raise ValueError(f"feeds.{entity_name}: map the required field(s) {missing}")
    if feed.tags and not entity.takes_tags:
        raise ValueError(f"feeds.{entity_name}.tags: only cycles and sensor_readings take wide tag columns")
    for column, tag in feed.tags.items():
        if tag.unit:
            try:
                conversion(tag.unit)
            except UnitError as exc:
                raise ValueError(f"feeds.{entity_name}.tags.{column}: {exc}") from exc
    columns_of_tag: dict[str, list[str]] = {}
    for column, tag in feed.tags.items():
        columns_of_tag.setdefault(tag.name_for(column), []).append(column)
    for name, columns in columns_of_tag.items():
        if len(columns) > 1:
            # One row gives one reading per tag: two would be "the same reading" with different values.
            raise ValueError(
                f"feeds.{entity_name}.tags: columns {columns} are all named tag {name!r}; give each its own "
                "`tag:` name"
            )
    for key in feed.dedup or []:
        if key not in entity.field_names:
            raise ValueError(f"feeds.{entity_name}.dedup: {key!r} is not a field of {entity_name}")
    if feed.sample_period and entity_name != "machine_states":
        raise ValueError(f"feeds.{entity_name}.sample_period: only machine_states take a sample period")


class ClientConfig(_Strict):
    """A client's whole mapping file."""

    id: str = Field(description="the client's id: lower-case letters, digits, hyphens")
    name: str = Field(description="the client's name as people know it (Korean welcome)")
    industry: str = ""
    region: str = ""
    process: str = Field(default="", description="the main production process, e.g. die casting")
    timezone: str = Field(default="Asia/Seoul", description="IANA zone of the factory's local times")
    country: str = Field(default="KR", description="ISO country of the grid emission factor")
    models: list[str] = Field(default_factory=list, description="standard models to train")
    logins: list[Login] = Field(default_factory=list)
    masters: dict[str, list[dict[str, Scalar]]] = Field(
        default_factory=dict, description="master data inline: sites, equipment, products, shifts, ..."
    )
    sources: list[SourceSpec] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return check_client_id(value)

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Asia/Seoul") from exc
        return value

    @field_validator("masters", mode="before")
    @classmethod
    def _dates_as_text(cls, value: Any) -> Any:
        """YAML reads an unquoted 2026-10-01 as a date: keep it as the text it was."""
        import datetime as dt

        if not isinstance(value, dict):
            return value
        return {
            name: [
                {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in record.items()}
                if isinstance(record, dict)
                else record
                for record in records
            ]
            if isinstance(records, list)
            else records
            for name, records in value.items()
        }

    @field_validator("masters")
    @classmethod
    def _valid_masters(cls, value: dict[str, list[dict[str, Scalar]]]) -> dict[str, list[dict[str, Scalar]]]:
        for name, records in value.items():
            entity = ENTITIES.get(name)
            if entity is None or not entity.is_master:
                masters = sorted(e.name for e in ENTITIES.values() if e.is_master)
                raise ValueError(f"masters.{name}: not master data; inline masters are {masters}")
            for i, record in enumerate(records):
                unknown = sorted(set(record) - set(entity.field_names))
                if unknown:
                    raise ValueError(
                        f"masters.{name}[{i}]: unknown field(s) {unknown}; fields: {entity.field_names}"
                    )
                for f in entity.fields:
                    # YAML 1.1 reads 22:00 as the number 1320 and 2026-10-01 as a date: times must be quoted.
                    value_of = record.get(f.name)
                    if f.type == "time_of_day" and f.name in record and not isinstance(value_of, str):
                        raise ValueError(
                            f'masters.{name}[{i}].{f.name}: write times in quotes, e.g. "22:00" '
                            f"(YAML read {value_of!r})"
                        )
                    if f.type in ("int", "float") and value_of is not None and not _is_number(value_of):
                        raise ValueError(f"masters.{name}[{i}].{f.name}: {value_of!r} is not a number")
                weekdays = record.get("weekdays") if name == "shifts" else None
                if weekdays is not None and not _valid_weekdays(str(weekdays)):
                    raise ValueError(
                        f"masters.shifts[{i}].weekdays: {weekdays!r} is not a list of days; write e.g. "
                        "'mon-fri', 'mon,wed,fri', '월-금' or 'all'"
                    )
                missing = [f.name for f in entity.fields if f.required and record.get(f.name) in (None, "")]
                if missing:
                    raise ValueError(f"masters.{name}[{i}]: missing {missing}")
        return value

    @model_validator(mode="after")
    def _unique_sources(self) -> ClientConfig:
        names = [s.name for s in self.sources]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"sources: name(s) {twice} used twice; each source needs its own name")
        return self

    def raw_table(self, source: SourceSpec) -> str:
        return source.name

    def source(self, name: str) -> SourceSpec:
        return next(s for s in self.sources if s.name == name)

    @property
    def fed_entities(self) -> set[str]:
        return {e for s in self.sources for e in s.feeds} | set(self.masters)
