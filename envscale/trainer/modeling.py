"""Loading the model and tokenizer, and building each phase's starting model.

Every phase starts from what is on disk: the base model, plus the outputs of the phases
before it. An uninterrupted run and a resumed one therefore take the same path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .config import ConfigError, LoraConfig, ModelConfig, TrainConfig
from .tiny import tiny_model_path

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def model_path(cfg: ModelConfig) -> str:
    if cfg.base == "tiny":
        return str(tiny_model_path())
    path = Path(cfg.base).expanduser()
    # A hub name is "org/name"; anything else that names no directory is a mistyped path.
    looks_like_path = cfg.base.startswith((".", "/", "~")) or cfg.base.count("/") > 1
    if not path.exists() and looks_like_path:
        raise ConfigError(f"model.base {cfg.base!r}: no such directory")
    if path.exists() and not (path / "config.json").exists():
        raise ConfigError(f"model.base {cfg.base!r}: the directory holds no model (no config.json)")
    return str(path) if path.exists() else cfg.base


def load_tokenizer(cfg: ModelConfig) -> Any:
    from transformers import AutoTokenizer

    where = model_path(cfg)
    try:
        return AutoTokenizer.from_pretrained(where)
    except OSError as e:  # a hub name that is not in the local cache, offline
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"model.base {cfg.base!r}: cannot load it: {first}") from None


def _dtype(cfg: ModelConfig) -> torch.dtype:
    if cfg.dtype == "auto":
        cuda_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if cuda_bf16 else torch.float32
    return DTYPES[cfg.dtype]


def load_base(cfg: ModelConfig, path: str | None = None) -> Any:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(
        path or model_path(cfg), dtype=_dtype(cfg), attn_implementation=cfg.attn_implementation
    )


def phase_dir(output_dir: str | Path, index: int, name: str) -> Path:
    return Path(output_dir) / f"phase-{index + 1}-{name}"


def _lora(cfg: LoraConfig) -> Any:
    from peft import LoraConfig as PeftLoraConfig

    return PeftLoraConfig(
        r=cfg.rank,
        lora_alpha=cfg.alpha,
        lora_dropout=cfg.dropout,
        target_modules=cfg.target_modules,
        task_type="CAUSAL_LM",
    )


def build_phase_model(cfg: TrainConfig, index: int) -> Any:
    """The model phase `index` trains, built from the base and earlier phases' outputs."""
    from peft import PeftModel, get_peft_model

    dirs = [phase_dir(cfg.output_dir, j, p.name) for j, p in enumerate(cfg.phases[:index])]
    if cfg.lora is None:
        return load_base(cfg.model, str(dirs[-1]) if dirs else None)
    model = load_base(cfg.model)
    if cfg.lora.between_phases == "continue" and dirs:
        return PeftModel.from_pretrained(model, dirs[-1], is_trainable=True)
    for d in dirs:
        model = PeftModel.from_pretrained(model, d).merge_and_unload()
    torch.manual_seed(cfg.seed + index)  # the fresh adapter's initial weights
    return get_peft_model(model, _lora(cfg.lora))


def final_model(cfg: TrainConfig) -> Any:
    """Base plus every phase, merged into plain transformers weights."""
    from peft import PeftModel

    last = len(cfg.phases) - 1
    last_dir = phase_dir(cfg.output_dir, last, cfg.phases[last].name)
    if cfg.lora is None:
        return load_base(cfg.model, str(last_dir))
    model = load_base(cfg.model)
    if cfg.lora.between_phases == "continue":
        return PeftModel.from_pretrained(model, last_dir).merge_and_unload()
    for j, p in enumerate(cfg.phases):
        model = PeftModel.from_pretrained(
            model, phase_dir(cfg.output_dir, j, p.name)
        ).merge_and_unload()
    return model


def trainable_state(model: Any) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable_state(model: Any, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in state]
    unknown = [n for n in state if n not in params]
    if missing or unknown:
        raise ValueError(
            f"checkpoint does not match the model: missing {missing[:3]}, unknown {unknown[:3]}"
        )
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value)
