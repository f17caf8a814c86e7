"""The Onboarding page's logic: sample uploads, the draft mapping, widget edits of its YAML, the preview.

The page (``app_pages/engagement/onboarding.py``) is only layout; everything here is testable without a
browser. The mapping's YAML text is the source of truth: the page's widgets read a column's targets,
unit, time format and value maps from the parsed YAML and write their changes back into it, so anything
the widgets cannot express can still be written in the text.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePath
from typing import Any

import pandas as pd
import streamlit as st
import yaml

from forgeline import i18n
from forgeline.auth import User, visible_clients
from forgeline.clients import (
    FIX_THE_MAPPING,
    ClientConfigError,
    load_client_config,
    parse_client_config,
    save_mapping_text,
)
from forgeline.i18n import N_, _
from forgeline.mapping.check import CheckReport, check_client
from forgeline.mapping.entities import ENTITIES, Field, taxonomy
from forgeline.mapping.expressions import columns_of
from forgeline.mapping.inspect import (
    LOW_CONFIDENCE,
    ColumnProfile,
    FileProfile,
    Proposal,
    column_dictionary,
    propose_mapping,
    sniff,
)
from forgeline.mapping.spec import ClientConfig, SourceSpec
from forgeline.mapping.units import UnitError, conversion
from forgeline.settings import CLIENT_ID_PATTERN, Settings

ACCEPTED_TYPES = ["csv", "tsv", "txt", "xlsx", "parquet", "jsonl"]
TAG = "#tag"  # target suffix of a wide column turned into a tag: "cycles.#tag"
TIME_TYPES = ("timestamp", "date")
UNMAPPED = N_("unmapped")  # the inspect table's word for a column nothing maps (its rows are greyed)

Upload = tuple[str, bytes]  # (file name, content)


# -- the program's configured clients ---------------------------------------------------------------------
@dataclass(frozen=True)
class ConfiguredClient:
    id: str
    name: str
    problem: str = ""  # its mapping does not validate (it can be fixed here)


def configured_clients(settings: Settings, user: User) -> list[ConfiguredClient]:
    """Every client with a mapping, published or not yet; one with a broken mapping is listed too.

    Onboarding works on mappings, so it lists them itself: ``apps.data`` knows published clients only.
    """
    if not settings.clients_dir.exists():
        return []
    paths = {p.parent.name: p for p in settings.clients_dir.glob("*/mapping.yml")}
    found = []
    for client_id in visible_clients(user, [c for c in paths if CLIENT_ID_PATTERN.match(c)]):
        try:
            found.append(ConfiguredClient(client_id, load_client_config(paths[client_id]).name))
        except ClientConfigError as exc:
            found.append(ConfiguredClient(client_id, client_id, str(exc)))
    return found


# -- uploads ----------------------------------------------------------------------------------------------
def safe_name(name: str) -> str:
    """An uploaded file's name without any folder part (a browser may send one)."""
    base = PurePath(name.replace("\\", "/")).name.strip()
    if not base or base.startswith("."):
        raise ValueError(_("{name!r} is not a usable file name").format(name=name))
    return base


