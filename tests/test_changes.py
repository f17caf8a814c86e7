"""How a client's landing folder looks (forgeline/changes.py), from the one walk of it (ingest/landing.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from forgeline import changes
from forgeline.scheduling import delivered_bytes
from forgeline.settings import Settings, get_settings

CLIENT = "look-plant"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(changes, "RACY_S", 0)  # no waiting for timestamps to settle, but in the racy test
    settings = get_settings(tmp_path)
    settings.landing_dir(CLIENT).mkdir(parents=True)
    return settings


def test_the_look_changes_with_any_entry_and_never_reads_content(settings: Settings) -> None:
    landing = settings.landing_dir(CLIENT)
    empty = changes.landing_fingerprint(settings, CLIENT)
    assert empty == changes.landing_fingerprint(settings, CLIENT)
    export = landing / "shots_2026-01.csv"
    export.write_text("a,b\n1,2\n", encoding="utf-8")
    one = changes.landing_fingerprint(settings, CLIENT)
    assert one not in (None, empty)
    assert changes.landing_fingerprint(settings, CLIENT) == one

    # Rewritten in place with the same size and its old times put back: the change time still tells.
    before = export.stat()
    time.sleep(0.05)  # past the kernel's coarse clock tick, as any later delivery is
    export.write_text("a,b\n3,4\n", encoding="utf-8")
    os.utime(export, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert changes.landing_fingerprint(settings, CLIENT) != one

    # A hidden partial copy and a sub-folder are part of the look; only delivered files are bytes to load.
    now = changes.landing_fingerprint(settings, CLIENT)
    (landing / ".shots_2026-02.csv.partial").write_text("a,b\n", encoding="utf-8")
    assert changes.landing_fingerprint(settings, CLIENT) != now
    (landing / "archive").mkdir()
    (landing / "archive" / "old.csv").write_text("a,b\n5,6\n", encoding="utf-8")
    assert delivered_bytes(settings, CLIENT) == export.stat().st_size + len("a,b\n5,6\n")


def test_an_entry_changed_within_the_racy_window_gives_no_look(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    (settings.landing_dir(CLIENT) / "shots.csv").write_text("a\n1\n", encoding="utf-8")
    monkeypatch.setattr(changes, "RACY_S", 3600)
    assert changes.landing_fingerprint(settings, CLIENT) is None


def test_a_client_without_a_landing_folder_has_a_stable_look(tmp_path: Path) -> None:
    settings = get_settings(tmp_path)
    assert changes.landing_fingerprint(settings, "nobody") == changes.landing_fingerprint(settings, "nobody")
    assert delivered_bytes(settings, "nobody") == 0


def test_tuning_the_level_rules_changes_every_clients_inputs(settings: Settings) -> None:
    """A program that tunes its level rules gets its clients assessed again on their next run."""
    import duckdb

    from forgeline.program.levels import SHIPPED_RULES

    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    duckdb.connect(str(settings.warehouse_path(CLIENT))).close()
    shipped = changes.inputs_fingerprint(settings, CLIENT)
    assert changes.inputs_fingerprint(settings, CLIENT) == shipped
    settings.level_rules_path.parent.mkdir(parents=True)
    settings.level_rules_path.write_text(
        SHIPPED_RULES.read_text(encoding="utf-8").replace('version: "2026.11-1"', 'version: "tuned"'),
        encoding="utf-8",
    )
    assert changes.inputs_fingerprint(settings, CLIENT) != shipped
