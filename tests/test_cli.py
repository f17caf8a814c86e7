"""Fast tier: the consultant's command line (real files, no flows)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from forgeline.cli import app
from forgeline.clients import get_client
from forgeline.settings import Settings

runner = CliRunner()


def test_add_client_writes_a_valid_template_and_lists_it(workspace: Settings) -> None:
    result = runner.invoke(app, ["add-client", "acme-press", "--name", "에이스프레스"])
    assert result.exit_code == 0, result.output
    config = get_client(workspace, "acme-press")
    assert config.name == "에이스프레스" and config.sources == []
    assert "forgeline check acme-press" in result.output
    assert workspace.landing_dir("acme-press").is_dir()

    listed = runner.invoke(app, ["clients"])
    assert listed.exit_code == 0
    assert "acme-press" in listed.output and "never" in listed.output


def test_add_client_refuses_duplicates_and_invalid_files(workspace: Settings, tmp_path: Path) -> None:
    assert runner.invoke(app, ["add-client", "acme-press"]).exit_code == 0
    again = runner.invoke(app, ["add-client", "acme-press"])
    assert again.exit_code == 1 and "already exists" in again.output

    broken = tmp_path / "mapping.yml"
    broken.write_text("id: other-plant\nname: x\nsources: []\nmystery: 1\n")
    result = runner.invoke(app, ["add-client", "other-plant", "--from", str(broken)])
    assert result.exit_code == 1 and "mystery" in result.output and ":4:" in result.output  # file:line
    assert not workspace.client_config_path("other-plant").exists()

    unknown_model = tmp_path / "model.yml"
    unknown_model.write_text("id: third-plant\nname: x\nmodels: [crystal_ball]\n")
    result = runner.invoke(app, ["add-client", "third-plant", "--from", str(unknown_model)])
    assert result.exit_code == 1 and "crystal_ball" in result.output and "catalog" in result.output
    assert not workspace.client_config_path("third-plant").exists()


def test_bad_client_id_is_refused_with_the_rule(workspace: Settings) -> None:
    result = runner.invoke(app, ["add-client", "Bad_Id"])
    assert result.exit_code == 1
    assert "lower-case" in result.output


def test_add_login_scopes_a_client_login(workspace: Settings) -> None:
    from forgeline.auth import authenticate

    assert runner.invoke(app, ["add-client", "acme-press"]).exit_code == 0
    typed = "s3cret-pass\ns3cret-pass\n"  # asked for twice, never an option
    result = runner.invoke(app, ["add-login", "acme-staff", "--client", "acme-press"], input=typed)
    assert result.exit_code == 0, result.output
    assert "s3cret-pass" not in result.output  # not echoed
    user = authenticate(workspace, "acme-staff", "s3cret-pass")
    assert user is not None and user.client_id == "acme-press"

    unknown = runner.invoke(app, ["add-login", "x-staff", "--client", "no-such-plant"], input=typed)
    assert unknown.exit_code == 1 and "no such mapping" in unknown.output
    both = runner.invoke(app, ["add-login", "y", "--consultant", "--client", "acme-press"], input=typed)
    assert both.exit_code == 1 and "exactly one" in both.output
    # A password on the command line (ps, shell history) is refused before anything is written.
    on_line = runner.invoke(app, ["add-login", "z", "--consultant", "--password", "s3cret-pass"])
    assert on_line.exit_code == 2 and authenticate(workspace, "z", "s3cret-pass") is None


def test_passwd_sets_a_password_and_ends_the_logins_sessions(workspace: Settings) -> None:
    from forgeline.auth import authenticate, issue_session, session_user, set_login

    set_login(workspace, "kim", "first-password", "client", "Kim", client_id="acme-press")
    user = authenticate(workspace, "kim", "first-password")
    assert user is not None
    session = issue_session(workspace, user)
    result = runner.invoke(app, ["passwd", "kim"], input="second-password\nsecond-password\n")
    assert result.exit_code == 0, result.output
    assert authenticate(workspace, "kim", "second-password") == user
    assert session_user(workspace, session) is None  # signed out everywhere
    unknown = runner.invoke(app, ["passwd", "nobody"], input="long-enough-pw\nlong-enough-pw\n")
    assert unknown.exit_code == 1 and "no login 'nobody'" in unknown.output
    on_line = runner.invoke(app, ["passwd", "kim", "--password", "third-password"])
    assert on_line.exit_code == 2 and authenticate(workspace, "kim", "third-password") is None


def test_unlock_lets_a_locked_out_login_in_at_once(workspace: Settings) -> None:
    from forgeline.auth import MAX_FAILURES_PER_LOGIN, LoginThrottled, log_in, set_login

    set_login(workspace, "kim", "first-password", "client", "Kim", client_id="acme-press")
    for _ in range(MAX_FAILURES_PER_LOGIN):
        assert log_in(workspace, "kim", "a-guess", "10.0.0.1") is None
    with pytest.raises(LoginThrottled):
        log_in(workspace, "kim", "first-password", "10.0.0.2")
    result = runner.invoke(app, ["unlock", "kim"])
    assert result.exit_code == 0 and "can log in again" in result.output, result.output
    assert log_in(workspace, "kim", "first-password", "10.0.0.2") is not None
    assert "no recent failed logins" in runner.invoke(app, ["unlock", "kim"]).output


def test_the_app_listens_on_this_machine_only_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    import tomllib

    from forgeline.cli import streamlit_command
    from forgeline.settings import REPO_ROOT, get_settings

    command = streamlit_command(8501)
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert command[command.index("run") + 1].endswith("apps/serve.py")  # the launcher with the guards
    monkeypatch.setenv("FORGELINE_APP_ADDRESS", "10.0.0.5")
    assert get_settings().app_address == "10.0.0.5"
    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["address"] == "127.0.0.1"
    assert config["global"]["developmentMode"] is False
    assert config["client"]["showErrorDetails"] == "none" and config["client"]["toolbarMode"] == "viewer"
    assert config["server"]["enableAgentApi"] is False  # no HTTP door around the session's checks


def test_ingest_of_a_broken_file_says_what_to_fix_without_a_traceback(
    workspace: Settings, tmp_path: Path
) -> None:
    config = """\
