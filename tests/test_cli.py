"""The `envscale` command: exit codes, and where its output goes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envscale import __version__
from envscale.cli import main
from envscale.cli.common import EXIT_OK, EXIT_SPEC_ERRORS, EXIT_USAGE
from envscale.compiler.codegen import ARTIFACTS

FIXTURES = Path(__file__).parent / "dsl" / "fixtures"
SPEC = str(FIXTURES / "mini.domain")
DATA = str(FIXTURES / "mini.data.json")
BAD_SPEC = 'domain shop "A shop."\nentity Foo { a: Prodcut @key }\n'


@pytest.fixture
def bad_spec(tmp_path: Path) -> str:
    path = tmp_path / "bad.domain"
    path.write_text(BAD_SPEC, encoding="utf-8")
    return str(path)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == EXIT_OK
    assert capsys.readouterr().out.strip() == f"envscale {__version__}"


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == "" and "usage: envscale" in captured.err


@pytest.mark.parametrize("command", [[], ["check"], ["compile"], ["call"]])
def test_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == EXIT_OK
    assert "usage: envscale" in capsys.readouterr().out


def test_unknown_command_and_missing_arguments_are_usage_errors() -> None:
    for argv in (["frobnicate"], ["check"], ["compile", SPEC], ["call", SPEC]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == EXIT_USAGE, argv


def test_check_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", SPEC]) == EXIT_OK
    captured = capsys.readouterr()
    assert captured.out == f"{SPEC}: ok (2 entities, 2 tools)\n"
    assert captured.err == ""
    assert main(["check", "-q", SPEC]) == EXIT_OK
    assert capsys.readouterr().out == ""


def test_check_with_errors(bad_spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", bad_spec]) == EXIT_SPEC_ERRORS
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error[E102]: unknown type 'Prodcut'\n")
    assert f"--> {bad_spec}:2:17" in captured.err
    assert captured.err.endswith("1 error found\n")


def test_check_several_specs_reports_each(
    bad_spec: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", SPEC, bad_spec]) == EXIT_SPEC_ERRORS
    captured = capsys.readouterr()
    assert f"{SPEC}: ok" in captured.out
    assert "E102" in captured.err


@pytest.mark.parametrize("command", [["check"], ["compile", "-o", "out"], ["call"]])
def test_missing_spec_file(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "absent.domain")
    argv = [command[0], missing, *command[1:]]
    if command[0] == "call":
        argv.append("get_order")
    assert main(argv) == EXIT_SPEC_ERRORS
    captured = capsys.readouterr()
    assert captured.err.startswith(
        "error[E004]: cannot read spec file: No such file or directory\n"
    )
    assert "Traceback" not in captured.err


def test_compile_writes_the_artifacts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "build" / "shop"
    assert main(["compile", SPEC, "-o", str(out)]) == EXIT_OK
    assert sorted(p.name for p in out.iterdir()) == sorted(ARTIFACTS)
    assert len(ARTIFACTS) == 5
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["domain"] == "shop"
    assert "compiled" in capsys.readouterr().out


def test_compile_is_deterministic(tmp_path: Path) -> None:
    assert main(["compile", SPEC, "-o", str(tmp_path / "a")]) == EXIT_OK
    assert main(["compile", SPEC, "-o", str(tmp_path / "b")]) == EXIT_OK
    for name in ARTIFACTS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_compile_with_errors_writes_nothing(bad_spec: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["compile", bad_spec, "-o", str(out)]) == EXIT_SPEC_ERRORS
    assert not out.exists()


def test_compile_to_an_unwritable_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    assert main(["compile", SPEC, "-o", str(blocker)]) == EXIT_USAGE
    assert "cannot write" in capsys.readouterr().err


def test_call_success(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", SPEC, "get_order", '{"order_id": "#W1"}', "--data", DATA]) == EXIT_OK
    result = json.loads(capsys.readouterr().out)
    assert result["order_id"] == "#W1" and result["total"] == 10.5


def test_call_with_diff(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "call",
        SPEC,
        "cancel",
        '{"order_id": "#W1"}',
        "--data",
        DATA,
        "--diff",
        "--no-policies",
    ]
    assert main(argv) == EXIT_OK
    out = capsys.readouterr().out
    assert '"diff"' in out and '"state_hash"' in out


def test_call_tool_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["call", SPEC, "get_order", '{"order_id": "#W9"}', "--data", DATA]) == EXIT_SPEC_ERRORS
    )
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and "#W9" in captured.err


def test_call_bad_argument_value_is_a_tool_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", SPEC, "get_order", '{"order_id": 5}', "--data", DATA]) == EXIT_SPEC_ERRORS
    assert capsys.readouterr().err.startswith("error: ")


@pytest.mark.parametrize("arguments", ['{"order_id": ', "not json", "[1, 2]", '"#W1"'])
def test_call_bad_json_arguments(arguments: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", SPEC, "get_order", arguments, "--data", DATA]) == EXIT_USAGE
    assert "error: the arguments" in capsys.readouterr().err


def test_call_unknown_tool(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", SPEC, "get_ordr", "{}", "--data", DATA]) == EXIT_USAGE
    assert "did you mean 'get_order'?" in capsys.readouterr().err


@pytest.mark.parametrize("content", ["{", '{"User": [{"user_id": 3}]}', '{"Nope": []}'])
def test_call_bad_data_file(
    content: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data.json"
    data.write_text(content, encoding="utf-8")
    assert (
        main(["call", SPEC, "get_order", '{"order_id": "#W1"}', "--data", str(data)]) == EXIT_USAGE
    )
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and "Traceback" not in captured.err


def test_call_missing_data_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["call", SPEC, "get_order", "{}", "--data", str(tmp_path / "absent.json")]
    assert main(argv) == EXIT_USAGE
    assert "not found" in capsys.readouterr().err


def test_call_on_a_spec_with_errors(bad_spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", bad_spec, "anything"]) == EXIT_SPEC_ERRORS
    assert "E102" in capsys.readouterr().err


def _console_script() -> list[str]:
    script = Path(sys.executable).with_name("envscale")
    if script.exists():
        return [str(script)]
    found = shutil.which("envscale")
    return [found] if found else [sys.executable, "-m", "envscale"]


def test_console_script(bad_spec: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_console_script(), *argv],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )

    version = run("--version")
    assert (version.returncode, version.stdout.strip()) == (EXIT_OK, f"envscale {__version__}")
    ok = run("check", SPEC)
    assert ok.returncode == EXIT_OK and ok.stdout.endswith("ok (2 entities, 2 tools)\n")
    bad = run("check", bad_spec)
    assert bad.returncode == EXIT_SPEC_ERRORS and "error[E102]" in bad.stderr and bad.stdout == ""
    missing = run("check", "absent.domain")
    assert missing.returncode == EXIT_SPEC_ERRORS
    assert "E004" in missing.stderr and "Traceback" not in missing.stderr
    called = run("call", SPEC, "get_order", '{"order_id": "#W1"}', "--data", DATA)
    assert called.returncode == EXIT_OK and json.loads(called.stdout)["order_id"] == "#W1"
    assert run().returncode == EXIT_USAGE
