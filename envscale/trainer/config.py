"""The training configuration: one TOML file, validated by pydantic.

Relative paths (data globs, output directory, model directories) are taken from the
current working directory, the way a command line reads them. A configuration that cannot
be read, parsed or validated is a `ConfigError` of one line: where, and what is wrong (an
unknown key with the nearest known one).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import tomllib
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

FILTERS = ("valid", "state", "exact")


class ConfigError(ValueError):
    """A training configuration that cannot be used, said in one line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelConfig(_Strict):
    base: str = Field("tiny", description="local directory, hub name, or 'tiny' (built offline)")
    chat_template: str | None = Field(
        None, description="path to a Jinja chat template with {% generation %} blocks"
    )
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = "float32"
    attn_implementation: str = "sdpa"


class LoraConfig(_Strict):
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] | str = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"]
    )
    # What phase 2 starts from: the same adapter trained further, or phase 1's adapter
    # merged into the weights and a fresh adapter on top.
    between_phases: Literal["continue", "merge"] = "continue"


class PhaseConfig(_Strict):
    name: str
    data: list[str] = Field(description="glob patterns of trajectory .jsonl files")
    eval_data: list[str] = Field(default_factory=list, description="held-out trajectory globs")
    eval_fraction: float = Field(
        0.05, ge=0.0, lt=1.0, description="held out when eval_data is empty"
    )
    require_filters: list[Literal["valid", "state", "exact"]] = Field(
        default_factory=lambda: list(FILTERS)
    )
    epochs: float = Field(1.0, gt=0)
    steps: int = Field(0, ge=0, description="optimizer steps; overrides epochs when > 0")
    lr: float = 2e-4
    schedule: Literal["constant", "linear", "cosine"] = "cosine"
    warmup: float = Field(0.03, ge=0, description="fraction of the steps if < 1, else a step count")
    min_lr_ratio: float = Field(0.0, ge=0, le=1)
    tokens_per_batch: int = Field(
        16384, gt=0, description="tokens per optimizer step, all processes"
    )
    max_length: int = Field(2048, gt=0, description="longest sample, in tokens")
    micro_batch_tokens: int = Field(
        0, ge=0, description="tokens per forward pass and process (packed row); 0 = max_length"
    )
    replay: float = Field(
        0.0, ge=0.0, lt=1.0, description="share of this phase's samples drawn from earlier phases"
    )

    @property
    def row_tokens(self) -> int:
        return max(self.micro_batch_tokens, self.max_length)


class TrainingConfig(_Strict):
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "auto"
    max_grad_norm: float = 1.0
    mask_failed_calls: bool = Field(
        True, description="no loss on an assistant turn whose tool call failed"
    )
    call_weight: float = Field(
        1.0,
        gt=0,
        description="loss weight of a tool call's tokens against the assistant's other tokens",
    )
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    log_every: int = 1
    eval_every: int = Field(0, ge=0, description="0 = only at the end of each phase")
    checkpoint_every: int = Field(0, ge=0, description="0 = only at the end of each phase")
    keep_checkpoints: int = Field(2, ge=1)
    merge_final: bool = True
    halt_after_steps: int = Field(
        0, ge=0, description="stop with a checkpoint after this many steps in one invocation"
    )
    progress: bool = True


