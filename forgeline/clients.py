"""A client's configuration: who it is, how to read its exports, and its master data.

A data engineer keeps one ``client.yml`` per client in ``<home>/clients/<id>/``. It says which
dbt adapter standardizes the client's exports (``source_system``), how each delivered file is read
into a raw table (``sources``), and the masters Forgeline cannot infer from the exports
(equipment, products, planned time). Errors name the file and the field to fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from forgeline.settings import Settings, check_client_id


class ClientConfigError(ValueError):
    """A client.yml that cannot be used; the message names the file and the field."""


class SourceSpec(BaseModel):
    """How one kind of delivered file becomes one raw table ``raw.<source_system>__<entity>``."""

    model_config = ConfigDict(extra="forbid")

    entity: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="raw table suffix, e.g. 'shots'")
    pattern: str = Field(description="glob, relative to the client's landing folder, e.g. 'shots_*.csv'")
    format: Literal["csv", "excel", "parquet"]
    encoding: str = Field(default="auto", description="'auto' tries UTF-8 (with or without BOM), then CP949")
    delimiter: str = ","
    sheet: str | None = Field(default=None, description="Excel sheet name (default: the first sheet)")
    header_row: int = Field(default=1, ge=1, description="1-based row that holds the column names")
    required_columns: list[str] = Field(default_factory=list, description="headers that must be present")


class Machine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    machine_id: str
    machine_name: str
    line_id: str
    site_id: str
    machine_class: str
    rated_power_kw: float | None = None


class Product(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: str
    product_name: str
    ideal_cycle_time_s: float = Field(gt=0)
    parts_per_cycle: int = Field(default=1, ge=1)


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str
    display_name: str


class ClientConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    industry: str = ""
    timezone: str = "Asia/Seoul"
    source_system: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="dbt staging adapter to use")
    sources: list[SourceSpec]
    machines: list[Machine] = Field(default_factory=list)
    products: list[Product] = Field(default_factory=list)
    planned_hours_per_day: float = Field(default=24.0, gt=0, le=24)
    emission_factor_kg_per_kwh: float | None = Field(
        default=None, description="overrides the grid factor seed for this client"
    )
    models: list[str] = Field(
        default_factory=list, description="standard models to train, e.g. defect_prediction"
    )
    logins: list[Login] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return check_client_id(value)

    def raw_table(self, source: SourceSpec) -> str:
        return f"{self.source_system}__{source.entity}"


def load_client_config(path: Path) -> ClientConfig:
    """Read and validate one client.yml, naming the file and field on any problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ClientConfigError(f"{path}: no such client configuration. Add the client first.") from exc
    except yaml.YAMLError as exc:
        raise ClientConfigError(f"{path}: not valid YAML ({exc}). Fix the file and run again.") from exc
    try:
        config = ClientConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"field '{'.'.join(str(p) for p in err['loc'])}': {err['msg']}" for err in exc.errors()
        )
        raise ClientConfigError(f"{path}: {problems}. Fix the file and run again.") from exc
    if config.id != path.parent.name:
        raise ClientConfigError(
            f"{path}: id '{config.id}' does not match its folder '{path.parent.name}'; they must be equal."
        )
    return config


def list_clients(settings: Settings) -> list[ClientConfig]:
    """Every client of the program, sorted by id."""
    if not settings.clients_dir.exists():
        return []
    return [load_client_config(p) for p in sorted(settings.clients_dir.glob("*/client.yml"))]


def get_client(settings: Settings, client_id: str) -> ClientConfig:
    return load_client_config(settings.client_config_path(client_id))


def save_client_config(settings: Settings, config: ClientConfig) -> Path:
    path = settings.client_config_path(config.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(
        config.model_dump(mode="json", exclude_defaults=False), allow_unicode=True, sort_keys=False
    )
    tmp = path.with_suffix(".yml.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