def uploads_digest(uploads: tuple[Upload, ...]) -> str:
    digest = hashlib.sha256()
    for name, content in sorted(uploads):
        digest.update(name.encode("utf-8") + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()[:16]


def digest(value: Any) -> str:
    """A short stable digest of plain data (widget keys that change when the data they show changes)."""
    return hashlib.sha256(repr(value).encode("utf-8")).hexdigest()[:12]


def samples_dir(settings: Settings, client_id: str, token: str) -> Path:
    """This session's upload folder inside the client's own folder (never its landing folder)."""
    if not re.fullmatch(r"[0-9a-f]{8,32}", token):
        raise ValueError(f"bad upload token {token!r}")
    return settings.client_dir(client_id) / "samples" / f"upload-{token}"


def store_samples(folder: Path, uploads: tuple[Upload, ...]) -> list[Path]:
    """Write the uploads into ``folder`` (files no longer uploaded are removed); their paths, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in uploads:
        path = folder / name
        if not path.exists() or path.read_bytes() != content:
            tmp = folder / f".{name}.part"
            tmp.write_bytes(content)
            tmp.replace(path)
        paths.append(path)
    for old in folder.iterdir():
        if old.is_file() and old not in paths:
            old.unlink()
    return paths


def _written(uploads: tuple[Upload, ...], folder: Path) -> list[Path]:
    paths = []
    for name, content in uploads:
        path = folder / name
        path.write_bytes(content)
        paths.append(path)
    return paths


# Both are pure functions of the files' bytes (and the names given), so Streamlit may cache them.
@st.cache_data(show_spinner=False, max_entries=32)
def profile_upload(name: str, content: bytes, sheet: str | None = None) -> tuple[FileProfile | None, str]:
    """``sniff`` of one uploaded file: (profile, "") or (None, why it cannot be read)."""
    with tempfile.TemporaryDirectory(prefix="forgeline-sniff-") as tmp:
        (path,) = _written(((name, content),), Path(tmp))
        try:
            return sniff(path, sheet=sheet), ""
        except Exception as exc:  # a file inspect cannot read: the page says why instead of failing
            return None, f"{name}: {exc}"


@st.cache_data(show_spinner=False, max_entries=16)
def draft_proposal(client_id: str, name: str, uploads: tuple[Upload, ...]) -> tuple[Proposal | None, str]:
    """``propose_mapping`` on the uploads: (proposal, "") or (None, why no draft could be made)."""
    with tempfile.TemporaryDirectory(prefix="forgeline-propose-") as tmp:
        paths = _written(uploads, Path(tmp))
        try:
            return propose_mapping(client_id, name, paths), ""
        except Exception as exc:  # as above: shown on the page, the engineer writes the YAML instead
            return None, _("No draft could be made from these files: {error}").format(error=exc)


def file_profiles(proposal: Proposal | None, upload: Upload) -> tuple[list[FileProfile], str]:
    """The profiles of one uploaded file (one per Excel sheet read): from the proposal, else sniffed."""
    name, content = upload
    if proposal is not None:
        found = [p for group in proposal.profiles.values() for p in group if p.path.name == name]
        if found:
            return found, ""
    profile, error = profile_upload(name, content)
    return ([profile] if profile else []), error


def profile_for(profiles: list[FileProfile], sheet: str | None) -> FileProfile | None:
    return next((p for p in profiles if sheet in (None, p.sheet)), profiles[0] if profiles else None)


def source_matches(pattern: str, file_name: str) -> bool:
    """Whether a source's ``files:`` glob takes an uploaded file (the rule ingest and check use)."""
    return SourceSpec.model_construct(files=pattern).takes(file_name)


# -- the inspect table -------------------------------------------------------------------------------------
def decisions_of(proposal: Proposal | None, profile: FileProfile) -> dict[str, list[Any]]:
    """Column → the proposal's decisions for it, for the source the file was grouped into."""
    if proposal is None:
        return {}
    source = next((s for s, group in proposal.profiles.items() if profile in group), None)
    out: dict[str, list[Any]] = {}
    for decision in proposal.decisions_for(source) if source else []:
        out.setdefault(decision.column, []).append(decision)
    return out


def describe_read(profile: FileProfile) -> str:
    parts = [profile.format]
    if profile.encoding:
        parts.append(_("encoding {encoding}").format(encoding=profile.encoding))
    if profile.delimiter:
        shown = {"\t": _("tab"), ",": _("comma ','"), ";": _("semicolon ';'"), "|": _("pipe '|'")}
        parts.append(
            _("delimiter {delimiter}").format(delimiter=shown.get(profile.delimiter, repr(profile.delimiter)))
        )
    parts.append(
        _("header row {row}").format(row=profile.header_row) if profile.header_row else _("no header row")
    )
    if profile.skip_rows:
        parts.append(_("{n} row(s) skipped after the header").format(n=profile.skip_rows))
    if profile.decimal == ",":
        parts.append(_("decimal comma"))
    parts.append(_("{n} rows sampled").format(n=i18n.number(profile.rows_sampled)))
    return " · ".join(parts)


def inspect_table(profile: FileProfile, decisions: dict[str, list[Any]]) -> pd.DataFrame:
    """One row per column: what inspect found and what the draft does with it."""
    rows = []
    for column in profile.columns:
        found = decisions.get(column.name, [])
        mapped = [d for d in found if d.mapped]
        rows.append(
            {
                "column": column.name,
                "type": column.type,
                "time format": ("ISO 8601" if column.iso else column.format or "") if column.is_time else "",
                "unit in header": column.unit or "",
                "examples": ", ".join(column.examples[:3]),
                "missing": column.null_share,
                "confidence": min((d.confidence for d in mapped), default=None),
                "proposed": ", ".join(f"{d.entity}.{_target_label(d.target)}" for d in mapped) or _(UNMAPPED),
                "why": "; ".join(dict.fromkeys(d.reason for d in found)),
            }
        )
    return pd.DataFrame(rows)


def _target_label(target: str | None) -> str:
    return "tag" if target and target.startswith("tag:") else str(target)


def style_inspect(frame: pd.DataFrame) -> Any:
    """Low-confidence choices highlighted amber, unmapped columns grey."""

    def colour(row: pd.Series) -> list[str]:
        if row["proposed"] == _(UNMAPPED):
            css = "background-color: rgba(128, 128, 128, 0.15)"
        elif pd.notna(row["confidence"]) and row["confidence"] < LOW_CONFIDENCE:
            css = "background-color: rgba(255, 170, 0, 0.30)"
        else:
            css = ""
        return [css] * len(row)

    return frame.style.apply(colour, axis=1)


# -- the draft ----------------------------------------------------------------------------------------------
def empty_mapping(client_id: str, name: str) -> str:
    return dump_doc({"id": client_id, "name": name, "models": [], "sources": []})


def initial_text(
    client_id: str, name: str, uploads: tuple[Upload, ...], existing: str | None
) -> tuple[str, list[str]]:
    """The mapping to start from, and remarks for the engineer.

    A new client starts from inspect's draft (its notes kept as YAML comments). An existing client keeps
    its mapping; files none of its sources reads get drafted sources appended (the text is then rewritten
    without its comments; the saved version keeps the old text in the history).
    """
    if existing is None:
        proposal, error = draft_proposal(client_id, name, uploads)
        if proposal is None:
            return empty_mapping(client_id, name), [error]
        return proposal.to_yaml(), []
    try:
        doc = load_doc(existing)
    except ValueError as exc:
        return existing, [
            _("The saved mapping does not parse, so nothing was added to it: {error}").format(error=exc)
        ]
    sources = doc.get("sources") or []
    patterns = [str(s.get("files", "")) for s in sources if isinstance(s, dict)]
    new = tuple(u for u in uploads if not any(source_matches(p, u[0]) for p in patterns))
    if not new:
        return existing, []
    proposal, error = draft_proposal(client_id, name, new)
    if proposal is None:
        return existing, [error]
    taken = {str(s.get("name")) for s in sources if isinstance(s, dict)}
    added = []
    for source in proposal.config.get("sources", []):
        base, k = source["name"], 2
        while source["name"] in taken:
            source = {**source, "name": f"{base}_{k}"}
            k += 1
        taken.add(source["name"])
        added.append(source)
    doc["sources"] = [*sources, *added]
    names = ", ".join(s["name"] for s in added)
    return dump_doc(doc), [
        _("Drafted source(s) {names} for the files no existing source reads.").format(names=names)
    ]


# -- YAML ---------------------------------------------------------------------------------------------------
class _Flow(dict):
    """A mapping written on one line: {column: 일자, format: '%Y.%m.%d'}."""


class _Dumper(yaml.SafeDumper):
    """Field and tag specs, master records and lists of scalars on one line, as in docs/mapping.md."""


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


_Dumper.add_representer(
    _Flow, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", dict(v), flow_style=True)
)
_Dumper.add_representer(
    list,
    lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=all(map(_is_scalar, v))),
)