class TrainConfig(_Strict):
    output_dir: str = "runs/train"
    seed: int = 0
    model: ModelConfig = Field(default_factory=ModelConfig)
    lora: LoraConfig | None = None
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    phases: list[PhaseConfig]

    @field_validator("lora", mode="before")
    @classmethod
    def _lora_off(cls, value: Any) -> Any:
        return None if value is False else value  # `lora = false` means full fine-tuning

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if not self.phases:
            raise ValueError("at least one [[phases]] entry is needed")
        names = [p.name for p in self.phases]
        if len(set(names)) != len(names):
            raise ValueError(f"phase names must be unique, got {names}")
        if self.phases[0].replay:
            raise ValueError("the first phase has no earlier data to replay")
        return self

    def fingerprint(self) -> str:
        """Hash of everything that decides the trajectory of training, so a resume can refuse a
        changed configuration. Where outputs go, how often to log, evaluate and checkpoint,
        and whether to merge at the end do not change the weights, and are left out."""
        data = self.model_dump(mode="json")
        data.pop("output_dir")
        for key in (
            "log_every",
            "progress",
            "halt_after_steps",
            "keep_checkpoints",
            "eval_every",
            "checkpoint_every",
            "merge_final",
        ):
            data["training"].pop(key)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def load_config(source: str | Path | dict[str, Any] | TrainConfig) -> TrainConfig:
    if isinstance(source, TrainConfig):
        return source
    if isinstance(source, dict):
        return validate(source, "the configuration")
    try:
        with open(source, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such configuration file") from None
    except OSError as e:
        raise ConfigError(f"{source}: cannot read it: {e.strerror or e}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{source}: not valid TOML: {e}") from None
    return validate(data, str(source))


def validate(data: dict[str, Any], where: str) -> TrainConfig:
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{where}: {_first_problem(e, data)}") from None


def _dotted(loc: tuple[Any, ...], data: Any) -> str:
    """A pydantic location as the config spells it: phases.general.lr, not phases.0.lr."""
    parts, node = [], data
    for part in loc:
        if isinstance(part, int) and isinstance(node, list):
            name = node[part].get("name") if isinstance(node[part], dict) else None
            parts.append(str(name) if isinstance(name, str) else str(part))
            node = node[part]
        else:
            parts.append(str(part))
            node = node.get(part) if isinstance(node, dict) else None
    return ".".join(parts)


def _table_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class of the table that holds `loc`'s last key."""
    model: type[BaseModel] | None = TrainConfig
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(str(part))
        model = _model_in(field.annotation) if field else None
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if found := _model_in(arg):
            return found
    return None


def _first_problem(error: ValidationError, data: dict[str, Any]) -> str:
    problem = error.errors()[0]
    loc = tuple(problem["loc"])
    key = _dotted(loc, data)
    if problem["type"] == "extra_forbidden":
        table = _table_at(loc)
        known = list(table.model_fields) if table else []
        near = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else f" (known: {', '.join(known)})"
        return f"unknown key {key!r}{hint}"
    if problem["type"] == "missing":
        return f"{key!r} is required"
    message = problem["msg"].removeprefix("Value error, ")
    more = len(error.errors()) - 1
    also = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return (f"{key}: {message}" if key else message) + also


def apply_overrides(config: TrainConfig, overrides: list[str]) -> TrainConfig:
    """Apply `dotted.key=value` overrides; values are parsed as TOML, falling back to strings.

    `phases.0.lr=1e-4` addresses a phase by index, `phases.general.lr=1e-4` by name.
    """
    data = config.model_dump(mode="json")
    for item in overrides:
        key, sep, raw = item.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(parts):
            raise ConfigError(f"--set {item!r}: give KEY=VALUE, e.g. phases.general.lr=1e-4")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        node: Any = data
        for part in parts[:-1]:
            if isinstance(node, list):
                node = _phase_by_key(node, part, item)
            elif isinstance(node, dict):
                if node.get(part) is None:
                    node[part] = {}
                node = node[part]
            else:
                raise ConfigError(f"--set {item!r}: {part!r} is inside a value, not a table")
        if isinstance(node, list):
            raise ConfigError(f"--set {item!r}: name a phase's key, e.g. phases.general.lr")
        node[parts[-1]] = value
    return validate(data, "--set")


def _phase_by_key(phases: list[dict[str, Any]], key: str, item: str) -> dict[str, Any]:
    if key.isdigit() and int(key) < len(phases):
        return phases[int(key)]
    for phase in phases:
        if phase["name"] == key:
            return phase
    names = ", ".join(str(p["name"]) for p in phases)
    raise ConfigError(f"--set {item!r}: no phase {key!r} (the phases are {names})")
