"""Fast tier: the settings module and client configuration validation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from forgeline.clients import ClientConfigError, list_clients, load_client_config
from forgeline.settings import Settings, check_client_id, get_settings

VALID = """\
id: test-plant
name: "테스트공장 (Test Plant)"
masters:
  equipment:
    - {machine_id: M1, machine_name: 사출기1, line_id: L1, site_id: S1, machine_class: injection_molding}
  products:
    - {product_id: P1, product_name: 부품, ideal_cycle_time_s: 55}
sources:
  - name: shots
    files: "*.csv"
    format: csv
    feeds:
      cycles:
        fields: {started_at: 일시, machine_id: 설비}
"""


def write_config(settings: Settings, client_id: str, text: str) -> Path:
    path = settings.client_config_path(client_id)
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_every_store_lives_under_the_workspace(workspace: Settings) -> None:
    paths = [
        workspace.landing_dir("a-client"),
        workspace.warehouse_path("a-client"),
        workspace.published_dir("a-client"),
        workspace.quality_dir("a-client"),
        workspace.mlflow_dir,
        workspace.users_path,
        workspace.runs_dir,
    ]
    assert all(workspace.home in p.parents for p in paths)
    assert workspace.mlflow_tracking_uri.startswith("sqlite:///")


def test_home_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FORGELINE_HOME", str(tmp_path / "elsewhere"))
    assert get_settings().home == (tmp_path / "elsewhere").resolve()


@pytest.mark.parametrize("bad", ["", "A", "../etc", "a/b", "client_1", "x" * 41])
def test_client_ids_cannot_escape_their_folders(bad: str) -> None:
    with pytest.raises(ValueError, match="not valid"):
        check_client_id(bad)


def test_valid_client_config_loads_with_korean_names(workspace: Settings) -> None:
    write_config(workspace, "test-plant", VALID)
    [config] = list_clients(workspace)
    assert config.name.startswith("테스트공장")
    assert config.raw_table(config.sources[0]) == "shots"


def test_invalid_config_names_file_and_field(workspace: Settings) -> None:
    path = write_config(workspace, "test-plant", VALID.replace("format: csv", "format: xls"))
    with pytest.raises(ClientConfigError) as err:
        load_client_config(path)
    assert f"{path}:11:" in str(err.value)  # the file and the line of the bad key
    assert "sources[shots].format" in str(err.value)


def test_config_id_must_match_its_folder(workspace: Settings) -> None:
    path = write_config(workspace, "other-plant", VALID)
    with pytest.raises(ClientConfigError, match="does not match its folder"):
        load_client_config(path)


def test_one_broken_mapping_never_hides_the_other_clients(workspace: Settings) -> None:
    from forgeline.clients import client_ids

    write_config(workspace, "test-plant", VALID)
    broken = write_config(
        workspace,
        "other-plant",
        VALID.replace("test-plant", "other-plant").replace("format: csv", "format: xls"),
    )
    invalid: dict[str, str] = {}

    assert [c.id for c in list_clients(workspace, invalid)] == ["test-plant"]
    assert list(invalid) == ["other-plant"] and f"{broken}:11:" in invalid["other-plant"]
    assert client_ids(workspace) == ["other-plant", "test-plant"]


def test_one_memory_budget_sets_each_clients_duckdb_share(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from forgeline.settings import parse_bytes

    assert (
        parse_bytes("4GB") == 4 * 10**9 and parse_bytes("1.5GiB") == 3 * 2**29 and parse_bytes("1000") == 1000
    )
    for bad in ("lots", "4 metres", "", "1.5"):
        with pytest.raises(ValueError, match="is not a size"):
            parse_bytes(bad)
    monkeypatch.setenv("FORGELINE_MEMORY_BUDGET", "4GB")
    monkeypatch.setenv("FORGELINE_PARALLEL_CLIENTS", "2")
    settings = get_settings(tmp_path)
    # The program itself keeps a quarter of a budget up to 4 GiB (1 GiB beyond); half of each client's
    # share of the rest goes to DuckDB (the rest is Python's); the cores are shared out.
    assert settings.clients_budget_bytes == 3 * 10**9
    assert settings.client_duckdb_memory_limit == f"{3 * 10**9 // 4 // 1024**2}MB"
    monkeypatch.setenv("FORGELINE_MEMORY_BUDGET", "8GiB")
    assert get_settings(tmp_path).clients_budget_bytes == 7 * 2**30
    monkeypatch.setenv("FORGELINE_MEMORY_BUDGET", "4GB")
    assert settings.client_duckdb_config()["threads"] == max(1, (os.cpu_count() or 1) // 2)
    monkeypatch.delenv("FORGELINE_MEMORY_BUDGET")
    assert 0 < get_settings(tmp_path).memory_budget_bytes <= 4 * 1024**3
