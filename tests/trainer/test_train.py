import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from envscale.trainer import train
from envscale.trainer.config import load_config
from envscale.trainer.metrics import read_metrics
from envscale.trainer.modeling import build_phase_model, phase_dir

from .helpers import ROOT, subprocess_env, tiny_config, to_toml


def weights(directory):
    return load_file(directory / "model.safetensors")


def assert_same_weights(a, b, atol):
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=atol, rtol=0, msg=name)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, trajectories):
    out = tmp_path_factory.mktemp("full")
    cfg = tiny_config(out, trajectories, eval_every=2, checkpoint_every=2)
    return cfg, train(cfg), out


def test_loss_falls(full_run):
    _, _, out = full_run
    records = read_metrics(out / "metrics.jsonl")
    general = [r["loss"] for r in records if r["phase"] == "general" and r["kind"] == "train"]
    evals = [r["loss"] for r in records if r["phase"] == "general" and r["kind"] == "eval"]
    assert len(general) == 4 and len(evals) == 2
    assert general[-1] < general[0] - 0.3
    assert evals[-1] < evals[0]


def test_outputs_and_summary(full_run):
    _, _, out = full_run
    assert (out / "loss.png").stat().st_size > 0
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["global_step"] == 8 and not on_disk["halted"]
    assert [p["name"] for p in on_disk["phases"]] == ["general", "vertical"]
    for phase in on_disk["phases"]:
        assert phase["steps"] == 4 and phase["supervised_tokens"] > 0
        assert phase["tokens"] > phase["supervised_tokens"]
        assert phase["final_eval_loss"] is not None
    assert on_disk["phases"][1]["replayed_samples"] > 0
    files = on_disk["data"][0]["files"]
    assert {f["path"].rsplit("/", 1)[-1] for f in files} == {
        "library.jsonl",
        "weather.jsonl",
        "calendar.jsonl",
    }
    assert all(len(f["sha256"]) == 64 and f["spec_hashes"] for f in files)


def test_phase_two_starts_from_phase_one(full_run):
    cfg, _, out = full_run
    config = load_config(cfg)
    start = build_phase_model(config, 1).state_dict()
    trained = weights(phase_dir(out, 0, "general"))
    base = build_phase_model(config, 0).state_dict()
    for name, value in trained.items():
        torch.testing.assert_close(start[name], value, atol=0, rtol=0)
    assert any(not torch.equal(base[n], trained[n]) for n in trained)


def test_merged_model_reloads_and_generates(full_run):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, _, out = full_run
    model = AutoModelForCausalLM.from_pretrained(out / "final")
    tok = AutoTokenizer.from_pretrained(out / "final")
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "Cancel order #W1"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    generated = model.generate(**prompt, max_new_tokens=8, do_sample=False)
    assert generated.shape[1] > prompt["input_ids"].shape[1]
    # The final model is the last phase's weights.
    assert_same_weights(weights(out / "final"), weights(phase_dir(out, 1, "vertical")), atol=0)


def lora_config(out, data, between="continue"):
    cfg = tiny_config(out, data, checkpoint_every=2)
    cfg["lora"] = {
        "rank": 4,
        "alpha": 8,
        "dropout": 0.1,
        "between_phases": between,
        "target_modules": ["q_proj", "v_proj", "up_proj"],
    }
    for phase in cfg["phases"]:
        phase["lr"] = 1e-2
    return cfg


def test_resume_after_interruptions_matches_an_uninterrupted_run(tmp_path, trajectories):
    whole = lora_config(tmp_path / "whole", trajectories)
    train(whole)
    pieces = lora_config(tmp_path / "pieces", trajectories)
    first = train(pieces, overrides=["training.halt_after_steps=3"])
    assert first["halted"] and first["global_step"] == 3
    second = train(pieces, resume=True, overrides=["training.halt_after_steps=3"])
    assert second["halted"] and second["global_step"] == 6  # across the phase boundary
    third = train(pieces, resume=True)
    assert not third["halted"] and third["global_step"] == 8
    assert_same_weights(
        weights(tmp_path / "whole" / "final"), weights(tmp_path / "pieces" / "final"), atol=1e-6
    )
    a = [r for r in read_metrics(tmp_path / "whole" / "metrics.jsonl") if r["kind"] == "train"]
    b = [r for r in read_metrics(tmp_path / "pieces" / "metrics.jsonl") if r["kind"] == "train"]
    assert [r["global_step"] for r in a] == [r["global_step"] for r in b] == list(range(1, 9))
    assert [r["loss"] for r in a] == pytest.approx([r["loss"] for r in b], abs=1e-6)


