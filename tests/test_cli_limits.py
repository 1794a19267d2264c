"""Hostile arguments on the command line: a clear error and a documented exit status, never a
traceback."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from envscale.cli import main
from envscale.cli.common import EXIT_OK, EXIT_SPEC_ERRORS, EXIT_USAGE

FIXTURES = Path(__file__).parent / "dsl" / "fixtures"
SPEC = str(FIXTURES / "mini.domain")
DATA = str(FIXTURES / "mini.data.json")
CALL = ["call", SPEC, "get_order"]

HOSTILE = [
    ("-", b'{"order_id": "' + b"x" * 5_000_000 + b'"}', EXIT_SPEC_ERRORS, "argument_bytes="),
    ('{"order_id": "' + "x" * 100_001 + '"}', b"", EXIT_SPEC_ERRORS, "string_length="),
    ('{"order_id": ' + "[" * 50_000 + "]" * 50_000 + "}", b"", EXIT_SPEC_ERRORS, "depth=64"),
    ("-", b'{"order_id": ' + b"[" * 900_000, EXIT_SPEC_ERRORS, "depth=64"),
    ('{"order_id": "\\ud800"}', b"", EXIT_SPEC_ERRORS, "lone surrogate"),
    ('{"order_id": "\udcff"}', b"", EXIT_SPEC_ERRORS, "lone surrogate"),  # a byte not UTF-8
    ("-", b'{"order_id": "\xff"}', EXIT_USAGE, "not UTF-8"),
    ('{"order_id": ', b"", EXIT_USAGE, "not valid JSON"),
    ('{"order_id": ' + "9" * 5000 + "}", b"", EXIT_USAGE, "not valid JSON"),
    ("[1, 2]", b"", EXIT_USAGE, "must be a JSON object"),
    ('{"order_id": "#W1"}', b"", EXIT_OK, '"order_id": "#W1"'),
]
IDS = [
    "5-mb-on-stdin",
    "long-string",
    "50000-deep",
    "unclosed-900000-deep",
    "escaped-surrogate",
    "undecodable-argv",
    "invalid-utf8-stdin",
    "invalid-json",
    "5000-digit-integer",
    "not-an-object",
    "fine",
]


@pytest.mark.parametrize(("arguments", "stdin", "status", "message"), HOSTILE, ids=IDS)
def test_call_with_hostile_arguments(
    arguments: str, stdin: bytes, status: int, message: str, monkeypatch, capsys
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    assert main([*CALL, arguments, "--data", DATA]) == status
    captured = capsys.readouterr()
    assert message in captured.out + captured.err


def test_call_with_a_limit_set(capsys) -> None:
    argv = [*CALL, '{"order_id": "#W1"}', "--data", DATA, "--limit", "string_length=2"]
    assert main(argv) == EXIT_SPEC_ERRORS
    assert "(limit string_length=2)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("command", "setting"), [("call", "steps=0"), ("generate", "strings=5"), ("eval", "steps")]
)
def test_a_bad_limit_is_a_usage_error(command: str, setting: str, tmp_path: Path, capsys) -> None:
    out = ["--out", str(tmp_path)]
    argv = {"call": CALL, "generate": [SPEC, *out], "eval": [SPEC, "--tasks", "t.jsonl", *out]}
    with pytest.raises(SystemExit) as exit_:
        main([command, *argv[command], "--limit", setting])
    assert exit_.value.code == EXIT_USAGE and "argument --limit" in capsys.readouterr().err


def envscale(*argv: str | bytes, stdin: bytes = b"") -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "envscale", *argv],
        input=stdin,
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        timeout=120,
    )
    return done.returncode, (done.stdout + done.stderr).decode("utf-8", "backslashreplace")


@pytest.mark.parametrize(
    ("argv", "stdin", "status"),
    [
        ([*CALL, "-", "--data", DATA], HOSTILE[0][1], EXIT_SPEC_ERRORS),
        ([*CALL, HOSTILE[2][0], "--data", DATA], b"", EXIT_SPEC_ERRORS),
        ([*CALL, b'{"order_id": "\xff"}', "--data", DATA], b"", EXIT_SPEC_ERRORS),
        (["generate", SPEC, "--out", "unused", "--limit", "steps=-1"], b"", EXIT_USAGE),
    ],
    ids=["5-mb-on-stdin", "50000-deep", "undecodable-argv", "bad-limit"],
)
def test_the_process_prints_no_traceback(argv: list, stdin: bytes, status: int) -> None:
    code, output = envscale(*argv, stdin=stdin)
    assert "Traceback" not in output and code == status, output
    assert output.startswith(("error: ", "usage: ")), output
