"""The JSON Schema of ``mapping.yml``, and the generated parts of its reference page ``docs/mapping.md``.

The schema starts from the pydantic models (``ClientConfig.model_json_schema()``) and is enriched from the
entity registry (``entities.py``) so that an editor completes well: under ``feeds`` the keys are the
entities, under ``feeds.<entity>.fields`` exactly that entity's fields (with description, type and quantity
kind), value maps of code fields offer the common codes, and ``masters`` offers the master entities and
their fields. Nothing here repeats a field list by hand: change ``spec.py`` or ``entities.py`` and
regenerate (``python -m forgeline.mapping.schema``), which rewrites ``docs/mapping.schema.json`` and the
generated sections of ``docs/mapping.md`` (between ``<!-- name:start -->`` and ``<!-- name:end -->``).

The schema helps while typing; ``forgeline check`` (the pydantic models) stays the judge. Both accept the
same good files; the models also check what a schema cannot say (units of the right kind, safe
expressions, one origin per field).
"""

from __future__ import annotations

import copy
import csv
import json
import re
from pathlib import Path
from typing import Any

from forgeline.mapping.entities import ENTITIES, Entity, Field, taxonomy
from forgeline.mapping.expressions import ALLOWED_HELP
from forgeline.mapping.spec import ClientConfig
from forgeline.settings import CLIENT_ID_PATTERN, DBT_PROJECT_DIR, REPO_ROOT

__all__ = [
    "DOC_PATH",
    "SCHEMA_ID",
    "SCHEMA_PATH",
    "entity_reference_markdown",
    "generated_sections",
    "mapping_json_schema",
    "replace_section",
    "schema_text",
    "section",
    "taxonomies_markdown",
    "units_markdown",
    "update_doc",
    "write_schema",
]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:forgeline:mapping.schema.json"
SCHEMA_PATH = REPO_ROOT / "docs" / "mapping.schema.json"
DOC_PATH = REPO_ROOT / "docs" / "mapping.md"

_JSON_TYPES = {  # inline master values: the YAML type that reads as the field's type
    "text": ["string", "number"],
    "int": ["integer"],
    "float": ["number"],
    "bool": ["boolean"],
    "timestamp": ["string"],
    "date": ["string"],
    "time_of_day": ["string"],
    "code": ["string"],
}
_TYPE_HINTS = {
    "timestamp": "ISO 8601 by default ('2024-03-01 08:00:00', a trailing Z or +09:00 is honoured); "
    "else give `format:`",
    "date": "ISO date '2024-03-01' by default; else give `format:`",
    "time_of_day": 'HH:MM in quotes, e.g. "06:00"',
    "bool": "1/true/t/y/yes and 0/false/f/n/no are read; other texts need `map:`",
}


# -- schema ---------------------------------------------------------------------------------------------


def _canonical_unit(kind: str) -> str:
    from forgeline.mapping.units import canonical_unit

    return canonical_unit(kind)


def _field_summary(field: Field) -> str:
    """One line an editor shows on hover: what the field is, its type, unit kind, codes, required."""
    parts = [field.description.rstrip(".") + "."]
    if field.kind:
        stored = _canonical_unit(field.kind) or "plain numbers"
        parts.append(f"Type {field.type}; quantity kind {field.kind}, stored in {stored}.")
    else:
        parts.append(f"Type {field.type}.")
    if field.kind:
        parts.append("Name the delivered unit with `unit:` (e.g. 분, min, h, ms).")
    if field.taxonomy:
        parts.append(f"Codes of {field.taxonomy}: {', '.join(taxonomy(field.taxonomy).codes)}; use `map:`.")
    if field.type in _TYPE_HINTS:
        parts.append(_TYPE_HINTS[field.type] + ".")
    if field.required:
        parts.append("Required.")
    return " ".join(parts)


def _field_origin_def(field: Field) -> str:
    """The name of the $defs entry describing the long form of this field."""
    if field.taxonomy:
        return f"FieldSpec_{field.taxonomy}"
    if field.kind:
        return f"FieldSpec_{field.kind}"
    return "FieldSpec"


