"""The demo: plays every shipped spec (on seed data or generated data), generates filtered
trajectories from them, and trains the tiny model in two phases."""

from __future__ import annotations

import json

from envscale import demo


def test_demo_plays_specs_and_generates_trajectories(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert demo.main(["--no-train"]) == 0
    out = capsys.readouterr().out
    for name in ("airline", "retail"):
        section = out.split(f"== {name}:")[1].split("\n== ")[0]
        assert "initial state from generated data (seed 7" in section
        assert "[ok ]" in section and "reset: state hash back to" in section
    assert "initial state from clinic.data.json" in out
    for group, domains in (("general", {"clinic", "retail"}), ("vertical", {"airline"})):
        lines = [
            json.loads(line)
            for line in (tmp_path / "build/demo" / group / "trajectories.jsonl").open()
        ]
        assert {line["domain"] for line in lines} == domains
        assert len(lines) == demo.TASKS_PER_SPEC * len(domains)
        assert all(set(line["filters"]) == {"valid", "state", "exact"} for line in lines)


def test_demo_training_config_is_valid() -> None:
    from envscale.trainer.config import load_config

    config = load_config(demo.TRAINING)
    assert [p.name for p in config.phases] == ["general", "vertical"]
    assert config.phases[1].replay > 0
