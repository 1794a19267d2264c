import argparse

import pytest

from envscale.trainer.command import overrides_from
from envscale.trainer.config import ConfigError, apply_overrides, load_config

BASE = {
    "phases": [
        {"name": "general", "data": ["g/*.jsonl"]},
        {"name": "vertical", "data": ["v/*.jsonl"]},
    ]
}


def test_fingerprint_ignores_knobs_that_do_not_change_the_weights():
    config = load_config(BASE)
    same = apply_overrides(
        config,
        [
            "output_dir='elsewhere'",
            "training.checkpoint_every=7",
            "training.eval_every=3",
            "training.merge_final=false",
            "training.log_every=5",
            "training.halt_after_steps=2",
        ],
    )
    assert same.fingerprint() == config.fingerprint()
    for change in (
        "seed=1",
        "phases.vertical.lr=1e-5",
        "training.max_grad_norm=0.5",
        "lora.rank=4",
    ):
        assert apply_overrides(config, [change]).fingerprint() != config.fingerprint(), change


def test_overrides_address_phases_by_name_or_index():
    config = apply_overrides(
        load_config(BASE),
        ["phases.vertical.lr=1e-5", "phases.0.replay=0.0", "model.base=some/model"],
    )
    assert config.phases[1].lr == 1e-5 and config.model.base == "some/model"
    with pytest.raises(ConfigError, match=r"no phase 'missing'"):
        apply_overrides(config, ["phases.missing.lr=1"])


@pytest.mark.parametrize("path", ['runs/it\'s "quoted"', r"C:\runs\new", "plain"])
def test_command_line_paths_reach_the_config_unchanged(path):
    args = argparse.Namespace(output_dir=path, model=path, seed=3, set=[])
    config = apply_overrides(load_config(BASE), overrides_from(args))
    assert config.output_dir == path and config.model.base == path and config.seed == 3


def test_failed_calls_are_masked_unless_the_command_line_keeps_them():
    assert load_config(BASE).training.mask_failed_calls is True
    args = argparse.Namespace(output_dir=None, model=None, seed=None, set=[])
    assert apply_overrides(load_config(BASE), overrides_from(args)).training.mask_failed_calls
    args.keep_failed_calls = True
    kept = apply_overrides(load_config(BASE), overrides_from(args))
    assert kept.training.mask_failed_calls is False
    assert kept.fingerprint() != load_config(BASE).fingerprint()  # it changes the weights
