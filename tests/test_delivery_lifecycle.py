"""Deliveries a client cannot get wrong (issue 7): links and special files, misread encodings, re-deliveries,
files changed in place, withdrawals, two sources on one file, and a client busy elsewhere.

Every test runs real files through real ingest into a real DuckDB file; the CLI ones through `forgeline`.
"""

from __future__ import annotations

import gzip
import io
import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import duckdb
import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from forgeline.cli import app
from forgeline.clients import ClientConfig
from forgeline.ingest import (
    IngestError,
    add_files,
    file_batch_id,
    ingest_client,
    superseded_dir,
    withdraw,
)
from forgeline.locking import ClientBusy, WarehouseInUse, client_lock, open_warehouse
from forgeline.settings import REPO_ROOT, Settings

CLIENT = "life-plant"
runner = CliRunner()


def source(name: str = "shots", files: str = "shots_*.csv", **extra: Any) -> dict[str, Any]:
    return {"name": name, "files": files, **extra, "feeds": {"cycles": {"fields": {"started_at": "t"}}}}


def client(*sources: dict[str, Any]) -> ClientConfig:
    return ClientConfig.model_validate(
        {"id": CLIENT, "name": "수명공장", "sources": list(sources or [source()])}
    )


def deliver(settings: Settings, name: str, data: bytes) -> Path:
    path = settings.landing_dir(CLIENT) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def query(settings: Settings, sql: str, params: list[Any] | None = None) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse_path(CLIENT)), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def shots(settings: Settings) -> list[tuple]:
    return query(settings, "SELECT _source_file, machine, count FROM raw.shots ORDER BY ALL")