def test_lora_phase_two_continues_or_merges_phase_one(tmp_path, trajectories):
    from peft import PeftModel

    from envscale.trainer.modeling import load_base, trainable_state

    cfg = lora_config(tmp_path, trajectories, between="merge")
    for phase in cfg["phases"]:
        phase["steps"] = 2
    train(cfg, overrides=["training.merge_final=false"])
    config = load_config(cfg)
    adapter_dir = phase_dir(tmp_path, 0, "general")
    merged = (
        PeftModel.from_pretrained(load_base(config.model), adapter_dir)
        .merge_and_unload()
        .state_dict()
    )
    start = build_phase_model(config, 1)
    base_of_start = start.get_base_model().state_dict()
    for name, value in merged.items():
        module, _, leaf = name.rpartition(".")
        key = name if name in base_of_start else f"{module}.base_layer.{leaf}"
        torch.testing.assert_close(base_of_start[key], value, atol=0, rtol=0)
    assert all(v.abs().sum() == 0 for n, v in trainable_state(start).items() if "lora_B" in n)

    continued = build_phase_model(
        load_config({**cfg, "lora": {**cfg["lora"], "between_phases": "continue"}}), 1
    )
    saved = load_file(adapter_dir / "adapter_model.safetensors")
    state = trainable_state(continued)
    assert len(saved) == len(state)
    for name, value in saved.items():
        key = name.replace(".weight", ".default.weight")
        torch.testing.assert_close(state[key], value, atol=0, rtol=0)


def test_two_processes_match_one(tmp_path, full_run):
    cfg, _, out = full_run
    two = {**cfg, "output_dir": str(tmp_path / "two")}
    config_file = tmp_path / "two.toml"
    config_file.write_text(to_toml(two))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--num_processes",
            "2",
            "--cpu",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "-m",
            "envscale.trainer",
            str(config_file),
        ],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert summary["global_step"] == 8
    # Two rows per step either way: two accumulated rows on one process, or one on each of two.
    assert_same_weights(weights(out / "final"), weights(tmp_path / "two" / "final"), atol=1e-4)


def test_cli_audit_prints_marked_samples(trajectories, tmp_path):
    config_file = tmp_path / "audit.toml"
    config_file.write_text(to_toml(tiny_config(tmp_path / "run", trajectories)))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "envscale.trainer",
            str(config_file),
            "--audit",
            "--audit-samples",
            "1",
        ],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "all masks pass the audit" in result.stdout
    assert "⟦<tool_call>" in result.stdout
    assert not (tmp_path / "run").exists()


def test_a_fresh_run_drops_an_earlier_runs_checkpoints(tmp_path, trajectories):
    from envscale.trainer.checkpoint import checkpoints_dir, latest_checkpoint, read_state

    cfg = tiny_config(tmp_path, trajectories, checkpoint_every=1, merge_final=False)
    cfg["phases"] = cfg["phases"][:1]
    train(cfg)
    assert read_state(latest_checkpoint(tmp_path))["global_step"] == 4
    train(cfg, overrides=["phases.general.steps=2"])
    assert [p.name for p in sorted(checkpoints_dir(tmp_path).iterdir())] == [
        "step-000001",
        "step-000002",
    ]


def test_call_weight_changes_the_gradient_not_the_reported_loss(tmp_path, trajectories):
    runs = {}
    for weight in (1.0, 4.0):
        cfg = tiny_config(tmp_path / str(weight), trajectories, call_weight=weight)
        cfg["phases"] = cfg["phases"][:1]
        cfg["phases"][0]["steps"] = 2
        train(cfg)
        losses = [
            r["loss"]
            for r in read_metrics(tmp_path / str(weight) / "metrics.jsonl")
            if r["kind"] == "train"
        ]
        runs[weight] = (losses, weights(tmp_path / str(weight) / "final"))
    # The first step's loss is measured before any update: the plain mean either way.
    assert runs[1.0][0][0] == pytest.approx(runs[4.0][0][0], abs=1e-6)
    changed = [n for n in runs[1.0][1] if not torch.equal(runs[1.0][1][n], runs[4.0][1][n])]
    assert changed