def _code_field_def(name: str) -> dict[str, Any]:
    codes: list[Any] = [*taxonomy(name).codes, None]
    example = f"{{their text: {codes[0]}}}"
    return {
        "description": f"Where a {name} code comes from; `map:` turns the client's texts into these codes.",
        "allOf": [
            {"$ref": "#/$defs/FieldSpec"},
            {
                "properties": {
                    "map": {
                        "description": f"the client's texts → common {name} codes, e.g. {example}",
                        "additionalProperties": {"enum": codes},
                    },
                    "default": {"description": "code for empty or unmapped values", "enum": codes},
                }
            },
        ],
    }


def _kind_field_def(kind: str) -> dict[str, Any]:
    canonical = _canonical_unit(kind)
    return {
        "description": f"Where a {kind} value comes from, and its unit as delivered.",
        "allOf": [
            {"$ref": "#/$defs/FieldSpec"},
            {
                "properties": {
                    "unit": {
                        "description": f"unit of {kind} as delivered (pint spelling or a Korean alias); "
                        f"values are converted to {canonical or 'plain numbers'}",
                        "examples": [canonical] if canonical else [],
                    }
                }
            },
        ],
    }


def _field_entry(field: Field) -> dict[str, Any]:
    return {
        "description": _field_summary(field),
        "anyOf": [
            {"type": "string", "description": f"short form: the source column that holds {field.name}"},
            {"$ref": f"#/$defs/{_field_origin_def(field)}"},
        ],
    }


def _entity_summary(entity: Entity) -> str:
    required = [f.name for f in entity.fields if f.required]
    text = f"{entity.description} One row per {entity.grain}."
    if required:
        text += f" Required fields: {', '.join(required)}."
    if entity.takes_tags:
        text += " Takes wide columns as `tags`."
    return text


def _feed_def(entity: Entity, feed_base: dict[str, Any], tags_schema: dict[str, Any]) -> dict[str, Any]:
    feed = copy.deepcopy(feed_base)
    feed["title"] = f"feeds.{entity.name}"
    feed["description"] = _entity_summary(entity)
    properties = feed["properties"]
    fields: dict[str, Any] = {
        "type": "object",
        "description": f"{entity.name} field → where its value comes from (a column name, or details)",
        "properties": {f.name: _field_entry(f) for f in entity.fields},
        "propertyNames": {"enum": entity.field_names},
        "additionalProperties": False,
    }
    required = [f.name for f in entity.fields if f.required]
    if required:
        fields["required"] = required
    properties["fields"] = fields
    if entity.takes_tags:
        properties["tags"] = {"description": properties["tags"].get("description", ""), **tags_schema}
    else:
        properties.pop("tags")
    properties["dedup"] = {
        **properties["dedup"],
        "description": f"{properties['dedup'].get('description', '')}; default {list(entity.key)}",
        "anyOf": [{"type": "array", "items": {"enum": entity.field_names}}, {"type": "null"}],
    }
    if entity.name != "machine_states":
        properties.pop("sample_period")
    return feed


def _master_def(entity: Entity) -> dict[str, Any]:
    properties = {}
    for f in entity.fields:
        types = _JSON_TYPES[f.type] + ([] if f.required else ["null"])
        entry: dict[str, Any] = {"description": _field_summary(f), "type": types}
        if f.taxonomy:
            entry["enum"] = [*taxonomy(f.taxonomy).codes, *([] if f.required else [None])]
        properties[f.name] = entry
    return {
        "title": f"masters.{entity.name}",
        "description": _entity_summary(entity),
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "required": [f.name for f in entity.fields if f.required],
    }


