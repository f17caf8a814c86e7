"""A client's consent to pool its published figures into the program's benchmarks ("my manufacturing data").

A client opts in explicitly: in the app (its own login) or through a consultant recording a signed form
(`forgeline consent CLIENT give --by NAME`). Every decision is kept with its date, its scope and who made
it, in one file per client, ``<home>/program/consent/<client>.yml`` (:attr:`Settings.consent_path`), so a
purge removes it with the client and two clients never write the same file. The latest decision for a
scope is the one in force; withdrawing takes the client's figures out of the next benchmark build
(:func:`forgeline.program.benchmarks.build`, which the callers run right after recording).
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from forgeline.settings import Settings, check_client_id

Scope = Literal["benchmarks"]
SCOPES: dict[str, str] = {
    "benchmarks": (
        "the factory's published KPIs (OEE and its factors, defect rate, energy and CO2 per unit, MTBF, "
        "MTTR) go into anonymous benchmarks with other consenting factories, at least 5 in each; no row of "
        "its data and never its name leaves its own results"
    ),
}


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scope: Scope
    given: bool  # False: withdrawn (or refused)
    by: str = Field(min_length=1, description="who decided: a login, or the name on a signed form")
    at: datetime
    note: str = ""


class ConsentFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decisions: list[Decision] = Field(default_factory=list)


def _load(settings: Settings, client_id: str) -> ConsentFile:
    path = settings.consent_path(client_id)
    if not path.exists():
        return ConsentFile()
    try:
        return ConsentFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (yaml.YAMLError, ValueError) as exc:
        raise ValueError(
            f"{path}: the consent record is not readable ({exc}). Restore it from a backup, or record the "
            "client's decision again with `forgeline consent`."
        ) from exc


def decisions(settings: Settings, client_id: str) -> list[Decision]:
    """Every decision the client made, oldest first."""
    return list(_load(settings, client_id).decisions)


def in_force(settings: Settings, client_id: str, scope: Scope = "benchmarks") -> Decision | None:
    """The client's latest decision for ``scope`` (None: it never decided, which counts as no)."""
    found = [d for d in decisions(settings, client_id) if d.scope == scope]
    return found[-1] if found else None


def has_consented(settings: Settings, client_id: str, scope: Scope = "benchmarks") -> bool:
    decision = in_force(settings, client_id, scope)
    return decision is not None and decision.given


def record(
    settings: Settings, client_id: str, given: bool, by: str, scope: Scope = "benchmarks", note: str = ""
) -> Decision:
    """Add the client's decision (atomically); a decision equal to the one in force is not repeated."""
    check_client_id(client_id)
    current = in_force(settings, client_id, scope)
    if current is not None and current.given == given:
        return current
    decision = Decision(scope=scope, given=given, by=by.strip(), at=datetime.now(UTC), note=note)
    kept = _load(settings, client_id)
    kept.decisions.append(decision)
    path = settings.consent_path(client_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")  # two writers never share one
    tmp.write_text(
        yaml.safe_dump(kept.model_dump(mode="json"), allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    os.replace(tmp, path)
    return decision