def _flowed(doc: dict[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    if isinstance(doc.get("masters"), dict):
        out["masters"] = {
            k: [_Flow(r) if isinstance(r, dict) else r for r in v] if isinstance(v, list) else v
            for k, v in doc["masters"].items()
        }
    if isinstance(doc.get("logins"), list):
        out["logins"] = [_Flow(r) if isinstance(r, dict) else r for r in doc["logins"]]
    if isinstance(doc.get("sources"), list):
        out["sources"] = [_flowed_source(s) if isinstance(s, dict) else s for s in doc["sources"]]
    return out


def _flowed_source(source: dict[str, Any]) -> dict[str, Any]:
    out = dict(source)
    if isinstance(source.get("feeds"), dict):
        feeds = {}
        for entity, feed in source["feeds"].items():
            if isinstance(feed, dict):
                feed = dict(feed)
                for part in ("fields", "tags"):
                    if isinstance(feed.get(part), dict):
                        specs = feed[part].items()
                        feed[part] = {k: _Flow(v) if isinstance(v, dict) else v for k, v in specs}
            feeds[entity] = feed
        out["feeds"] = feeds
    return out


def dump_doc(doc: dict[str, Any]) -> str:
    return yaml.dump(_flowed(doc), Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=4096)


def load_doc(text: str) -> dict[str, Any]:
    """The mapping text as data; ValueError if it is not a YAML mapping."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(_("not valid YAML ({error})").format(error=exc)) from exc
    if not isinstance(doc, dict):
        raise ValueError(_("expected keys such as id, name, sources"))
    return doc


def find_source(doc: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next(
        (s for s in doc.get("sources") or [] if isinstance(s, dict) and str(s.get("name")) == name), None
    )


# -- one column's targets, unit, format and value maps -----------------------------------------------------
def target_options() -> list[str]:
    """Every target a column may feed: 'entity.field', and 'entity.#tag' for wide columns (facts first)."""
    ordered = sorted(ENTITIES.values(), key=lambda e: e.is_master)
    options = []
    for entity in ordered:
        options.extend(f"{entity.name}.{f.name}" for f in entity.fields)
        if entity.takes_tags:
            options.append(f"{entity.name}.{TAG}")
    return options


def target_label(target: str) -> str:
    entity, _dot, name = target.partition(".")
    if name == TAG:
        return _("{entity} · tag (wide column)").format(entity=entity)
    return target


def target_field(target: str) -> Field | None:
    entity, _dot, name = target.partition(".")
    return ENTITIES[entity].get(name) if entity in ENTITIES and name != TAG else None


def _feeds(source: dict[str, Any]) -> dict[str, Any]:
    feeds = source.get("feeds")
    if not isinstance(feeds, dict):
        feeds = source["feeds"] = {}
    return feeds


def _fields(feed: Any) -> dict[str, Any]:
    fields = feed.get("fields") if isinstance(feed, dict) else None
    return fields if isinstance(fields, dict) else {}


def _tags(feed: Any) -> dict[str, Any]:
    tags = feed.get("tags") if isinstance(feed, dict) else None
    if isinstance(tags, list):
        return {str(t): {} for t in tags}
    return tags if isinstance(tags, dict) else {}


def _spec_column(spec: Any) -> str | None:
    if isinstance(spec, str):
        return spec
    if isinstance(spec, dict) and isinstance(spec.get("column"), str):
        return spec["column"]
    return None


def _field_specs(source: dict[str, Any], column: str) -> list[tuple[str, dict[str, Any], Field | None]]:
    """(target, spec, field) for every field fed by this column; short forms become dicts in place."""
    out = []
    for entity, feed in (source.get("feeds") or {}).items():
        fields = _fields(feed)
        for name, spec in fields.items():
            if _spec_column(spec) != column:
                continue
            if isinstance(spec, str):
                spec = fields[name] = {"column": spec}
            target = f"{entity}.{name}"
            out.append((target, spec, target_field(target)))
    return out


def _tag_specs(source: dict[str, Any], column: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for entity, feed in (source.get("feeds") or {}).items():
        tags = _tags(feed)
        if column not in tags:
            continue
        spec = tags[column]
        if not isinstance(spec, dict):
            spec = {"unit": spec} if isinstance(spec, str) else {}
        if isinstance(feed, dict):
            feed["tags"] = {**tags, column: spec}
        out.append((f"{entity}.{TAG}", spec))
    return out


def column_targets(source: dict[str, Any], column: str) -> list[str]:
    """What the column feeds now (fields it is the ``column`` of, and tags)."""
    fields = [
        f"{entity}.{name}"
        for entity, feed in (source.get("feeds") or {}).items()
        for name, spec in _fields(feed).items()
        if _spec_column(spec) == column
    ]
    feeds = (source.get("feeds") or {}).items()
    tags = [f"{entity}.{TAG}" for entity, feed in feeds if column in _tags(feed)]
    return fields + tags


def column_in_expressions(source: dict[str, Any], column: str) -> list[str]:
    """Where the column is read by an expression (``expr:`` of a field, or a feed's ``where:``)."""
    found = []
    for entity, feed in (source.get("feeds") or {}).items():
        uses = [
            (f"{entity}.{name}", spec.get("expr"))
            for name, spec in _fields(feed).items()
            if isinstance(spec, dict)
        ]
        uses.append((f"{entity} where", feed.get("where") if isinstance(feed, dict) else None))
        for target, text in uses:
            try:
                if isinstance(text, str) and column in columns_of(text):
                    found.append(target)
            except Exception:  # an expression that does not parse: validation reports it
                continue
    return found


def column_unit(source: dict[str, Any], column: str) -> str:
    for _t, spec, _f in _field_specs(_copy(source), column):
        if spec.get("unit"):
            return str(spec["unit"])
    for _t, spec in _tag_specs(_copy(source), column):
        if spec.get("unit"):
            return str(spec["unit"])
    return ""


def column_format(source: dict[str, Any], column: str) -> str:
    for _t, spec, found in _field_specs(_copy(source), column):
        if found and found.type in TIME_TYPES and spec.get("format"):
            return str(spec["format"])
    return ""


def column_maps(source: dict[str, Any], column: str) -> dict[str, dict[str, str]]:
    """Taxonomy → the value map of the code field(s) this column feeds (empty if it has none yet)."""
    maps: dict[str, dict[str, str]] = {}
    for _t, spec, found in _field_specs(_copy(source), column):
        if found and found.type == "code" and found.taxonomy:
            current = spec.get("map") if isinstance(spec.get("map"), dict) else {}
            merged = maps.setdefault(found.taxonomy, {})
            for value, code in current.items():
                merged.setdefault(str(value), str(code))
    return maps


def _copy(source: dict[str, Any]) -> dict[str, Any]:
    """A deep copy, so that reading a column's settings never rewrites short forms of the page's doc."""
    return yaml.safe_load(yaml.safe_dump(source, allow_unicode=True))


def suggested_map(taxonomy_name: str, values: list[str]) -> dict[str, str]:
    """Common codes the column dictionary knows for the sample's values (e.g. 미성형 → SHORT_SHOT)."""
    dictionary = column_dictionary()
    found = {v: dictionary.code_for(taxonomy_name, v) for v in values}
    return {v: c for v, c in found.items() if c}


def set_column_targets(source: dict[str, Any], column: str, targets: list[str], values: list[str]) -> None:
    """Make the column feed exactly ``targets``; its unit and time format carry over where they apply."""
    current = column_targets(source, column)
    unit, time_format = column_unit(source, column), column_format(source, column)
    feeds = _feeds(source)
    for target in current:
        if target in targets:
            continue
        entity, _dot, name = target.partition(".")
        feed = feeds.get(entity)
        if not isinstance(feed, dict):
            continue
        if name == TAG:
            tags = _tags(feed)
            tags.pop(column, None)
            feed["tags"] = tags
            if not tags:
                feed.pop("tags")
        else:
            _fields(feed).pop(name, None)
            if "fields" in feed and not feed["fields"]:
                feed.pop("fields")
        if not feed.get("fields") and not feed.get("tags"):
            feeds.pop(entity)
    for target in targets:
        if target in current:
            continue
        entity, _dot, name = target.partition(".")
        if entity not in ENTITIES:
            continue
        feed = feeds.get(entity)
        if not isinstance(feed, dict):
            feed = feeds[entity] = {}
        if name == TAG:
            feed["tags"] = {**_tags(feed), column: {"unit": unit} if unit and _unit_ok(unit, None) else {}}
            continue
        found = ENTITIES[entity].get(name)
        if found is None:
            continue
        spec: dict[str, Any] = {"column": column}
        if unit and found.kind and _unit_ok(unit, found.kind):
            spec["unit"] = unit
        if time_format and found.type in TIME_TYPES:
            spec["format"] = time_format
        if found.type == "code" and found.taxonomy:
            known = column_maps(source, column).get(found.taxonomy) or suggested_map(found.taxonomy, values)
            if known:
                spec["map"] = dict(known)
        fields = _fields(feed)
        fields[name] = spec
        feed["fields"] = fields


def _unit_ok(unit: str, kind: str | None) -> bool:
    try:
        conversion(unit, expected_kind=kind)
    except UnitError:
        return False
    return True


def set_column_unit(source: dict[str, Any], column: str, unit: str) -> None:
    """Write the unit on every measure field and tag the column feeds (empty: remove it)."""
    unit = unit.strip()
    for _t, spec, found in _field_specs(source, column):
        if found is None or found.kind is None:
            continue
        if unit:
            spec["unit"] = unit
        else:
            spec.pop("unit", None)
    for _t, spec in _tag_specs(source, column):
        if unit:
            spec["unit"] = unit
        else:
            spec.pop("unit", None)


def set_column_format(source: dict[str, Any], column: str, time_format: str) -> None:
    """Write the strptime format on every timestamp or date field the column feeds (empty: ISO 8601)."""
    time_format = time_format.strip()
    for _t, spec, found in _field_specs(source, column):
        if found is None or found.type not in TIME_TYPES:
            continue
        if time_format:
            spec["format"] = time_format
        else:
            spec.pop("format", None)


def set_column_map(source: dict[str, Any], column: str, taxonomy_name: str, mapping: dict[str, str]) -> None:
    """Write the value map on every code field of this taxonomy the column feeds (empty: remove it)."""
    for _t, spec, found in _field_specs(source, column):
        if found is None or found.type != "code" or found.taxonomy != taxonomy_name:
            continue
        if mapping:
            spec["map"] = dict(mapping)
        else:
            spec.pop("map", None)


def map_rows(values: list[str], current: dict[str, str]) -> list[dict[str, Any]]:
    """The value-map editor's rows: every sampled value and every mapped one."""
    shown = list(dict.fromkeys([*values, *current]))
    return [{"value": v, "code": current.get(v)} for v in shown]


def apply_editor_edits(rows: list[dict[str, Any]], edits: dict[str, Any]) -> dict[str, str]:
    """The map after a ``st.data_editor`` change (its edited, added and deleted rows)."""
    rows = [dict(r) for r in rows]
    for index, change in (edits.get("edited_rows") or {}).items():
        rows[int(index)].update(change)
    rows.extend(dict(r) for r in edits.get("added_rows") or [])
    deleted = {int(i) for i in edits.get("deleted_rows") or []}
    mapping = {}
    for i, row in enumerate(rows):
        value, code = row.get("value"), row.get("code")
        if i in deleted or value in (None, "") or not code:
            continue
        mapping[str(value)] = str(code)
    return mapping


def codes_of(taxonomy_name: str) -> dict[str, str]:
    return taxonomy(taxonomy_name).codes


# -- live feedback ------------------------------------------------------------------------------------------
def unit_feedback(unit: str, targets: list[str]) -> tuple[bool, str]:
    """(ok, message) for a unit typed for a column: its canonical unit, or what is wrong."""
    unit = unit.strip()
    if not unit:
        return True, ""
    try:
        found = conversion(unit)
    except UnitError as exc:
        return False, str(exc)
    takes_unit = [t for t in targets if t.endswith(TAG) or getattr(target_field(t), "kind", None)]
    if not takes_unit:
        return False, _("no field this column feeds takes a unit (only measures and tags do): leave it empty")
    for target in targets:
        spec_field = target_field(target)
        if spec_field is not None and spec_field.kind:
            try:
                conversion(unit, expected_kind=spec_field.kind)
            except UnitError as exc:
                return False, f"{target}: {exc}"
    canonical = found.canonical_unit or _("a plain number")
    return True, f"→ {canonical} ({found.quantity_kind})"


def format_feedback(time_format: str, column: ColumnProfile | None) -> tuple[bool, str]:
    """(ok, message): how many of the sample's example values the format (or ISO 8601) reads."""
    examples = [e for e in (column.examples if column else []) if e]
    if not examples:
        return True, ""
    read = 0
    for text in examples:
        try:
            if time_format.strip():
                datetime.strptime(text.strip(), time_format.strip())
            else:
                datetime.fromisoformat(text.strip())
            read += 1
        except ValueError:
            continue
    how = f"'{time_format.strip()}'" if time_format.strip() else "ISO 8601"
    if read == len(examples):
        return True, _("{format} reads all {n} examples").format(format=how, n=read)
    bad = next(e for e in examples if not _reads(e, time_format))
    return False, _("{format} reads {read} of {n} examples; not e.g. {bad!r}").format(
        format=how, read=read, n=len(examples), bad=bad
    )


def _reads(text: str, time_format: str) -> bool:
    try:
        if time_format.strip():
            datetime.strptime(text.strip(), time_format.strip())
        else:
            datetime.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


# -- validation, preview, save ------------------------------------------------------------------------------
@dataclass
class Preview:
    config: ClientConfig | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)  # validation problems: (line, message)
    report: CheckReport | None = None
    failure: str = ""  # the dry run itself failed


_PROBLEM_LINE = re.compile(r"^mapping\.yml:(\d+|\?): (.*)$")


def validate(text: str, client_id: str) -> tuple[ClientConfig | None, list[tuple[str, str]]]:
    """The mapping as a ClientConfig, or its problems as (line, "key: message") for the page to list."""
    try:
        config = parse_client_config(text, "mapping.yml")
    except ClientConfigError as exc:
        cause = exc.__cause__
        mark = getattr(cause, "problem_mark", None) or getattr(cause, "context_mark", None)
        if isinstance(cause, yaml.YAMLError):
            line = str(mark.line + 1) if mark is not None else "?"
            what = " ".join(str(getattr(cause, "problem", "") or cause).split())
            return None, [(line, _("not valid YAML: {problem}").format(problem=what))]
        problems = []
        for raw in str(exc).splitlines():
            found = _PROBLEM_LINE.match(raw)
            if found:
                problems.append((found[1], found[2]))
            elif raw.strip() and raw != _(FIX_THE_MAPPING):
                problems.append(("?", raw.removeprefix("mapping.yml: ")))
        return None, problems
    if config.id != client_id:
        line = next((str(i) for i, t in enumerate(text.splitlines(), 1) if t.startswith("id:")), "?")
        return None, [
            (
                line,
                _("id: the mapping says {found!r}; this client's id is {client!r}").format(
                    found=config.id, client=client_id
                ),
            )
        ]
    return config, []


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~$:])")