def ingest_without_hanging(settings: Settings, config: ClientConfig, pipes: list[Path]) -> Any:
    """Ingest in a thread; if it blocks (a pipe opened for reading), unblock it and fail."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["report"] = ingest_client(settings, config, raise_on_rejection=False)
        except BaseException as exc:  # noqa: BLE001 - reported below
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=60)
    if worker.is_alive():
        for pipe in pipes:  # a writer releases a reader blocked on the pipe
            descriptor = os.open(pipe, os.O_WRONLY | os.O_NONBLOCK)
            os.close(descriptor)
        worker.join(timeout=10)
        pytest.fail("ingest hung on a special file in the landing folder")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["report"]


# -- 1. links and special files -------------------------------------------------------------------------
def test_links_pipes_sockets_and_folders_in_landing_are_refused_without_being_opened(
    workspace: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "outside" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text("machine,count\nTOP-SECRET-CONTENT,1\n", encoding="utf-8")
    outside_pipe = tmp_path / "outside" / "pipe"
    os.mkfifo(outside_pipe)
    landing = workspace.landing_dir(CLIENT)
    deliver(workspace, "shots_01.csv", b"machine,count\nS01,1\n")
    (landing / "shots_link.csv").symlink_to(secret)
    (landing / "shots_to_pipe.csv").symlink_to(outside_pipe)  # followed, it would hang
    (landing / "shots_dangling.csv").symlink_to(tmp_path / "gone.csv")
    (landing / "notes.txt").symlink_to(secret)  # no source takes it: still refused, never read
    os.mkfifo(landing / "shots_pipe.csv")
    (landing / "shots_folder.csv").mkdir()
    (landing / "2026").mkdir()  # a folder of deliveries is just a folder
    deliver(workspace, "2026/shots_02.csv", b"machine,count\nS02,2\n")
    monkeypatch.chdir(landing)  # a socket path must be short: bind it by its relative name
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind("shots_socket.csv")
    pipes = [landing / "shots_pipe.csv", outside_pipe]
    config = client()

    try:
        report = ingest_without_hanging(workspace, config, pipes)
    finally:
        sock.close()

    statuses = {(f.file, f.raw_table): f.status for f in report.files}
    assert statuses == {
        ("shots_01.csv", "shots"): "loaded",
        ("2026/shots_02.csv", "shots"): "loaded",
        ("shots_link.csv", "shots"): "rejected",
        ("shots_to_pipe.csv", "shots"): "rejected",
        ("shots_dangling.csv", "shots"): "rejected",
        ("notes.txt", ""): "rejected",
        ("shots_pipe.csv", "shots"): "rejected",
        ("shots_folder.csv", "shots"): "rejected",
        ("shots_socket.csv", "shots"): "rejected",
    }
    errors = {f.file: str(f.error) for f in report.rejected}
    for name in ("shots_link.csv", "shots_to_pipe.csv", "shots_dangling.csv", "notes.txt"):
        assert errors[name].startswith(f"{name}: is a symbolic link"), errors[name]
    assert "named pipe (FIFO)" in errors["shots_pipe.csv"]
    assert "a socket" in errors["shots_socket.csv"]
    assert "a folder named like a delivered file" in errors["shots_folder.csv"]
    for message in errors.values():
        assert "Deliver the file itself" in message
        assert "TOP-SECRET" not in message and str(secret) not in message and "outside" not in message
    assert shots(workspace) == [("2026/shots_02.csv", "S02", "2"), ("shots_01.csv", "S01", "1")]
    refused = query(workspace, "SELECT source_file, raw_table FROM raw._rejected_files ORDER BY ALL")
    assert len(refused) == 7 and ("notes.txt", "") in refused
    assert secret.read_text(encoding="utf-8").startswith("machine")  # untouched

    again = ingest_without_hanging(workspace, config, pipes)  # refused once, not again each run
    assert {f.status for f in again.files if f.file != "shots_01.csv" and "02" not in f.file} == {
        "rejected earlier"
    }

    # A link can be withdrawn: the link moves (not its target), its refusal goes.
    taken = withdraw(workspace, config, "shots_link.csv")
    [(name, kept)] = taken.files
    assert name == "shots_link.csv" and kept.is_symlink() and secret.exists()
    assert ("shots_link.csv", "shots") not in query(
        workspace, "SELECT source_file, raw_table FROM raw._rejected_files"
    )


def test_special_file_kinds_are_named_from_lstat_alone(tmp_path: Path) -> None:
    from forgeline.ingest.landing import entry_kind

    assert entry_kind(stat.S_IFREG) is None
    assert entry_kind(stat.S_IFLNK) == "a symbolic link"
    assert entry_kind(stat.S_IFCHR) == entry_kind(stat.S_IFBLK) == "a device"
    assert entry_kind(stat.S_IFDIR) == "a folder"
    pipe = tmp_path / "p.csv"
    os.mkfifo(pipe)
    with pytest.raises(IngestError, match=r"p\.csv: is a named pipe \(FIFO\)"):
        file_batch_id(pipe)  # opened without blocking, never read


def add_cli_client(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yml"
    mapping.write_text(
        f"id: {CLIENT}\nname: 수명공장\nsources:\n  - name: shots\n    files: 'shots_*.csv'\n"
        "    feeds:\n      cycles: {fields: {started_at: t}}\n",
        encoding="utf-8",
    )
    assert runner.invoke(app, ["add-client", CLIENT, "--from", str(mapping)]).exit_code == 0


def test_cli_refuses_a_link_or_pipe_on_the_command_line_before_copying_anything(
    workspace: Settings, tmp_path: Path
) -> None:
    add_cli_client(tmp_path)
    good = tmp_path / "shots_01.csv"
    good.write_bytes(b"machine,count\nS01,1\n")
    secret = tmp_path / "secret.csv"
    secret.write_text("machine,count\nTOP-SECRET,1\n", encoding="utf-8")
    link = tmp_path / "shots_02.csv"
    link.symlink_to(secret)
    pipe = tmp_path / "shots_03.csv"
    os.mkfifo(pipe)

    for bad, kind in ((link, "is a symbolic link"), (pipe, "is a named pipe (FIFO)")):
        result = runner.invoke(app, ["ingest", CLIENT, str(good), str(bad)])
        assert result.exit_code == 1, result.output
        output = " ".join(result.output.split())
        assert kind in output and "Deliver the file itself" in output and "Nothing was copied" in output
        assert "TOP-SECRET" not in output and "Traceback" not in output
        assert list(workspace.landing_dir(CLIENT).iterdir()) == []  # not even the good file was copied


# -- 3. an encoding that decodes but is wrong -----------------------------------------------------------
WESTERN = b"machine,temp\r\nS14,230\xb0C\r\nS14,231\xb0C\r\nS15,229\xb0C\r\n"  # cp1252: 230°C


def test_western_text_that_decodes_as_cp949_is_refused_under_auto(workspace: Settings) -> None:
    assert WESTERN.decode("cp949").splitlines()[1] == "S14,230캜"  # what `auto` used to load
    deliver(workspace, "shots_temps.csv", WESTERN)

    with pytest.raises(IngestError) as caught:
        ingest_client(workspace, client(source(encoding="auto")))

    message = str(caught.value)
    assert message.startswith("shots_temps.csv: does not look like Korean text")
    for words in (
        "line 2",
        "'S14,230캜'",
        "'S14,230°C'",
        "`encoding: cp1252`",
        "latin-1",
        "`encoding: cp949`",
    ):
        assert words in message, f"{words!r} not in: {message}"
    assert query(workspace, "SELECT count(*) FROM raw._load_batches") == [(0,)]


def test_the_same_file_loads_right_with_encoding_cp1252(workspace: Settings) -> None:
    deliver(workspace, "shots_temps.csv", WESTERN)

    [load] = ingest_client(workspace, client(source(encoding="cp1252"))).files

    assert (load.status, load.encoding) == ("loaded", "cp1252")
    assert query(workspace, "SELECT temp FROM raw.shots ORDER BY _source_row") == [
        ("230°C",),
        ("231°C",),
        ("229°C",),
    ]


def test_real_korean_cp949_exports_still_load_under_auto(workspace: Settings) -> None:
    """The KAMP injection molding export (real Korean MES data) in CP949, as the MES writes it; plus a
    hand-typed sheet whose one name uses a rare syllable (똠) among common ones."""
    text = gzip.decompress((REPO_ROOT / "demo" / "data" / "kamp_injection_molding.csv.gz").read_bytes())
    deliver(workspace, "shots_2020-10.csv", text.decode("utf-8").encode("cp949"))
    typed = "machine,count,작업자,비고\nS14,1,김똠순,금형 교체 후 가스 불량\nS14,2,이영희,미성형\n"
    deliver(workspace, "shots_typed.csv", typed.encode("cp949"))

    report = ingest_client(workspace, client(source(encoding="auto")))

    assert [(f.file, f.status, f.encoding) for f in report.files] == [
        ("shots_2020-10.csv", "loaded", "cp949"),
        ("shots_typed.csv", "loaded", "cp949"),
    ]
    assert report.files[0].rows == 5232
    reasons = dict(query(workspace, 'SELECT "Reason", count(*) FROM raw.shots GROUP BY 1'))
    assert (reasons["가스"], reasons["미성형"], reasons["초기허용불량"]) == (35, 15, 10)
    assert query(workspace, "SELECT count(*) FROM raw.shots WHERE EQUIP_NAME = '650톤-우진2호기'") == [
        (5230,)
    ]
    assert query(
        workspace, "SELECT 작업자 FROM raw.shots WHERE _source_file = 'shots_typed.csv' ORDER BY 1"
    ) == [
        ("김똠순",),
        ("이영희",),
    ]


# -- 4. the lifecycle of a delivery ---------------------------------------------------------------------
def batches(settings: Settings) -> list[tuple]:
    return query(
        settings,
        "SELECT batch_id, source_file, raw_table, rows, status, superseded_by, superseded_at IS NOT NULL "
        "FROM raw._load_batches ORDER BY loaded_at",
    )


def test_a_redelivery_of_the_same_name_supersedes_the_earlier_one_and_keeps_it(
    workspace: Settings, tmp_path: Path
) -> None:
    config = client()
    v1, v2 = tmp_path / "v1" / "shots_2024-05.csv", tmp_path / "v2" / "shots_2024-05.csv"
    for path, rows in ((v1, b"S01,1\nS01,2\n"), (v2, b"S01,1\nS01,20\nS01,3\n")):
        path.parent.mkdir()
        path.write_bytes(b"machine,count\n" + rows)
    first, second = file_batch_id(v1), file_batch_id(v2)
    add_files(workspace, CLIENT, [v1])
    ingest_client(workspace, config)

    add_files(workspace, CLIENT, [v2])  # the client re-sends the month with corrections
    [load] = ingest_client(workspace, config).files

    assert (load.status, load.batch_id, load.superseded) == ("loaded", second, (first,))
    assert shots(workspace) == [("shots_2024-05.csv", "S01", c) for c in ("1", "20", "3")]
    assert batches(workspace) == [
        (first, "shots_2024-05.csv", "shots", 2, "superseded", second, True),
        (second, "shots_2024-05.csv", "shots", 3, "loaded", None, False),
    ]
    [kept] = superseded_dir(workspace, CLIENT).iterdir()
    assert kept.read_bytes() == v1.read_bytes()  # history kept, nothing lost
    assert [f.status for f in ingest_client(workspace, config).files] == ["skipped"]

    # The client takes the correction back and re-sends the first version: latest delivery wins again.
    add_files(workspace, CLIENT, [v1])
    [load] = ingest_client(workspace, config).files
    assert (load.status, load.superseded) == ("loaded", (second,))
    assert shots(workspace) == [("shots_2024-05.csv", "S01", c) for c in ("1", "2")]
    assert [(b, s, by) for b, _, _, _, s, by, _ in batches(workspace)] == [
        (second, "superseded", first),
        (first, "loaded", None),
    ]
    assert len(list(superseded_dir(workspace, CLIENT).iterdir())) == 2


def test_a_refused_redelivery_leaves_the_earlier_version_loaded(workspace: Settings, tmp_path: Path) -> None:
    config = client()
    deliver(workspace, "shots_05.csv", b"machine,count\nS01,1\n")
    ingest_client(workspace, config)
    broken = tmp_path / "shots_05.csv"
    broken.write_bytes(b"machine,count\nS01,1\nS01,2,oops\n")
    add_files(workspace, CLIENT, [broken])

    report = ingest_client(workspace, config, raise_on_rejection=False)

    [refused] = report.rejected
    assert "line 3 has 3 fields" in str(refused.error)
    assert "The earlier delivery of shots_05.csv (batch" in str(refused.error)
    assert "stays loaded until this one is fixed or withdrawn" in str(refused.error)
    assert shots(workspace) == [("shots_05.csv", "S01", "1")]


KILLED_LOAD = """
import json, os, sys
import forgeline.ingest as ingest
from forgeline.clients import ClientConfig
from forgeline.settings import get_settings

