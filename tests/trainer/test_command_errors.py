"""`envscale train` on a configuration it cannot use: one line on stderr and exit 2, never a
traceback; the end of every run is a summary; `--resume` on a finished run says so."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from envscale import demo
from envscale.cli import main as envscale

from .helpers import ROOT, tiny_config, to_toml


def one_line_error(capsys, *args: str) -> str:
    assert envscale(["train", *args]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err + captured.out
    return lines[0]


@pytest.fixture
def config(tmp_path, trajectories) -> Path:
    path = tmp_path / "train.toml"
    path.write_text(to_toml(tiny_config(tmp_path / "run", trajectories)))
    return path


def test_a_missing_config(capsys, tmp_path):
    assert "no such configuration file" in one_line_error(capsys, str(tmp_path / "none.toml"))


def test_a_toml_error(capsys, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('output_dir = "x"\n[model\nbase = "tiny"\n')
    line = one_line_error(capsys, str(path))
    assert f"{path}: not valid TOML" in line and "line 2" in line


def test_an_unknown_key_names_the_nearest_one(capsys, config):
    text = config.read_text().replace("lr = ", "lrr = ", 1)
    config.write_text(text)
    line = one_line_error(capsys, str(config))
    assert "unknown key 'phases.general.lrr'; did you mean 'lr'?" in line
    config.write_text(text.replace("lrr = ", "lr = ").replace("[training]", "[trainig]"))
    assert "unknown key 'trainig'; did you mean 'training'?" in one_line_error(capsys, str(config))


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ("lr", "give KEY=VALUE"),
        ("=3", "give KEY=VALUE"),
        ("phases.nosuch.lr=1", "no phase 'nosuch' (the phases are general, vertical)"),
        ("phases.general.lrr=1", "did you mean 'lr'?"),
        ("phases.general.lr=fast", "phases.general.lr: Input should be a valid number"),
        ("phases.lr=1", "name a phase's key"),
    ],
)
def test_a_malformed_set(capsys, config, setting, said):
    assert said in one_line_error(capsys, str(config), "--set", setting)


def test_a_data_glob_that_matches_nothing(capsys, config, tmp_path):
    line = one_line_error(
        capsys, str(config), "--set", f'phases.general.data=["{tmp_path}/no/*.jsonl"]'
    )
    assert f"no trajectory file matches '{tmp_path}/no/*.jsonl'" in line
    assert not (tmp_path / "run").exists()  # a run that cannot start writes nothing


@pytest.mark.parametrize("model", ["./no/such/model", "/no/such/dir"])
def test_a_model_path_that_does_not_exist(capsys, config, model):
    line = one_line_error(capsys, str(config), "--model", model)
    assert f"model.base '{model}': no such directory" in line


def test_a_run_ends_with_its_summary_and_a_resume_says_it_is_done(capsys, config, tmp_path):
    assert envscale(["train", str(config), "--set", "phases.general.max_length=400"]) == 0
    out = capsys.readouterr().out
    summary = out[out.index("trained 8 steps in 2 phase(s):") :]
    assert "general: 4 steps" in summary and "vertical: 4 steps" in summary
    assert "supervised of" in summary and "train loss" in summary and "eval loss" in summary
    assert f"model: {tmp_path / 'run' / 'final'}" in summary
    truncated = json.loads((tmp_path / "run" / "summary.json").read_text())["phases"][0]
    assert truncated["truncated"] > 0  # 400 tokens cut some example dialogues short
    assert f"{truncated['truncated']} samples cut to max_length=400" in out
    assert f"{truncated['truncated']} samples truncated" in summary
    again = ["train", str(config), "--set", "phases.general.max_length=400", "--resume"]
    assert envscale(again) == 0
    assert "holds a finished run (8 steps); nothing to resume" in capsys.readouterr().out


def test_the_demo_config_is_the_demos_run():
    with open(ROOT / "examples" / "demo.toml", "rb") as f:
        shipped = tomllib.load(f)
    shipped.setdefault("training", {})["progress"] = False  # the one difference, said there
    assert shipped == demo.TRAINING