id: acme-press
name: 에이스프레스
sources:
  - name: shots
    files: "*.csv"
    required_columns: [TimeStamp]
    feeds:
      cycles: {fields: {started_at: TimeStamp}}
"""
    source = tmp_path / "acme.yml"
    source.write_text(config, encoding="utf-8")
    assert runner.invoke(app, ["add-client", "acme-press", "--from", str(source)]).exit_code == 0
    good, bad = tmp_path / "shots_1.csv", tmp_path / "shots_2.csv"
    good.write_text("TimeStamp,품번\n2026-10-01 08:00:00,A\n", encoding="cp949")
    bad.write_text("TimeStamp,품번\n2026-10-01 09:00:00,B,extra\n", encoding="utf-8")

    result = runner.invoke(app, ["ingest", "acme-press", str(good), str(bad)])
    assert result.exit_code == 1
    assert "shots_2.csv" in result.output and "line 2" in result.output
    assert "Traceback" not in result.output
    again = runner.invoke(app, ["ingest", "acme-press", str(good)])  # the good file stayed loaded
    assert again.exit_code == 0 and "skipped" in again.output

    # The refused file can be withdrawn: it leaves the landing folder (kept aside) and is not retried.
    withdrawn = runner.invoke(app, ["withdraw", "acme-press", "shots_2.csv"])
    assert withdrawn.exit_code == 0, withdrawn.output
    assert not (workspace.landing_dir("acme-press") / "shots_2.csv").exists()
    assert (workspace.withdrawn_dir("acme-press") / "shots_2.csv").exists()
    assert runner.invoke(app, ["ingest", "acme-press"]).exit_code == 0


def test_ingest_waits_for_no_one_while_another_run_writes_the_client(
    workspace: Settings, tmp_path: Path
) -> None:
    """A second writer (say, a consultant's ingest during the nightly run) stops at once and says why."""
    from forgeline.locking import ClientBusy, client_lock

    assert runner.invoke(app, ["add-client", "acme-press"]).exit_code == 0
    export = tmp_path / "shots_1.csv"
    export.write_text("TimeStamp\n2026-10-01 08:00:00\n", encoding="utf-8")
    with client_lock(workspace, "acme-press"):
        result = runner.invoke(app, ["ingest", "acme-press", str(export)])
        assert result.exit_code == 75 and "Another run is writing acme-press" in result.output
        assert not (workspace.landing_dir("acme-press") / "shots_1.csv").exists()  # nothing copied
        with pytest.raises(ClientBusy), client_lock(workspace, "acme-press"):
            pass
    assert runner.invoke(app, ["ingest", "acme-press", str(export)]).exit_code == 0  # free again


def test_check_shows_the_quarantine_and_fails_when_the_gate_would_block(
    workspace: Settings, tmp_path: Path
) -> None:
    config = """\
id: acme-press
name: 에이스프레스
sources:
  - name: counts
    files: "*.csv"
    feeds:
      production_counts: {fields: {machine_id: line, production_date: day, total_count: made}}
"""
    source = tmp_path / "acme.yml"
    source.write_text(config, encoding="utf-8")
    assert runner.invoke(app, ["add-client", "acme-press", "--from", str(source)]).exit_code == 0
    landing = workspace.landing_dir("acme-press")
    landing.mkdir(parents=True, exist_ok=True)
    rows = [f"L{m},2026-10-{d:02d},{100 + d}" for m in (1, 2) for d in range(1, 29)]
    rows += ["L3,2026-10-01,-5", "L3,2026-10-02,-6", "L3,2026-10-03,-7"]
    (landing / "counts.csv").write_text("line,day,made\n" + "\n".join(rows) + "\n", encoding="utf-8")

    result = runner.invoke(app, ["check", "acme-press"])
    output = " ".join(result.output.split())  # the console wraps long lines

    # Three negative counts in 59 rows (5.1 %) are over the 2 % the gate allows for the range rule.
    assert result.exit_code == 1, result.output
    assert "counts.csv row 58: '-5'" in output
    assert "production_counts rule range: 5.1% quarantined" in output
    assert "Traceback" not in result.output


def test_run_of_a_busy_client_stops_in_one_line_with_its_own_exit_code(workspace: Settings) -> None:
    from forgeline.cli import EXIT_BUSY
    from forgeline.locking import client_lock

    assert runner.invoke(app, ["add-client", "acme-press"]).exit_code == 0
    with client_lock(workspace, "acme-press"):
        result = runner.invoke(app, ["run", "acme-press"])
    assert result.exit_code == EXIT_BUSY == 75
    assert "Another run is writing acme-press" in result.output and "Traceback" not in result.output


def test_a_broken_level_rules_file_stops_the_run_at_once_naming_it(workspace: Settings) -> None:
    from forgeline.program.levels import SHIPPED_RULES

    assert runner.invoke(app, ["add-client", "acme-press"]).exit_code == 0
    workspace.level_rules_path.parent.mkdir(parents=True)
    workspace.level_rules_path.write_text(
        SHIPPED_RULES.read_text(encoding="utf-8").replace("measure: recorded_days", "measure: recorded_dayz"),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["run", "acme-press"])
    assert result.exit_code == 1, result.output
    shown = " ".join(result.output.split())
    assert "level_rules.yml" in shown and "unknown measure 'recorded_dayz'" in shown
    assert "input_value" in shown  # pydantic's detail is not eaten as Rich markup
    assert "Traceback" not in result.output

    listed = runner.invoke(app, ["levels"])
    assert listed.exit_code == 0 and "not assessed yet" in " ".join(listed.output.split())


def test_consent_is_recorded_shown_and_withdrawn_from_the_command_line(workspace: Settings) -> None:
    assert runner.invoke(app, ["add-client", "acme-press", "--name", "에이스프레스"]).exit_code == 0
    shown = runner.invoke(app, ["consent", "acme-press"])
    assert shown.exit_code == 0 and "has not decided, so its figures are not pooled" in shown.output
    refused = runner.invoke(app, ["consent", "acme-press", "give"])
    assert refused.exit_code == 2 and "say who decided" in refused.output
    given = runner.invoke(
        app, ["consent", "acme-press", "give", "--by", "김민수 공장장", "--note", "form #12"]
    )
    assert given.exit_code == 0, given.output
    assert "Benchmarks rebuilt: 0 cells released" in given.output and "figures are pooled" in given.output
    withdrawn = runner.invoke(app, ["consent", "acme-press", "withdraw", "--by", "김민수 공장장"])
    assert withdrawn.exit_code == 0 and "figures are not pooled" in withdrawn.output
    assert "김민수 공장장" in withdrawn.output and "withdrawn" in withdrawn.output
    unknown = runner.invoke(app, ["consent", "nobody-here", "give", "--by", "x"])
    assert (
        unknown.exit_code == 1 and "no such mapping" in unknown.output and "Traceback" not in unknown.output
    )
    listed = runner.invoke(app, ["benchmarks"])
    assert listed.exit_code == 0 and "0 cells released" in " ".join(listed.output.split())


def test_the_cli_speaks_korean_with_lang_and_english_by_default(
    workspace: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FORGELINE_LANG", raising=False)
    added = runner.invoke(app, ["--lang", "ko", "add-client", "acme-press", "--name", "에이스프레스"])
    assert added.exit_code == 0, added.output
    said = " ".join(added.output.split())
    assert "acme-press를 추가했습니다" in said and "`forgeline check acme-press`를 실행하세요" in said

    listed = " ".join(runner.invoke(app, ["--lang", "ko", "clients"]).output.split())
    assert all(word in listed for word in ("고객사", "상태", "게이트", "없음"))  # headers and "never"
    assert "에이스프레스" in listed and "acme-press" in listed  # data stays as delivered

    # An error in Korean: what went wrong and what to do, exit code unchanged.
    again = runner.invoke(app, ["--lang", "ko", "add-client", "acme-press"])
    assert again.exit_code == 1 and "고객사 acme-press가 이미 있습니다" in again.output
    assert "그 파일을 고치세요" in again.output
    unknown = runner.invoke(app, ["--lang", "ko", "passwd", "nobody"])
    assert (
        unknown.exit_code == 1
        and "오류:" in unknown.output
        and "'nobody' 로그인이 없습니다" in unknown.output
    )

    # The core's errors that reach a consultant speak it too, with the same content (the file, what to do).
    bad_id = runner.invoke(app, ["--lang", "ko", "add-client", "Bad_Id"])
    assert bad_id.exit_code == 1 and "고객사 ID 'Bad_Id'는 쓸 수 없습니다" in " ".join(bad_id.output.split())
    no_mapping = " ".join(runner.invoke(app, ["--lang", "ko", "consent", "nobody-here"]).output.split())
    assert "mapping.yml: 매핑이 없습니다" in no_mapping and "forgeline add-client" in no_mapping

    # FORGELINE_LANG chooses it too; --lang wins over it.
    korean_env = runner.invoke(app, ["clients"], env={"FORGELINE_LANG": "ko"})
    assert "게이트" in korean_env.output
    english_flag = runner.invoke(app, ["--lang", "en", "clients"], env={"FORGELINE_LANG": "ko"})
    assert "gate" in english_flag.output and "게이트" not in english_flag.output

    # English is the default, and nothing of the Korean command stays behind.
    english = runner.invoke(app, ["clients"])
    assert english.exit_code == 0 and "gate" in english.output and "never" in english.output
    assert "게이트" not in english.output
    refused = runner.invoke(app, ["--lang", "fr", "clients"])
    assert refused.exit_code == 2 and "ko or en" in refused.output
