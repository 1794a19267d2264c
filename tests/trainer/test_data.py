from envscale.records import Trajectory
from envscale.trainer.data import split_eval


def _traj(task: str, trial: int, domain: str = "retail") -> Trajectory:
    return Trajectory(
        id=f"{task}.t{trial}",
        domain=domain,
        spec_hash="h",
        tools=[],
        messages=[],
        source="inline",
        task_id=task,
    )


def test_eval_split_keeps_the_trials_of_a_task_together():
    items = [_traj(f"task-{n}", trial) for n in range(20) for trial in range(3)]
    train, held = split_eval(items, 0.2, seed=0)
    assert len(train) + len(held) == len(items) and 12 <= len(held) <= 14
    assert not {t.task_id for t in train} & {t.task_id for t in held}
    assert split_eval(items, 0.2, seed=0) == (train, held)
    assert split_eval(items, 0.2, seed=1) != (train, held)


def test_eval_split_without_task_ids_uses_the_trajectory_ids():
    items = [
        Trajectory(
            id=f"t{n}", domain="retail", spec_hash="h", tools=[], messages=[], source="inline"
        )
        for n in range(10)
    ]
    train, held = split_eval(items, 0.3, seed=0)
    assert len(held) == 3 and [t for t in items if t not in held] == train
    one_task = [_traj("same", trial) for trial in range(4)]
    assert split_eval(one_task, 0.5, seed=0) == (one_task, [])


def test_loading_skips_a_torn_last_line(tmp_path):
    import json

    from envscale.trainer.data import load_trajectories

    line = {
        "id": "d-1.t0",
        "task_id": "d-1",
        "domain": "d",
        "spec_hash": "h",
        "tools": [],
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
        "filters": {"valid": True, "state": True, "exact": True},
    }
    path = tmp_path / "trajectories.jsonl"
    path.write_text(json.dumps(line) + "\n" + json.dumps(line)[:40])
    trajectories, infos = load_trajectories([str(path)], ["valid", "state", "exact"])
    assert len(trajectories) == 1 and infos[0].lines == 1
