"""The program's clients: each one folder ``<home>/clients/<id>/`` holding its ``mapping.yml``.

The mapping file says who the client is, its master data and how each of its exports maps to the
common schema (``forgeline/mapping/spec.py``; reference in ``docs/mapping.md``). Errors name the file,
the line and the key to fix.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from forgeline.i18n import N_, _
from forgeline.mapping.spec import ClientConfig, SourceSpec
from forgeline.settings import Settings

log = logging.getLogger("forgeline.clients")

__all__ = [
    "ClientConfig",
    "ClientConfigError",
    "SourceSpec",
    "get_client",
    "client_ids",
    "list_clients",
    "load_client_config",
    "parse_client_config",
    "save_client_config",
]


# The last line of a mapping's list of problems (the app's onboarding page tells it from the problems).
FIX_THE_MAPPING = N_("Fix the mapping and run again.")


class ClientConfigError(ValueError):
    """A mapping.yml that cannot be used; the message names the file, line and key."""


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the key at ``loc`` (pydantic's error location), as deep as the YAML has it."""
    line = None if node is None else node.start_mark.line + 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if getattr(k, "value", None) == str(key)), None)
            if pair is None:  # e.g. a short form turned into a dict by a validator: stay on the parent
                break
            line, node = pair[0].start_mark.line + 1, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _describe(loc: tuple[Any, ...], data: Any) -> str:
    """A readable key path: sources[shots].feeds.cycles instead of sources.0.feeds.cycles."""
    parts: list[str] = []
    cursor = data
    for key in loc:
        if isinstance(key, int) and isinstance(cursor, list) and key < len(cursor):
            cursor = cursor[key]
            name = cursor.get("name") if isinstance(cursor, dict) else None
            parts[-1:] = [f"{parts[-1] if parts else ''}[{name or key}]"]
            continue
        parts.append(str(key))
        cursor = cursor.get(key) if isinstance(cursor, dict) else None
    return ".".join(p for p in parts if p)


def parse_client_config(text: str, path: Path | str = "mapping.yml") -> ClientConfig:
    """Validate mapping text; every problem is reported with its line and key."""
    try:
        data = yaml.safe_load(text)
        tree = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise ClientConfigError(
            _("{path}: not valid YAML ({error}). Fix the file and run again.").format(path=path, error=exc)
        ) from exc
    if data is None:
        raise ClientConfigError(
            _("{path}: the mapping is empty; start from `forgeline add-client` or docs/mapping.md.").format(
                path=path
            )
        )
    if not isinstance(data, dict):
        raise ClientConfigError(
            _("{path}: expected keys such as id, name, sources; found {found}.").format(
                path=path, found=type(data).__name__
            )
        )
    try:
        return ClientConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not str(p).startswith(("function-", "union[", "json-or")))
            message = str(err["msg"]).removeprefix("Value error, ")
            # A source's own checks name the key that is wrong ("feeds.cycles.fields.x: ..."): point there.
            inner = re.match(r"^((?:feeds|tags|fields|masters)(?:\.[^\s:]+)+): ", message)
            if inner:
                steps: list[Any] = []
                for token in inner.group(1).split("."):
                    name, _bracket, index = token.partition("[")
                    steps += [name, int(index.rstrip("]"))] if index.rstrip("]").isdigit() else [name]
                if loc and steps and steps[0] == loc[-1]:
                    steps = steps[1:]
                loc = (*loc, *steps)
                message = message[inner.end() :]
            line = _line_of(tree, loc)
            key = _describe(loc, data) or "(top level)"
            problems.append(f"{path}:{line or '?'}: {key}: {message}")
        raise ClientConfigError("\n".join([*problems, _(FIX_THE_MAPPING)])) from exc


def load_client_config(path: Path) -> ClientConfig:
    """Read and validate one mapping.yml, naming the file, line and key on any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ClientConfigError(
            _("{path}: no such mapping. Add the client first (`forgeline add-client`).").format(path=path)
        ) from exc
    except UnicodeDecodeError as exc:
        raise ClientConfigError(
            _("{path}: not UTF-8 text; save the mapping as UTF-8.").format(path=path)
        ) from exc
    config = parse_client_config(text, path)
    if config.id != path.parent.name:
        raise ClientConfigError(
            _("{path}: id '{id}' does not match its folder '{folder}'; they must be equal.").format(
                path=path, id=config.id, folder=path.parent.name
            )
        )
    return config


def client_ids(settings: Settings) -> list[str]:
    """The id of every client folder holding a mapping.yml, valid or not, sorted."""
    if not settings.clients_dir.exists():
        return []
    return [p.parent.name for p in sorted(settings.clients_dir.glob("*/mapping.yml"))]


def list_clients(settings: Settings, invalid: dict[str, str] | None = None) -> list[ClientConfig]:
    """Every client of the program with a valid mapping, sorted by id.

    One broken mapping.yml never hides the others: it is left out, logged, and, when ``invalid`` is
    given, recorded there (client id → the error naming file, line and key).
    """
    clients = []
    for client_id in client_ids(settings):
        try:
            clients.append(load_client_config(settings.client_config_path(client_id)))
        except (ClientConfigError, ValueError) as exc:
            log.error("%s", exc)
            if invalid is not None:
                invalid[client_id] = str(exc)
    return clients


def get_client(settings: Settings, client_id: str) -> ClientConfig:
    return load_client_config(settings.client_config_path(client_id))


def save_mapping_text(settings: Settings, client_id: str, text: str) -> Path:
    """Validate and save a mapping (atomic); the version it replaces is kept in the client's history."""
    path = settings.client_config_path(client_id)
    config = parse_client_config(text, path)
    if config.id != client_id:
        raise ClientConfigError(
            _("{path}: id '{id}' must be '{client}'.").format(path=path, id=config.id, client=client_id)
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        old = path.read_text(encoding="utf-8")
        if old == text:
            return path
        history = settings.mapping_history_dir(client_id)
        history.mkdir(parents=True, exist_ok=True)
        (history / f"mapping.{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}.yml").write_text(old, encoding="utf-8")
    tmp = path.with_name(".mapping.yml.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def save_client_config(settings: Settings, config: ClientConfig) -> Path:
    text = yaml.safe_dump(
        config.model_dump(mode="json", exclude_defaults=True), allow_unicode=True, sort_keys=False
    )
    return save_mapping_text(settings, config.id, text)
