"""The README's `envscale view` commands run as shown, from a folder holding the shipped specs."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.viewer.conftest import ROOT

README = ROOT / "README.md"


def view_commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- view-commands -->\n```sh\n(.*?)```", text, re.S)
    assert block, "the README's envscale view commands are missing"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_commands_write_the_page(tmp_path: Path) -> None:
    (tmp_path / "specs").symlink_to(ROOT / "specs")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    commands = view_commands()
    assert [c.split()[:2] for c in commands] == [["envscale", "generate"], ["envscale", "view"]]
    for command in commands:
        argv = shlex.split(command)
        done = subprocess.run(
            [sys.executable, "-m", "envscale", *argv[1:]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
    out = done.stdout
    page = tmp_path / "build" / "gen-view" / "view.html"
    assert out.startswith(f"wrote {page.relative_to(tmp_path)}: 10 trajectories")
    assert done.stderr == ""  # specs and tasks were found: nothing left out
    html = page.read_text("utf-8")
    assert '"domains":["retail","telecom"]' in html
