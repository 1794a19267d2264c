"""`envscale eval` against an endpoint nobody listens on stops at once with the URL and the
error, exit 2, and leaves nothing behind that would refuse the corrected command."""

from __future__ import annotations

import json
import socket

import pytest

from envscale import jsonl
from envscale.cli import main as envscale_main
from tests.rollout.episode_fixtures import CLINIC, clinic_tasks


def closed_port() -> int:
    """A localhost port that was free a moment ago and that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("retries", ["0", "4"])
def test_eval_stops_when_the_endpoint_cannot_be_reached(tmp_path, capsys, retries):
    tasks_file = tmp_path / "tasks.jsonl"
    jsonl.write_atomic(tasks_file, (t.to_dict() for t in clinic_tasks()))
    out = tmp_path / "eval"
    url = f"http://127.0.0.1:{closed_port()}/v1"
    common = ["eval", str(CLINIC), "--tasks", str(tasks_file), "--trials", "2"]
    common += ["--out", str(out), "--workers", "1", "-q"]
    code = envscale_main(
        [*common, "--agent", "openai", "--agent-base-url", url, "--retries", retries]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert f"cannot reach {url}/chat/completions" in err and "ConnectionRefusedError" in err
    assert len(err.strip().splitlines()) == 1  # one line, no traceback
    assert not out.exists()  # no job description, no empty files
    # The corrected command (here: another agent, which a leftover job.json would refuse) runs.
    assert envscale_main(common) == 0
    assert json.loads((out / "eval.json").read_text())["episodes"] == 2 * len(clinic_tasks())