def mapping_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of mapping.yml: the pydantic models, enriched from the entities."""
    base = ClientConfig.model_json_schema()
    defs: dict[str, Any] = base.pop("$defs")
    feed_base = defs.pop("FeedSpec")

    defs["FieldSpec"]["description"] += (
        " Give exactly one of column, expr, value or from_order (or only a default)."
    )
    tag_spec_ref = {"$ref": "#/$defs/TagSpec"}
    tags_schema = {
        "anyOf": [
            {"type": "array", "items": {"type": "string"}, "description": "column names; each becomes a tag"},
            {
                "type": "object",
                "additionalProperties": {
                    "anyOf": [
                        {"type": "string", "description": "short form: the column's unit, e.g. ℃, bar, mm/s"},
                        {"type": "null", "description": "a tag without unit"},
                        tag_spec_ref,
                    ]
                },
            },
        ]
    }
    for name in sorted({f.taxonomy for e in ENTITIES.values() for f in e.fields if f.taxonomy}):
        defs[f"FieldSpec_{name}"] = _code_field_def(name)
    for kind in sorted({f.kind for e in ENTITIES.values() for f in e.fields if f.kind}):
        defs[f"FieldSpec_{kind}"] = _kind_field_def(kind)
    for entity in ENTITIES.values():
        defs[f"Feed_{entity.name}"] = _feed_def(entity, feed_base, tags_schema)
    masters = [e for e in ENTITIES.values() if e.is_master]
    for entity in masters:
        defs[f"Master_{entity.name}"] = _master_def(entity)

    source = defs["SourceSpec"]
    source["properties"]["feeds"] = {
        "description": source["properties"]["feeds"].get("description", ""),
        "type": "object",
        "propertyNames": {"enum": list(ENTITIES)},
        "properties": {name: {"$ref": f"#/$defs/Feed_{name}"} for name in ENTITIES},
        "additionalProperties": False,
        "minProperties": 1,
    }

    properties = base["properties"]
    properties["id"]["pattern"] = CLIENT_ID_PATTERN.pattern
    properties["id"]["description"] += "; equal to the client's folder name"
    properties["masters"] = {
        "description": properties["masters"].get("description", ""),
        "type": "object",
        "propertyNames": {"enum": [e.name for e in masters]},
        "properties": {
            e.name: {
                "description": _entity_summary(e),
                "type": "array",
                "items": {"$ref": f"#/$defs/Master_{e.name}"},
            }
            for e in masters
        },
        "additionalProperties": False,
    }

    return {
        "$schema": DRAFT,
        "$id": SCHEMA_ID,
        "$comment": "Generated by forgeline/mapping/schema.py from spec.py and entities.py; do not edit.",
        "title": "Forgeline mapping.yml",
        "description": "One client's mapping: who it is, its master data, and how each kind of delivered "
        "file feeds the common schema. Reference: docs/mapping.md. " + base.get("description", ""),
        **{k: v for k, v in base.items() if k not in ("title", "description")},
        "$defs": defs,
    }


def schema_text() -> str:
    """The schema as it is written to disk: pretty-printed, non-ASCII kept, one trailing newline."""
    return json.dumps(mapping_json_schema(), indent=2, ensure_ascii=False) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    """Write the schema to ``path`` (e.g. docs/mapping.schema.json) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(schema_text(), encoding="utf-8")
    return path


# -- generated sections of docs/mapping.md ----------------------------------------------------------------


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _type_text(field: Field) -> str:
    if field.taxonomy:
        return f"code ([{field.taxonomy}](#{field.taxonomy}-codes))"
    return field.type


def _unit_text(field: Field) -> str:
    if not field.kind:
        return ""
    return f"{field.kind} → {_canonical_unit(field.kind) or 'number'}"


def entity_reference_markdown() -> str:
    """The field reference of every entity a mapping can feed, generated from ``ENTITIES``."""
    blocks = []
    for heading, is_master in (("Master data", True), ("Facts", False)):
        blocks.append(f"### {heading}")
        for entity in (e for e in ENTITIES.values() if e.is_master == is_master):
            notes = [f"One row per {entity.grain}.", f"Default dedup key: `{', '.join(entity.key)}`."]
            if entity.is_master:
                notes.append("Inline under `masters:`, or fed by a source.")
            if entity.takes_tags:
                notes.append("Takes wide columns as `tags`.")
            rows = [
                [f"`{f.name}`", _type_text(f), _unit_text(f), "yes" if f.required else "", f.description]
                for f in entity.fields
            ]
            table = _table(["field", "type", "kind → stored in", "required", "description"], rows)
            blocks.append(f"#### {entity.name}\n\n{entity.description} {' '.join(notes)}\n\n{table}")
    return "\n\n".join(blocks)


def _taxonomy_users(name: str) -> list[str]:
    return [f"{e.name}.{f.name}" for e in ENTITIES.values() for f in e.fields if f.taxonomy == name]


