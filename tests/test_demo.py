"""The demo: plays every shipped spec (on seed data or generated data), synthesises domains from
the shipped tool collection, generates filtered trajectories (the synthesised domains as the
general phase, shipped specs as the vertical one), and trains the tiny model in two phases."""

from __future__ import annotations

import json

import pytest

from envscale import demo
from envscale.records import Trajectory, read_jsonl


def trajectories_of(path) -> list[dict]:
    return [t.to_dict() for t in read_jsonl(path, Trajectory)]


def test_demo_plays_specs_synthesises_and_generates_trajectories(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert demo.main(["--no-train"]) == 0
    out = capsys.readouterr().out
    for name in ("airline", "retail"):
        section = out.split(f"== {name}:")[1].split("\n== ")[0]
        assert "initial state from generated data (seed 7" in section
        assert "[ok ]" in section and "reset: state hash back to" in section
    assert "initial state from clinic.data.json" in out
    synthesis = out.split("== synthesise domains from examples/apis/demo.jsonl")[1]
    synthesis = synthesis.split("\n== ")[0]
    assert "34 tools ->" in synthesis and "[kept]" in synthesis
    index = [json.loads(line) for line in (tmp_path / "build/demo/synth/index.jsonl").open()]
    kept = {e["name"] for e in index if e["status"] == "kept"}
    assert len(kept) >= 3
    for entry in index:  # every domain is accounted for in what the demo prints
        assert f"[{entry['status']}] {entry['name']}" in synthesis
    general = trajectories_of(tmp_path / "build/demo/general/trajectories.jsonl")
    assert {line["domain"] for line in general} == kept
    for name in kept:
        made = sum(1 for line in general if line["domain"] == name)
        assert 0 < made <= demo.TASKS_PER_DOMAIN
    vertical = trajectories_of(tmp_path / "build/demo/vertical/trajectories.jsonl")
    assert {line["domain"] for line in vertical} == set(demo.VERTICAL)
    assert len(vertical) == demo.TASKS_PER_SPEC * len(demo.VERTICAL)
    for line in general + vertical:
        assert set(line["filters"]) == {"valid", "state", "exact"}


def test_demo_training_config_is_valid() -> None:
    from envscale.trainer.config import load_config

    config = load_config(demo.TRAINING)
    assert [p.name for p in config.phases] == ["general", "vertical"]
    assert config.phases[1].replay > 0


def test_demo_compares_untrained_and_trained_models_on_held_out_tasks(
    tmp_path, monkeypatch, capsys
):
    pytest.importorskip("torch")
    from envscale.cli import main as envscale
    from envscale.trainer.tiny import tiny_model_path

    monkeypatch.setattr(demo, "HELD_OUT_TASKS", 1)
    monkeypatch.setattr(demo, "EVAL_TURNS", 2)
    monkeypatch.setattr(demo, "EVAL_TOKENS", 8)
    build = tmp_path / "build"
    spec = str(demo.SPECS / "clinic.domain")
    args = ["generate", spec, "--tasks", "3", "--seed", "1", "--workers", "1", "-q"]
    assert envscale([*args, "--out", str(build / "demo" / "vertical")]) == 0
    capsys.readouterr()
    # The untrained model stands in for a trained one: what is tested is the comparison.
    rates = demo.evaluate_models(build, str(tiny_model_path()))
    out = capsys.readouterr().out
    assert set(rates) == {"untrained", "trained"}
    assert "untrained pass^1" in out and "trained   pass^1" in out
    held = [json.loads(line) for line in (build / "demo" / "heldout" / "tasks.jsonl").open()]
    training = [json.loads(line) for line in (build / "demo" / "vertical" / "tasks.jsonl").open()]
    assert len(held) == 1
    assert held[0]["gold_calls"] not in [t["gold_calls"] for t in training]
    report = json.loads((build / "demo" / "eval-trained" / "eval.json").read_text())
    assert report["episodes"] == 1