def md_escape(text: str) -> str:
    """Text shown literally in Streamlit markdown (globs, brackets and colons in messages)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def problem_markdown(line: str, message: str) -> str:
    """One validation problem as a markdown list item: line, key in code, the message."""
    key, sep, rest = message.partition(": ")
    where = _("line {line}").format(line=line)
    if sep and " " not in key:
        return f"- **{where}** · `{key}`: {md_escape(rest)}"
    return f"- **{where}**: {md_escape(message)}"


def preview(settings: Settings, text: str, client_id: str, files: list[Path]) -> Preview:
    """Validate the (unsaved) mapping and dry-run it on the sample files; loads and writes nothing."""
    config, errors = validate(text, client_id)
    if config is None:
        return Preview(errors=errors)
    if not files:
        return Preview(config=config, failure=_("No sample files to try the mapping on."))
    try:
        report = check_client(settings, config, files)
    except Exception as exc:  # an unexpected failure of the dry run: shown, never a traceback
        return Preview(config=config, failure=_("The dry run failed: {error}").format(error=exc))
    return Preview(config=config, report=report)


def sources_table(report: CheckReport) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "source": s.name,
                "sample files": ", ".join(s.files) or _("none matches"),
                "rows read": s.rows_read,
                "unmapped columns": ", ".join(s.unmapped_columns),
                "error": s.error or "",
            }
            for s in report.sources
        ]
    )


def entity_rows_table(report: CheckReport) -> pd.DataFrame:
    rows = [{"entity": e, "rows": n} for e, n in report.entity_rows.items() if n > 0 and e != "client"]
    return pd.DataFrame(rows, columns=["entity", "rows"])


def problems_table(report: CheckReport) -> pd.DataFrame:
    """One row per example cell the mapping cannot read: file, row, column, value and why."""
    rows = []
    for problem in report.problems:
        for file, row, value in problem.examples or [("", None, "")]:
            rows.append(
                {
                    "file": file,
                    "row": row,
                    "column": problem.column_name,
                    "value": value,
                    "field": f"{problem.entity}.{problem.field}",
                    "problem": problem.problem,
                    "cells": problem.cells,
                }
            )
    return pd.DataFrame(rows, columns=["file", "row", "column", "value", "field", "problem", "cells"])


def models_table(report: CheckReport) -> pd.DataFrame:
    return pd.DataFrame([{"standard model": m, "with these data": v} for m, v in report.models.items()])


def levels_table(report: CheckReport) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"level": f"L{lvl}", "in the samples": _("yes") if met else _("not yet"), "evidence": meaning}
            for lvl, met, meaning in report.levels
        ]
    )


@dataclass(frozen=True)
class Saved:
    client_id: str
    path: Path
    history: int  # earlier versions kept
    text: str


def save(settings: Settings, client_id: str, text: str) -> Saved:
    """Validate and save the mapping (the version it replaces goes to the client's history)."""
    path = save_mapping_text(settings, client_id, text)
    history = settings.mapping_history_dir(client_id)
    count = len(list(history.glob("mapping.*.yml"))) if history.exists() else 0
    return Saved(client_id, path, count, text)