def taxonomies_markdown() -> str:
    """The common code lists (from the dbt seeds, or the fixed vocabularies of ``entities.py``)."""
    names: list[str] = []
    for entity in ENTITIES.values():
        names += [f.taxonomy for f in entity.fields if f.taxonomy and f.taxonomy not in names]
    blocks = []
    for name in names:
        users = ", ".join(f"`{u}`" for u in _taxonomy_users(name))
        seed = DBT_PROJECT_DIR / "seeds" / f"{name}.csv"
        if seed.exists():
            with seed.open(encoding="utf-8") as handle:
                reader = csv.reader(handle)
                header = next(reader)
                rows: list[list[object]] = [[f"`{row[0]}`", *row[1:]] for row in reader if row]
            origin = f"From the dbt seed `dbt_project/seeds/{name}.csv`."
        else:
            header = ["code", "meaning"]
            rows = [[f"`{code}`", meaning] for code, meaning in taxonomy(name).codes.items()]
            origin = "A fixed vocabulary of the common schema."
        blocks.append(f"### {name} codes\n\nUsed by {users}. {origin}\n\n{_table(header, rows)}")
    return "\n\n".join(blocks)


def units_markdown() -> str:
    """The canonical unit of each quantity kind, and the spellings Forgeline adds to pint's."""
    from forgeline.mapping import units

    # units.py keeps both tables private; they are read here so the reference page never drifts from them.
    canonical: dict[str, tuple[str, str]] = units._CANONICAL
    aliases: dict[str, str] = units._ALIASES
    kinds = _table(
        ["quantity kind", "stored in", "pint spelling"],
        [
            [kind, display or "(plain number)", f"`{spelling}`"]
            for kind, (spelling, display) in canonical.items()
        ],
    )
    spellings = _table(
        ["you may write", "read as"], [[f"`{alias}`", f"`{target}`"] for alias, target in aliases.items()]
    )
    return f"{kinds}\n\nSpellings Forgeline adds to pint's own:\n\n{spellings}"


def quarantine_markdown() -> str:
    """The mapping rules, what breaks them and the share of rows each may quarantine before the gate
    blocks training (owned by compile.py)."""
    from forgeline.mapping.compile import QUARANTINE_THRESHOLDS, RULES
    from forgeline.mapping.units import PHYSICAL_MINIMUM, canonical_unit

    rules = _table(
        ["rule", "a row is quarantined when", "the gate blocks training above"],
        [[f"`{rule}`", meaning, f"{QUARANTINE_THRESHOLDS[rule]:.0%}"] for rule, meaning in RULES.items()],
    )
    minimums = ", ".join(f"{kind} {low:g} {canonical_unit(kind)}" for kind, low in PHYSICAL_MINIMUM.items())
    defaults = ", ".join(
        f"`{entity.name}.{f.name}`"
        for entity in ENTITIES.values()
        for f in entity.fields
        if f.minimum is not None
    )
    return (
        f"{rules}\n\nPhysical minimums (rule `unit`): {minimums}.\n\n"
        f"Never negative unless `range` says otherwise (rule `range`): {defaults}."
    )


def generated_sections() -> dict[str, str]:
    """Marker name → generated markdown, for every generated section of docs/mapping.md."""
    return {
        "quarantine": quarantine_markdown(),
        "entity-reference": entity_reference_markdown(),
        "taxonomies": taxonomies_markdown(),
        "units": units_markdown(),
        "allowed-expressions": ALLOWED_HELP,
    }


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def section(text: str, name: str) -> str:
    """The text between a section's markers (stripped); ValueError if the markers are missing."""
    start, end = _markers(name)
    match = re.search(re.escape(start) + r"(.*?)" + re.escape(end), text, flags=re.DOTALL)
    if match is None:
        raise ValueError(f"markers {start} … {end} not found")
    return match.group(1).strip()


def replace_section(text: str, name: str, content: str) -> str:
    """``text`` with the section between a marker pair replaced by ``content``."""
    section(text, name)  # raises if the markers are missing
    start, end = _markers(name)
    pattern = re.escape(start) + r".*?" + re.escape(end)
    return re.sub(pattern, lambda _m: f"{start}\n\n{content}\n\n{end}", text, count=1, flags=re.DOTALL)


def update_doc(path: Path = DOC_PATH) -> Path:
    """Rewrite the generated sections of the reference page in place."""
    text = path.read_text(encoding="utf-8")
    for name, content in generated_sections().items():
        text = replace_section(text, name, content)
    path.write_text(text, encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_schema())
    print(update_doc())