original = ingest._supersede

def supersede_then_die(*args, **kwargs):
    original(*args, **kwargs)  # the earlier rows are deleted inside the open transaction...
    os._exit(9)  # ...and the process dies before COMMIT, as under `kill -9`

ingest._supersede = supersede_then_die
ingest.ingest_client(get_settings(sys.argv[1]), ClientConfig.model_validate(json.loads(sys.argv[2])))
"""


def test_a_kill_during_a_superseding_load_leaves_the_earlier_version_whole(
    workspace: Settings, tmp_path: Path
) -> None:
    config = client()
    deliver(workspace, "shots_05.csv", b"machine,count\nS01,1\nS01,2\n")
    ingest_client(workspace, config)
    v2 = tmp_path / "shots_05.csv"
    v2.write_bytes(b"machine,count\nS01,1\nS01,20\nS01,3\n")
    add_files(workspace, CLIENT, [v2])

    killed = subprocess.run(
        [sys.executable, "-c", KILLED_LOAD, str(workspace.home), config.model_dump_json()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert killed.returncode == 9, killed.stderr
    assert shots(workspace) == [("shots_05.csv", "S01", "1"), ("shots_05.csv", "S01", "2")]  # not neither
    assert [s for *_, s, _, _ in batches(workspace)] == ["loaded"]
    [load] = ingest_client(workspace, config).files  # the next run completes the re-delivery
    assert load.status == "loaded" and shots(workspace) == [
        ("shots_05.csv", "S01", c) for c in ("1", "20", "3")
    ]  # not both


def test_a_file_changed_in_place_is_a_redelivery_even_with_its_size_and_time_kept(
    workspace: Settings,
) -> None:
    config = client()
    path = deliver(workspace, "shots_05.csv", b"machine,count\nS01,1\n")
    ingest_client(workspace, config)
    before = path.stat()

    path.write_bytes(b"machine,count\nS01,7\n")  # same size; then its modification time put back
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    [load] = ingest_client(workspace, config).files

    assert load.status == "loaded" and len(load.superseded) == 1
    assert shots(workspace) == [("shots_05.csv", "S01", "7")]  # not both versions
    path.touch()  # touched, same content: hashed again, nothing loaded twice
    assert [f.status for f in ingest_client(workspace, config).files] == ["skipped"]
    assert shots(workspace) == [("shots_05.csv", "S01", "7")]


def test_a_file_changing_while_it_loads_is_rolled_back_and_loaded_next_run(
    workspace: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import forgeline.ingest as ingest

    config = client()
    path = deliver(workspace, "shots_05.csv", b"machine,count\nS01,1\n")
    original = ingest.read_source

    def read_then_append(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        with path.open("ab") as handle:  # the client's sync tool is still writing
            handle.write(b"S01,2\n")
        return result

    monkeypatch.setattr(ingest, "read_source", read_then_append)
    [load] = ingest_client(workspace, config).files
    monkeypatch.undo()

    assert load.status == "changing"
    assert query(workspace, "SELECT count(*) FROM raw._load_batches") == [(0,)]
    [load] = ingest_client(workspace, config).files
    assert (load.status, load.rows, load.batch_id) == ("loaded", 2, file_batch_id(path))


def test_corrected_rows_under_a_new_name_are_a_new_delivery(workspace: Settings) -> None:
    """Not a re-delivery: both files stay loaded; staging keeps the later load of each natural key."""
    config = client()
    deliver(workspace, "shots_05.csv", b"machine,count\nS01,1\n")
    ingest_client(workspace, config)
    deliver(workspace, "shots_05_fixed.csv", b"machine,count\nS01,2\n")

    [load] = [f for f in ingest_client(workspace, config).files if f.status == "loaded"]

    assert load.superseded == ()
    assert shots(workspace) == [("shots_05.csv", "S01", "1"), ("shots_05_fixed.csv", "S01", "2")]


def landed_setup(workspace: Settings) -> tuple[ClientConfig, str, str]:
    config = client()
    deliver(workspace, "shots_01.csv", b"machine,count\nS01,1\nS01,2\n")
    second = deliver(workspace, "shots_02.csv", b"machine,count\nS02,5\n")
    deliver(workspace, "shots_02_copy.csv", second.read_bytes())  # the same export sent twice
    ingest_client(workspace, config)
    return config, file_batch_id(workspace.landing_dir(CLIENT) / "shots_01.csv"), file_batch_id(second)


def test_withdraw_a_batch_takes_its_content_back_everywhere(workspace: Settings, tmp_path: Path) -> None:
    add_cli_client(tmp_path)
    config, _, batch = landed_setup(workspace)
    withdrawn = workspace.withdrawn_dir(CLIENT)

    result = runner.invoke(app, ["ingest", CLIENT, "--withdraw", batch[:8]])  # a prefix is enough

    assert result.exit_code == 0, result.output
    assert f"Withdrew batch {batch} from {CLIENT}: 1 raw rows removed (raw.shots: 1)" in result.output
    assert shots(workspace) == [("shots_01.csv", "S01", "1"), ("shots_01.csv", "S01", "2")]
    assert batch not in {b for b, *_ in batches(workspace)}
    assert sorted(p.name for p in withdrawn.iterdir()) == ["shots_02.csv", "shots_02_copy.csv"]
    assert sorted(p.name for p in workspace.landing_dir(CLIENT).iterdir()) == ["shots_01.csv"]
    assert [f.status for f in ingest_client(workspace, config).files] == ["skipped"]  # nothing comes back


def test_withdraw_a_file_by_name_with_either_command(workspace: Settings, tmp_path: Path) -> None:
    add_cli_client(tmp_path)
    config, first, batch = landed_setup(workspace)

    result = runner.invoke(app, ["withdraw", CLIENT, "shots_01.csv"])

    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert f"Withdrew file shots_01.csv from {CLIENT}: 2 raw rows removed" in output
    assert "shots_01.csv is kept in" in output and f"forgeline run {CLIENT}" in output
    assert (workspace.withdrawn_dir(CLIENT) / "shots_01.csv").exists()
    assert {f for _, f, *_ in batches(workspace)} == {"shots_02.csv"}

    # The copy of shots_02 stays a delivery of its own: withdrawing one name says so.
    result = runner.invoke(app, ["ingest", CLIENT, "--withdraw", "shots_02.csv"])
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "shots_02_copy.csv hold(s) the same content" in output and f"--withdraw {batch}" in output
    [load] = ingest_client(workspace, config).files
    assert (load.file, load.status) == ("shots_02_copy.csv", "loaded")

    unknown = runner.invoke(app, ["withdraw", CLIENT, "shots_99.csv"])
    assert unknown.exit_code == 1 and "no delivered file or batch" in unknown.output
    assert "Traceback" not in unknown.output
    both = runner.invoke(app, ["ingest", CLIENT, "shots_x.csv", "--withdraw", "shots_01.csv"])
    assert both.exit_code == 2


def test_a_superseded_batch_is_not_withdrawn_by_its_old_id(workspace: Settings, tmp_path: Path) -> None:
    config = client()
    deliver(workspace, "shots_05.csv", b"machine,count\nS01,1\n")
    ingest_client(workspace, config)
    old = file_batch_id(workspace.landing_dir(CLIENT) / "shots_05.csv")
    newer = tmp_path / "shots_05.csv"
    newer.write_bytes(b"machine,count\nS01,2\n")
    add_files(workspace, CLIENT, [newer])
    ingest_client(workspace, config)

    with pytest.raises(IngestError, match=rf"batch {old} of shots_05.csv was superseded by batch"):
        withdraw(workspace, config, old)


def test_a_file_two_sources_take_is_refused_naming_both(workspace: Settings) -> None:
    config = client(source(), source("everything", "*.csv"))
    deliver(workspace, "shots_01.csv", b"machine,count\nS01,1\n")
    deliver(workspace, "other.csv", b"machine,count\nS09,9\n")

    report = ingest_client(workspace, config, raise_on_rejection=False)

    assert sorted((f.file, f.raw_table, f.status) for f in report.files) == [
        ("other.csv", "everything", "loaded"),
        ("shots_01.csv", "everything", "rejected"),
        ("shots_01.csv", "shots", "rejected"),
    ]
    [message] = report.errors  # one message, not one per source
    assert message.startswith("shots_01.csv: the `files:` patterns of 2 sources take this file")
    assert "shots (files: 'shots_*.csv')" in message and "everything (files: '*.csv')" in message
    assert "Narrow the patterns in mapping.yml" in message
    assert query(workspace, "SELECT DISTINCT _source_file FROM raw.everything") == [("other.csv",)]


def test_two_sources_may_read_their_own_sheets_of_one_workbook(workspace: Settings) -> None:
    workbook = Workbook()
    workbook.active.title = "생산실적"
    workbook.active.append(["machine", "count"])
    workbook.active.append(["S01", 10])
    stops = workbook.create_sheet("비가동")
    stops.append(["machine", "minutes"])
    stops.append(["S01", 25])
    buffer = io.BytesIO()
    workbook.save(buffer)
    deliver(workspace, "일보_05.xlsx", buffer.getvalue())
    config = client(
        source("production", "일보_*.xlsx", format="excel", sheet="생산실적"),
        source("stops", "일보_*.xlsx", format="excel", sheet="비가동"),
    )

    report = ingest_client(workspace, config)

    assert sorted((f.raw_table, f.status, f.rows) for f in report.files) == [
        ("production", "loaded", 1),
        ("stops", "loaded", 1),
    ]


# -- 5. a client busy elsewhere -------------------------------------------------------------------------
def test_ingest_takes_the_lock_before_copying_and_says_busy_in_one_line(
    workspace: Settings, tmp_path: Path
) -> None:
    add_cli_client(tmp_path)
    export = tmp_path / "shots_01.csv"
    export.write_bytes(b"machine,count\nS01,1\n")

    with client_lock(workspace, CLIENT):
        result = runner.invoke(app, ["ingest", CLIENT, str(export)])
        withdrawn = runner.invoke(app, ["withdraw", CLIENT, "shots_01.csv"])

    assert result.exit_code == 75 and withdrawn.exit_code == 75
    for output in (result.output, withdrawn.output):
        assert output.count("\n") == 1 and f"Another run is writing {CLIENT}'s data" in output, output
        assert "Traceback" not in output
    assert list(workspace.landing_dir(CLIENT).iterdir()) == []  # nothing was copied


@pytest.fixture
def warehouse_held_open(workspace: Settings) -> Any:
    """Another program (a DuckDB shell, say) holding the client's warehouse open, read-only."""
    ingest_client(workspace, client())  # creates the file
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
            "print('open', flush=True); sys.stdin.read()",
            str(workspace.warehouse_path(CLIENT)),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        yield holder
    finally:
        holder.communicate(input="", timeout=60)  # closing its stdin ends it


