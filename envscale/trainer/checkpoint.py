"""Checkpoints: trainable weights, optimizer, scheduler, every process's RNG, and the position.

Layout of `OUTPUT/checkpoints/step-000120/`:
    state.json      phase index and step, global step, token counts, config fingerprint
    weights.pt      the trainable parameters (the adapter under LoRA, everything otherwise)
    optimizer.pt    scheduler.pt
    scaler.pt       the fp16 loss scale, under fp16 mixed precision only
    rng-<rank>.pt   Python and torch generator states of each process
A checkpoint directory appears only once complete (written under a temporary name first).
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import torch

from .modeling import load_trainable_state, trainable_state


def checkpoints_dir(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    found = sorted(checkpoints_dir(output_dir).glob("step-*[0-9]"))
    return found[-1] if found else None


def clear_checkpoints(output_dir: str | Path) -> None:
    """Remove an earlier run's checkpoints, which a fresh run would otherwise mix with its own."""
    shutil.rmtree(checkpoints_dir(output_dir), ignore_errors=True)


def _rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    accelerator: Any,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    state: dict[str, Any],
    output_dir: str | Path,
    keep: int,
) -> Path:
    root = checkpoints_dir(output_dir)
    final = root / f"step-{state['global_step']:06d}"
    staging = root / f"{final.name}.tmp"
    if accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
    accelerator.wait_for_everyone()
    torch.save(_rng_state(), staging / f"rng-{accelerator.process_index}.pt")
    if accelerator.is_main_process:
        torch.save(trainable_state(accelerator.unwrap_model(model)), staging / "weights.pt")
        torch.save(optimizer.state_dict(), staging / "optimizer.pt")
        torch.save(scheduler.state_dict(), staging / "scheduler.pt")
        if accelerator.scaler is not None:
            torch.save(accelerator.scaler.state_dict(), staging / "scaler.pt")
        (staging / "state.json").write_text(json.dumps(state, indent=2))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
        for old in sorted(root.glob("step-*[0-9]"))[:-keep]:
            shutil.rmtree(old)
    accelerator.wait_for_everyone()
    return final


def read_state(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "state.json").read_text())


def load_checkpoint(
    accelerator: Any, model: Any, optimizer: Any, scheduler: Any, directory: Path
) -> None:
    weights = torch.load(directory / "weights.pt", map_location="cpu", weights_only=True)
    load_trainable_state(accelerator.unwrap_model(model), weights)
    optimizer.load_state_dict(
        torch.load(directory / "optimizer.pt", map_location="cpu", weights_only=True)
    )
    scheduler.load_state_dict(torch.load(directory / "scheduler.pt", weights_only=True))
    if accelerator.scaler is not None and (directory / "scaler.pt").exists():
        accelerator.scaler.load_state_dict(torch.load(directory / "scaler.pt", weights_only=True))
    rng = directory / f"rng-{accelerator.process_index}.pt"
    if not rng.exists():
        raise FileNotFoundError(f"{rng} is missing: resume with the same number of processes")
    _set_rng_state(torch.load(rng, weights_only=False))
