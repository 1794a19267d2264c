"""`envscale check` and `envscale compile` on hostile files: a diagnostic, never a traceback."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from envscale.cli.common import EXIT_OK, EXIT_SPEC_ERRORS
from envscale.compiler.build import compile_file

ROOT = Path(__file__).resolve().parents[1]
VALID = {"deep"}  # parentheses nest without limit: they add nothing to the tree


def _hostile(folder: Path) -> dict[str, Path]:
    files = {
        "garbage": random.Random(0).randbytes(4096),
        "nul": b'domain shop "A shop."\x00\n',
        "not-utf8": b'domain shop "caf\xe9"\n',
        "surrogate-bytes": b'domain shop "\xed\xa0\x80"\n',
        "bom": b'\xef\xbb\xbfdomain shop "A shop."\n',
        "huge": b'domain shop "A shop."\n# ' + b"x" * (17 * 1024 * 1024) + b"\n",
        "deep": b'domain shop "A shop."\ntool t() -> int { "d" return '
        + b"(" * 50_000
        + b"1"
        + b")" * 50_000
        + b" }\n",
        "nested-lists": b'domain shop "A shop."\ntool t() -> int { "d" return '
        + b"[" * 5000
        + b"]" * 5000
        + b" }\n",
        "long-policy-path": b'domain shop "A shop." policy from "' + b"p" * 300 + b'.md"\n',
        "policy-is-a-folder": b'domain shop "A shop." policy from "."\n',
        "huge-int": b'domain shop "A shop."\ntool t() -> int { "d" return ' + b"7" * 5000 + b" }\n",
    }
    paths = {}
    for name, data in files.items():
        paths[name] = folder / f"{name}.domain"
        paths[name].write_bytes(data)
    paths["folder"] = folder / "folder.domain"
    paths["folder"].mkdir()
    paths["missing"] = folder / "missing.domain"
    if hasattr(os, "mkfifo"):
        paths["fifo"] = folder / "fifo.domain"
        os.mkfifo(paths["fifo"])
    return paths


def test_hostile_files_give_diagnostics_and_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"}
    for name, path in _hostile(tmp_path).items():
        for command in (["check", str(path)], ["compile", str(path), "-o", str(tmp_path / "out")]):
            done = subprocess.run(
                [sys.executable, "-m", "envscale", *command],
                capture_output=True,
                text=True,
                env=env,
                cwd=tmp_path,
                timeout=120,
            )
            where = f"{command[0]} {name}"
            assert "Traceback" not in done.stderr + done.stdout, where
            if name in VALID:
                assert done.returncode == EXIT_OK, (where, done.stderr[-2000:])
            else:
                assert done.returncode == EXIT_SPEC_ERRORS, (where, done.stderr[-2000:])
                assert "error[E" in done.stderr, where


@pytest.mark.parametrize("name", ["garbage", "not-utf8", "folder", "huge", "missing"])
def test_unreadable_files_are_e004(tmp_path: Path, name: str) -> None:
    files, diagnostics, _ = compile_file(_hostile(tmp_path)[name])
    assert files is None and [d.code for d in diagnostics] == ["E004"]