def test_a_warehouse_open_in_another_program_is_named_with_what_to_do(
    workspace: Settings, tmp_path: Path, warehouse_held_open: subprocess.Popen
) -> None:
    path = workspace.warehouse_path(CLIENT)
    deliver(workspace, "shots_01.csv", b"machine,count\nS01,1\n")

    with pytest.raises(WarehouseInUse) as caught:
        ingest_client(workspace, client())

    message = str(caught.value)
    assert message.startswith(f"{path} is open in another program (")
    assert (
        f"process {warehouse_held_open.pid}" in message and "close it" in message and "run again" in message
    )
    assert "Could not set lock" not in message
    assert isinstance(caught.value, ClientBusy)

    add_cli_client(tmp_path)
    result = runner.invoke(app, ["ingest", CLIENT])
    assert result.exit_code == 75 and result.output.count("\n") == 1, result.output
    assert "is open in another program" in result.output and "Traceback" not in result.output


def test_open_warehouse_reads_and_writes_the_clients_file(workspace: Settings) -> None:
    con = open_warehouse(workspace, CLIENT, config={"memory_limit": "256MB"})
    try:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
    finally:
        con.close()
    con = open_warehouse(workspace, CLIENT, read_only=True)
    try:
        assert con.execute("SELECT x FROM t").fetchall() == [(1,)]
        with pytest.raises(WarehouseInUse, match="already open in this process with other settings"):
            open_warehouse(workspace, CLIENT)
    finally:
        con.close()
