"""`envscale generate` over a synthesised directory: only kept domains, one job per domain,
resumable, the same output whatever the number of workers, a broken domain reported while the
others run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from envscale.cli import main as envscale_main
from envscale.jobs.directory import DONE_FILE, SUMMARY_FILE, generate_directory, kept_domains
from envscale.jobs.generate import Job
from envscale.records import DomainEntry, Trajectory, read_jsonl

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "generate_directory_bench", ROOT / "benchmarks" / "generate_directory.py"
)
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

KEPT = [("clinic", "clinic_a"), ("airline", "airline_b"), ("delivery", "delivery_c")]


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def trajectories_of(path: Path) -> list[dict]:
    """The trajectories of a file as the OpenAI layout has them (preambles put back)."""
    return [t.to_dict() for t in read_jsonl(path, Trajectory)]


def synthesised(tmp_path: Path) -> Path:
    return bench.write_directory(tmp_path / "synth", KEPT, ["rejected_d"])


def test_kept_domains_only_and_in_index_order(tmp_path) -> None:
    directory = synthesised(tmp_path)
    out = tmp_path / "out"
    code = envscale_main(
        [
            "generate",
            str(directory),
            "--tasks-per-domain",
            "2",
            "--out",
            str(out),
            "--workers",
            "1",
            "-q",
        ]
    )
    assert code == 0
    trajectories = trajectories_of(out / "trajectories.jsonl")
    assert [t["domain"] for t in trajectories] == ["clinic_a"] * 2 + ["airline_b"] * 2 + [
        "delivery_c"
    ] * 2
    tasks = lines(out / "tasks.jsonl")
    assert [t["id"] for t in tasks] == [t["task_id"] for t in trajectories]
    assert all(set(t["filters"]) == {"valid", "state", "exact"} for t in trajectories)
    for _, name in KEPT:
        assert (out / "domains" / name / DONE_FILE).is_file()
    assert not (out / "domains" / "rejected_d").exists()
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert summary["domains"] == 3 and summary["rejected"] == 1
    assert [d["domain"] for d in summary["per_domain"]] == [n for _, n in KEPT]
    assert all(d["tasks"] == 2 for d in summary["per_domain"])


def test_resume_and_workers_give_the_same_bytes(tmp_path) -> None:
    directory = synthesised(tmp_path)
    one = Job([], tmp_path / "one", tasks=2, workers=1, progress=False)
    first = generate_directory(directory, one)
    assert first.skipped == 0 and first.ran == 6
    data = first.trajectories_path.read_bytes()
    again = generate_directory(directory, one)
    assert again.skipped == 3 and again.ran == 0
    assert again.trajectories_path.read_bytes() == data
    # A domain whose marker is gone resumes from its own folder: its episodes are all there.
    (tmp_path / "one" / "domains" / "airline_b" / DONE_FILE).unlink()
    resumed = generate_directory(directory, one)
    assert resumed.skipped == 2 and resumed.ran == 0
    assert resumed.trajectories_path.read_bytes() == data
    two = Job([], tmp_path / "two", tasks=2, workers=2, progress=False)
    assert generate_directory(directory, two).trajectories_path.read_bytes() == data


def test_a_broken_or_missing_domain_is_reported_and_the_others_run(tmp_path) -> None:
    directory = synthesised(tmp_path)
    spec = directory / "domains" / "airline_b.domain"
    spec.write_text(spec.read_text().replace('stands" {', 'stands" { x: Nope'))
    with (directory / "index.jsonl").open("a") as index:
        index.write(DomainEntry(name="gone", status="kept", spec="domains/gone.domain").to_json())
        index.write("\n")
    selection = kept_domains(directory)
    assert [d.name for d in selection.domains] == ["clinic_a", "airline_b", "delivery_c"]
    assert selection.unusable[0][0] == "gone" and "not found" in selection.unusable[0][1]
    result = generate_directory(directory, Job([], tmp_path / "out", tasks=1, progress=False))
    problems = result.problems()
    assert any(line.startswith("gone: not run: spec file not found") for line in problems)
    assert any(
        line.startswith("airline_b: failed: the spec has errors: ")
        and "[E102] unknown type 'Nope'" in line
        for line in problems
    )
    made = trajectories_of(result.trajectories_path)
    assert {t["domain"] for t in made} == {"clinic_a", "delivery_c"}
    assert not (tmp_path / "out" / "domains" / "airline_b" / DONE_FILE).exists()


def test_spec_files_and_a_directory_are_not_mixed(tmp_path, capsys) -> None:
    directory = synthesised(tmp_path)
    code = envscale_main(
        ["generate", str(directory), str(ROOT / "specs" / "clinic.domain"), "--out", str(tmp_path)]
    )
    assert code == 2
    assert "either spec files or one synthesised directory" in capsys.readouterr().err
