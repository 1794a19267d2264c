"""The README's "RL environments" section runs as shown, its GRPO run included, and does what
it says: the gold chain earns the reward, GRPOTrainer's rewards come from the environments."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest

from envscale.records import TrajectoryReader

README = Path(__file__).resolve().parents[2] / "README.md"


def section_code() -> list[str]:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## RL environments\n(.*?)^## ", text, re.S | re.M)
    assert match, "the README has no RL environments section"
    blocks = re.findall(r"^( *)```python\n(.*?)^\1```", match.group(1), re.S | re.M)
    assert len(blocks) == 3
    return [textwrap.dedent(code) for _indent, code in blocks]


def test_the_readme_section_runs_as_shown(tmp_path, monkeypatch, capsys) -> None:
    pytest.importorskip("trl")
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    (tmp_path / "specs").symlink_to(README.parent / "specs")
    monkeypatch.chdir(tmp_path)
    core, grpo, others = section_code()
    space: dict = {}
    exec(compile(core, "README.md", "exec"), space)
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1] == "1.0 {'valid': True, 'state': True, 'exact': True}"
    assert printed[0] == space["env"].messages[1]["content"]
    [written] = TrajectoryReader().read(tmp_path / "build" / "rl" / "trajectories.jsonl")
    assert written.reward == 1.0 and written.task_id == space["task"].id

    exec(compile(grpo, "README.md", "exec"), space)
    trainer = space["trainer"]
    assert trainer.state.global_step == 1
    ids = {t.id for t in space["tasks"]}
    verdicts = []
    for env in trainer.environments:
        assert env.episode.task.id in ids and env.episode.verdict is not None
        verdicts.append(env.episode.verdict.reward)
    [logged] = [h for h in trainer.state.log_history if "rewards/verified_reward/mean" in h]
    assert logged["rewards/verified_reward/mean"] == pytest.approx(sum(verdicts) / len(verdicts))

    exec(compile(others, "README.md", "exec"), space)
    assert space["opening"] and space["info"]["task_id"] in ids
    assert space["seen"].source == "tool" and '"P001"' in space["seen"].text
    assert {route.path for route in space["app"].routes} >= {"/reset", "/step", "/ws"}
