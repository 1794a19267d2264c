"""The generation job: output files, determinism, resume after SIGKILL, executors, errors."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from envscale import jsonl, records
from envscale.cli import main as envscale_main
from envscale.jobs.executors import WorkerSetup, run_inline
from envscale.jobs.generate import JOB_FILE, Job, JobError, load_domains, run_tasks
from envscale.records import Task, Trajectory
from envscale.rollout.dialogue import BackendConfig
from tests.rollout.episode_fixtures import CLINIC, ROOT, clinic_tasks

AIRLINE = ROOT / "specs" / "airline.domain"
RETAIL = ROOT / "specs" / "retail.domain"


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def trajectories_of(path: Path) -> list[dict]:
    """The trajectories of a file as the OpenAI layout has them (preambles put back)."""
    return [t.to_dict() for t in records.read_jsonl(path, Trajectory)]


def test_generate_writes_tasks_and_trajectories(tmp_path, capsys):
    out = tmp_path / "gen"
    assert (
        envscale_main(
            [
                "generate",
                str(AIRLINE),
                str(RETAIL),
                "--tasks",
                "12",
                "--seed",
                "3",
                "--out",
                str(out),
                "--workers",
                "1",
            ]
        )
        == 0
    )
    printed = capsys.readouterr()
    assert "+exact=kept" in printed.out and "total" in printed.out
    assert "episodes" in printed.err  # the progress bar
    assert "warning" not in printed.err and "fewer than asked" not in printed.out
    tasks = lines(out / "tasks.jsonl")
    trajectories = trajectories_of(out / "trajectories.jsonl")
    assert len(tasks) == len(trajectories) == 24
    assert [t["task_id"] for t in trajectories] == [t["id"] for t in tasks]
    for t in trajectories:
        assert t["filters"] == {"valid": True, "state": True, "exact": True}, t["meta"]["failure"]
        assert t["meta"]["seed"] == 3 and t["meta"]["agent"] == "scripted" and t["spec_hash"]
    job = json.loads((out / JOB_FILE).read_text())
    assert [s["domain"] for s in job["specs"]] == ["airline", "retail"]
    # The same command again finds nothing left to do and changes nothing.
    before = (out / "trajectories.jsonl").read_bytes()
    assert (
        envscale_main(
            [
                "generate",
                str(AIRLINE),
                str(RETAIL),
                "--tasks",
                "12",
                "--seed",
                "3",
                "--out",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    assert (out / "trajectories.jsonl").read_bytes() == before
    # Another seed in the same folder is another job.
    assert (
        envscale_main(
            [
                "generate",
                str(AIRLINE),
                str(RETAIL),
                "--tasks",
                "12",
                "--seed",
                "4",
                "--out",
                str(out),
                "-q",
            ]
        )
        == 2
    )
    assert "holds another job" in capsys.readouterr().err


def test_a_job_resumes_with_its_specs_found_in_another_place(tmp_path, capsys):
    out = tmp_path / "job"
    args = ["--tasks", "3", "--workers", "1", "--out", str(out), "-q"]
    assert envscale_main(["generate", str(CLINIC), *args]) == 0
    before = (out / "trajectories.jsonl").read_bytes()
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    for file in CLINIC.parent.glob("clinic.*"):
        (moved / file.name).write_bytes(file.read_bytes())
    assert envscale_main(["generate", str(moved / CLINIC.name), *args]) == 0
    assert (out / "trajectories.jsonl").read_bytes() == before
    # Another spec under the same name is another job.
    changed = moved / CLINIC.name
    changed.write_text(changed.read_text().replace("tool ", "tool extra_", 1))
    assert envscale_main(["generate", str(changed), *args]) == 2
    assert "holds another job (it differs in: specs)" in capsys.readouterr().err


def test_fewer_trajectories_than_asked_is_a_warning_with_the_reasons(tmp_path, capsys):
    out = tmp_path / "short"
    # Six agent turns are too few for the longer chains: those episodes hit the turn limit.
    args = ["generate", str(CLINIC), "--tasks", "8", "--max-turns", "6", "--workers", "1"]
    assert envscale_main([*args, "--out", str(out)]) == 0
    printed = capsys.readouterr()
    trajectories = trajectories_of(out / "trajectories.jsonl")
    kept = sum(all(t["filters"].values()) for t in trajectories)
    invalid = sum(not t["filters"]["valid"] for t in trajectories)
    assert 0 < kept < 8 and invalid == 8 - kept
    why = f"clinic: {kept} of 8 trajectories kept: {invalid} failed validity"
    assert f"warning: {why}" in printed.err
    assert f"fewer than asked: {why}" in printed.out  # in the run summary too
    assert f"{invalid} × turn_limit: no end after N agent turns" in printed.err


def test_same_seed_same_bytes_with_any_worker_count(tmp_path):
    tasks = clinic_tasks(24)
    outputs = []
    for workers in (1, 3):
        job = Job(
            [str(CLINIC)],
            tmp_path / f"w{workers}",
            workers=workers,
            trials=2,
            seed=9,
            chunk_size=4,
            progress=False,
        )
        run_tasks(job, tasks)
        outputs.append((tmp_path / f"w{workers}" / "trajectories.jsonl").read_bytes())
    assert outputs[0] == outputs[1]
    assert len(outputs[0].splitlines()) == 1 + 48  # the domain's preamble, then trajectories


def test_an_inline_job_gives_the_collector_back_as_it_found_it(tmp_path):
    # The objects set aside from the cyclic collector during the episodes are returned to
    # it afterwards, even when the job stops early: nothing stays uncollectable.
    frozen = gc.get_freeze_count()
    run_tasks(Job([str(CLINIC)], tmp_path / "a", seed=1, progress=False), clinic_tasks(3))
    assert gc.get_freeze_count() == frozen
    files = tuple(sorted(load_domains([str(CLINIC)])[0].files.items()))
    scripted = BackendConfig("scripted")
    setup = WorkerSetup((("0", str(CLINIC), files),), scripted, scripted, seed=0, max_steps=30)
    results = run_inline(setup, [[], []])
    next(results)  # stopped after its first chunk, as a job stopped by an error is
    assert gc.get_freeze_count() > frozen
    results.close()
    assert gc.get_freeze_count() == frozen


def test_torn_tail_is_cut_and_the_episode_rerun(tmp_path):
    tasks = clinic_tasks(6)
    job = Job([str(CLINIC)], tmp_path / "a", seed=1, progress=False)
    run_tasks(job, tasks)
    full = (tmp_path / "a" / "trajectories.jsonl").read_bytes()
    kept = b"".join(full.splitlines(keepends=True)[:4])  # the preamble and 3 trajectories
    (tmp_path / "a" / "trajectories.jsonl").write_bytes(
        kept + full.splitlines(keepends=True)[4][:50]
    )
    result = run_tasks(Job([str(CLINIC)], tmp_path / "a", seed=1, progress=False), tasks)
    assert result.ran == 3
    assert (tmp_path / "a" / "trajectories.jsonl").read_bytes() == full


def test_a_job_killed_after_its_preamble_resumes_without_writing_it_again(tmp_path):
    tasks = clinic_tasks(4)
    run_tasks(Job([str(CLINIC)], tmp_path / "a", seed=1, progress=False), tasks)
    path = tmp_path / "a" / "trajectories.jsonl"
    full = path.read_bytes()
    preamble = full.splitlines(keepends=True)[0]
    assert json.loads(preamble)["kind"] == "preamble"
    path.write_bytes(preamble + full.splitlines(keepends=True)[1][:80])
    result = run_tasks(Job([str(CLINIC)], tmp_path / "a", seed=1, progress=False), tasks)
    assert result.ran == 4 and path.read_bytes() == full
    assert [t.id for t in records.load_jsonl(path, Trajectory)] == [f"{t.id}.t0" for t in tasks]


def test_repair_keeps_whole_lines_only(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": 2}\n{"c": ')
    assert jsonl.repair(path) == len(b'{"c": ')
    assert path.read_bytes() == b'{"a": 1}\n{"b": 2}\n'
    path.write_bytes(b'{"a": 1}\nnot json\n')
    jsonl.repair(path)
    assert path.read_bytes() == b'{"a": 1}\n'


TRIALS = 150


def _eval_command(tasks_file: Path, out: Path, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "envscale",
        "eval",
        str(CLINIC),
        "--tasks",
        str(tasks_file),
        "--trials",
        str(TRIALS),
        "--seed",
        "2",
        "--out",
        str(out),
        "--workers",
        str(workers),
        "-q",
    ]


def test_resume_after_sigkill_loses_nothing_written(tmp_path):
    tasks_file = tmp_path / "tasks.jsonl"
    jsonl.write_atomic(tasks_file, (t.to_dict() for t in clinic_tasks()))
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        _eval_command(tasks_file, out, 2),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    path = out / "trajectories.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if path.exists() and path.stat().st_size > 50_000:
            break
        time.sleep(0.005)
    assert process.poll() is None, "the job ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    data = path.read_bytes()
    # A kill that lands inside a write can leave the last line unfinished (the kernel may stop a
    # multi-page write between pages); every finished line is whole, and the resume cuts the rest.
    data = data[: data.rfind(b"\n") + 1]
    partial = data.splitlines()
    assert all(json.loads(line) for line in partial)
    assert 0 < len(partial) < 6 * TRIALS
    subprocess.run(
        _eval_command(tasks_file, out, 1), cwd=ROOT, env=env, check=True, capture_output=True
    )
    reference = tmp_path / "straight"
    run_tasks(
        Job([str(CLINIC)], reference, seed=2, trials=TRIALS, progress=False),
        records.load_jsonl(tasks_file, Task),
    )
    assert path.read_bytes() == (reference / "trajectories.jsonl").read_bytes()
    assert path.read_bytes().startswith(data)


class Failing(BaseHTTPRequestHandler):
    """An endpoint that is up and fails every request."""

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def failing_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_backend_errors_lose_episodes_not_the_job(tmp_path, failing_url):
    dead = BackendConfig("openai", model="m", base_url=failing_url, retries=0, timeout=2)
    tasks = clinic_tasks(3)
    result = run_tasks(Job([str(CLINIC)], tmp_path / "e", agent=dead, progress=False), tasks)
    assert result.counts["clinic"].errors == 3 and result.counts["clinic"].episodes == 0
    errors = lines(tmp_path / "e" / "errors.jsonl")
    assert [e["id"] for e in errors] == [f"{t.id}.t0" for t in tasks]
    assert "HTTP 500" in errors[0]["error"]
    assert (tmp_path / "e" / "trajectories.jsonl").read_bytes() == b""
    # A rerun retries them; the errors file then holds that run's failures only.
    run_tasks(Job([str(CLINIC)], tmp_path / "e", agent=dead, progress=False), tasks)
    assert [e["id"] for e in lines(tmp_path / "e" / "errors.jsonl")] == [
        f"{t.id}.t0" for t in tasks
    ]


def test_generate_takes_the_seed_data_when_the_spec_has_some(tmp_path, capsys):
    out = tmp_path / "g"
    assert (
        envscale_main(
            [
                "generate",
                str(CLINIC),
                str(AIRLINE),
                "--tasks",
                "2",
                "--out",
                str(out),
                "--workers",
                "1",
                "-q",
            ]
        )
        == 0
    )
    states = [t["initial_state"] for t in lines(out / "tasks.jsonl")]
    assert states[:2] == [{"data": "clinic.data.json"}] * 2
    assert states[2:] == [{"generated": {"seed": 0, "size": 20}}] * 2
    assert (
        envscale_main(
            ["generate", str(AIRLINE), "--data", "file", "--out", str(tmp_path / "f"), "-q"]
        )
        == 2
    )
    assert "no seed data" in capsys.readouterr().err


def test_unknown_domain_is_an_error(tmp_path):
    task = clinic_tasks(1)[0].model_copy(update={"domain": "bakery", "spec_hash": "x"})
    with pytest.raises(JobError, match="bakery"):
        run_tasks(Job([str(CLINIC)], tmp_path / "u", progress=False), [task])


def test_ray_executor_gives_the_same_trajectories(tmp_path):
    pytest.importorskip("ray", reason="ray is not installed (pip install 'envscale[ray]')")
    tasks = clinic_tasks(12)
    local = Job([str(CLINIC)], tmp_path / "local", seed=4, chunk_size=3, progress=False)
    run_tasks(local, tasks)
    ray_job = Job(
        [str(CLINIC)],
        tmp_path / "ray",
        seed=4,
        chunk_size=3,
        workers=2,
        executor="ray",
        progress=False,
    )
    result = run_tasks(ray_job, tasks)
    assert result.ran == 12
    assert (tmp_path / "ray" / "trajectories.jsonl").read_bytes() == (
        tmp_path / "local" / "trajectories.jsonl"
    ).read_bytes()


def test_generate_spreads_tasks_over_generated_states(tmp_path):
    out = tmp_path / "s"
    argv = ["generate", str(CLINIC), "--tasks", "3", "--states", "3", "--max-length", "2"]
    assert (
        envscale_main([*argv, "--data-seed", "4", "--out", str(out), "--workers", "1", "-q"]) == 0
    )
    states = [t["initial_state"] for t in lines(out / "tasks.jsonl")]
    assert states == [{"generated": {"seed": s, "size": 20}} for s in (4, 5, 6)]
    assert len(lines(out / "trajectories.jsonl")) >= 3
    described = json.loads((out / JOB_FILE).read_text())["tasks"]["initial_states"]
    assert described == [states]
