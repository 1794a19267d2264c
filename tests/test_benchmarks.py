"""Every benchmark runs in its quick mode and prints its comparison, so none of them rots.
No timing is asserted: these machines are shared and noisy."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--quick", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )


def test_runtime_benchmark() -> None:
    done = run("runtime.py")
    assert done.returncode == 0, done.stderr
    assert "growth 1x -> 100x" in done.stdout and "retail.domain" in done.stdout
    assert "parse" in done.stdout and "tools.py" in done.stdout  # the per-stage table


def test_generate_benchmark() -> None:
    done = run("generate.py")
    assert done.returncode == 0, done.stderr
    assert "kept/s/core" in done.stdout and "peak memory" in done.stdout


@pytest.mark.skipif(not (SHARED / "conformance" / "taubench").is_dir(), reason="no ../shared")
def test_taubench_replay_benchmark() -> None:
    done = run("taubench_replay.py", "--shared", str(SHARED))
    assert done.returncode == 0, done.stderr
    assert "reload+hash" in done.stdout and "airline" in done.stdout
    # tau-bench's own tools timed in the same run, and a median per tool beside ours.
    assert "retail: median call per tool" in done.stdout
    assert "modify_pending_order_items" in done.stdout and "reference" in done.stdout


@pytest.mark.skipif(not (SHARED / "conformance" / "taubench").is_dir(), reason="no ../shared")
def test_callwork_benchmark() -> None:
    done = run("callwork.py", "--shared", str(SHARED))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    every = [line.split() for line in lines if "(every call)" in line]
    assert [row[0] for row in every] == ["retail", "airline"]
    # Calls were counted: each domain's calls do Python work and read the database.
    assert all(int(row[3]) > 0 and float(row[4]) > 0 and float(row[5]) > 0 for row in every)


@pytest.mark.skipif(not (SHARED / "conformance" / "tau2").is_dir(), reason="no ../shared")
def test_tau2_replay_benchmark() -> None:
    done = run("tau2_replay.py", "--shared", str(SHARED))
    assert done.returncode == 0, done.stderr
    assert "reload+hash" in done.stdout and "airline" in done.stdout and "telecom" in done.stdout
    assert "final_db_hash: 0/" not in done.stdout


def test_train_throughput_benchmark() -> None:
    pytest.importorskip("torch")
    done = run("train_throughput.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "envscale" in done.stdout and "supervised tok/s" in done.stdout
    try:
        import trl  # noqa: F401
    except ImportError:
        assert "TRL is not installed" in done.stderr
    else:
        assert "throughput ratio envscale/TRL" in done.stdout


def test_fuzz_semantics_benchmark() -> None:
    done = run("fuzz.py", "--only", "semantics")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "semantics.expressions" in done.stdout and "total expressions: 300" in done.stdout
    assert "problems: 0 " in done.stdout


def test_fuzz_benchmark_spectext() -> None:
    done = run("fuzz.py", "--only", "spectext")
    assert done.returncode == 0, done.stdout + done.stderr
    for attack in ("spectext.bytes", "spectext.tokens", "spectext.structure"):
        assert attack in done.stdout
    assert "total specs: 300" in done.stdout and "problems: 0" in done.stdout


@pytest.mark.parametrize("only", ["calls", "endpoints"])
def test_fuzz_benchmark(only: str) -> None:
    done = run("fuzz.py", "--only", only)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "problems: 0" in done.stdout and f"{only}." in done.stdout
    assert f"total {'calls' if only == 'calls' else 'episodes'}:" in done.stdout
    assert ("endpoints." in done.stdout) == (only == "endpoints")


# Each of these specs is compiled, run or formatted whole, at a second or more apiece: a few
# dozen show the benchmark works (tests/dsl/test_format.py and tests/fuzz/test_oddspecs.py
# check the properties on more).
SPECS = "40"


def test_fuzz_benchmark_formats_specs_in_random_layouts() -> None:
    # half generated specs, half slices of each shipped one in turn, half of all re-laid out
    done = run("fuzz.py", "--only", "layout", "--specs", SPECS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "layout.fmt" in done.stdout and f"total specs: {SPECS}" in done.stdout
    assert "problems: 0" in done.stdout


def test_fuzz_benchmark_runs_the_generated_specs() -> None:
    done = run("fuzz.py", "--only", "oddspecs", "--specs", SPECS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "oddspecs" in done.stdout and f"total specs: {SPECS}" in done.stdout
    assert "problems: 0" in done.stdout


@pytest.mark.skipif(not (SHARED / "conformance" / "taubench").is_dir(), reason="no ../shared")
def test_toolgraph_benchmark() -> None:
    done = run("toolgraph.py", "--shared", str(SHARED))
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[1:]}
    assert {"clinic", "retail", "airline"} <= set(rows)
    # Retail keeps 53%: lookup chains, and order-write pairs alike in values and states.
    for name, row in rows.items():
        assert int(row[3]) <= int(row[1]) * 0.55, row
        if name != "retail":
            assert int(row[3]) <= int(row[1]) / 2, row  # at most half the name-typed edges
    assert sum(int(r[3]) for r in rows.values()) <= sum(int(r[1]) for r in rows.values()) / 2
    for name in ("retail", "airline"):
        # "old/N / new/N; old/M / new/M": all gold pairs, then those the user did not state.
        for column in (7, 10):
            got, total = rows[name][column].rstrip(";").split("/")
            assert got == total and int(total) > 0, rows[name]


@pytest.mark.skipif(not (SHARED / "conformance" / "taubench").is_dir(), reason="no ../shared")
def test_toolgraph_benchmark_says_what_each_missed_gold_pair_carries() -> None:
    done = run("toolgraph.py", "--why", "--shared", str(SHARED))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    retail = next(line for line in lines if line.startswith("retail "))
    missing = retail.split("missing now: ")[1].split(", ") if "missing now: " in retail else []
    for pair in missing:
        source, target = pair.split(" (")[0].split("->")
        at = lines.index(next(x for x in lines if x.startswith(f"  {source} -> {target}")))
        # a line per carried argument: `.payment_method_id <- .payment_history[]...: 3 values`
        assert " <- " in lines[at + 1] and " stated" in lines[at + 1], lines[at : at + 2]


def test_task_coverage_benchmark() -> None:
    done = run("task_coverage.py")
    assert done.returncode == 0, done.stderr
    assert "clinic.domain" in done.stdout and "tools covered" in done.stdout
    assert "with a description: 0" in done.stdout
    shown = run("task_coverage.py", "--seed", "3", "--show", "2")
    assert shown.returncode == 0, shown.stderr
    assert "instructions reading as a form (' - ' list or 'key: value'): 0" in shown.stdout
    assert sum(line.startswith("    I") for line in shown.stdout.splitlines()) == 2


def test_datagen_benchmark() -> None:
    done = run("datagen.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "delivery.domain  size 8" in done.stdout and "asked    8  made    8" in done.stdout
    assert "datagen: every entity made as asked" in done.stdout


def test_datagen_benchmark_shows_records_and_takes_one_entitys_count() -> None:
    done = run("datagen.py", "--spec", "delivery", "--count", "Order=24", "--show", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "delivery.domain  size 8, Order 24" in done.stdout
    assert "  Order            asked   24  made   24" in lines
    assert any(line.startswith("  statuses of Order.status: ") for line in lines)
    shown = [line for line in lines if line.startswith("  Order {")]
    assert len(shown) == 2 and all(json.loads(line[len("  Order ") :]) for line in shown)


def test_generate_directory_benchmark() -> None:
    done = run("generate_directory.py")
    assert done.returncode == 0, done.stderr
    assert "4 domains in" in done.stdout and "resumed run skipped 4" in done.stdout
    assert "largest worker" in done.stdout


@pytest.mark.skipif(not (SHARED / "apis" / "apis.jsonl.gz").exists(), reason="no ../shared")
def test_synth_specs_benchmark() -> None:
    done = run("synth_specs.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "checks and compiles: " in done.stdout and "passes basic verification" in done.stdout
    assert "failures by reason" in done.stdout


@pytest.mark.skipif(not (SHARED / "apis" / "apis.jsonl.gz").exists(), reason="no ../shared")
def test_synth_benchmark() -> None:
    done = run("synth.py", "--apis", str(SHARED / "apis" / "apis.jsonl.gz"), "--show", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    for stage in ("ingest", "vectorise", "graph", "partition"):
        assert f"\n{stage} " in done.stdout
    assert "purity against source groups" in done.stdout and "NMI" in done.stdout
    assert "graph stage (vectorise + graph) by collection size" in done.stdout
    # The domains stage: drafted and verified communities, and what became of them.
    assert "\ndomains " in done.stdout and "kept of 16 communities" in done.stdout
    for line in ("kept after verification:", "per kept domain", "chain lengths reached"):
        assert line in done.stdout, done.stdout
    assert "  draft   seconds" in done.stdout and "  verify  seconds" in done.stdout


def test_dialogues_benchmark() -> None:
    done = run("dialogues.py")
    assert done.returncode == 0, done.stdout + done.stderr  # 1: a failed call trained on
    header, row = done.stdout.splitlines()[:2]
    assert "wrong_record" in header and "user says it early" in header
    domain, episodes, kept = row.split()[:3]
    assert (domain, episodes, kept) == ("clinic", "20", "20")  # every episode kept


def test_learning_benchmark(tmp_path) -> None:
    pytest.importorskip("torch")
    done = run("learning.py", "--scaling", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    for arm in ("untrained", "vertical only", "general then vertical", "general only"):
        assert arm in done.stdout
    assert "vertical pass^1" in done.stdout and "general pass^2" in done.stdout
    assert "training domains -> held-out domains pass^1" in done.stdout
    record = json.loads((tmp_path / "learning.json").read_text())
    assert set(record["arms"]) == {
        "untrained",
        "vertical only",
        "general then vertical",
        "general only",
    }
    assert not set(record["held_out_domains"]) & set(record["general_domains"])
    for seeds in record["arms"].values():
        for scores in seeds:
            assert set(scores) == {"vertical", "general"}
            assert set(scores["vertical"]["pass^k"]) == {"1", "2"}
    assert record["scaling"] and (tmp_path / "learning.png").exists()
    # A rerun with another seed trains only that seed; the first one's result is kept.
    again = run("learning.py", "--seeds", "2", "--arms", "vertical only", "--out", str(tmp_path))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "seed 0 vertical only: kept from an earlier run" in again.stdout
    assert "seed 1 vertical only: teacher-forced" in again.stdout
    kept = json.loads((tmp_path / "learning.json").read_text())["arms"]["vertical only"]
    assert kept[0] == record["arms"]["vertical only"][0] and len(kept) == 2


def test_a_learning_unit_is_known_by_its_files_contents_not_their_place(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("learning", ROOT / "benchmarks" / "learning.py")
    learning = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "learning", learning)  # its dataclasses look it up
    spec.loader.exec_module(learning)
    keys = []
    for place, text in (("a", "one"), ("b", "one"), ("c", "two")):
        folder = tmp_path / place
        folder.mkdir()
        (folder / "clinic.domain").write_text("domain clinic")
        (folder / "compact.jsonl").write_text(text)
        phases = [learning.phase("vertical", [folder / "compact.jsonl"], 4, learning.QUICK)]
        unit = learning.Unit(
            "vertical only",
            0,
            phases,
            folder,
            folder / "arm",
            {"vertical": ([folder / "clinic.domain"], [])},
            learning.QUICK,
            1,
        )
        keys.append(learning.unit_key(unit))
    assert keys[0] == keys[1] and keys[0] != keys[2]
