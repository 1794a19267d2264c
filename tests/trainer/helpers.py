"""Configs and process helpers shared by the trainer tests."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def tiny_config(out: Path, data: Path, **training) -> dict:
    """Two short phases on the tiny model, full fine-tuning, no dropout anywhere."""
    phase = {
        "eval_fraction": 0.15,
        "lr": 3e-3,
        "schedule": "cosine",
        "warmup": 1,
        "tokens_per_batch": 2048,
        "max_length": 1024,
        "steps": 4,
    }
    return {
        "output_dir": str(out),
        "seed": 0,
        "model": {"base": "tiny"},
        "training": {"progress": False, "merge_final": True, **training},
        "phases": [
            {"name": "general", "data": [str(data / "general" / "*.jsonl")], **phase},
            {
                "name": "vertical",
                "data": [str(data / "vertical" / "*.jsonl")],
                "replay": 0.2,
                **phase,
            },
        ],
    }


def to_toml(config: dict) -> str:
    """Enough TOML for the configs of these tests (JSON scalars and lists are valid TOML)."""
    import json

    def scalars(table: dict) -> list[str]:
        return [
            f"{k} = {json.dumps(v)}"
            for k, v in table.items()
            if not isinstance(v, dict | list)
            or (isinstance(v, list) and not (v and isinstance(v[0], dict)))
        ]

    lines = scalars(config)
    for key, value in config.items():
        if isinstance(value, dict):
            lines += [f"\n[{key}]", *scalars(value)]
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                lines += [f"\n[[{key}]]", *scalars(item)]
    return "\n".join(lines) + "\n"


def subprocess_env() -> dict:
    """The environment for a child process that must import this same envscale."""
    import envscale.trainer

    source = str(Path(envscale.trainer.__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": source + os.pathsep + os.environ.get("PYTHONPATH", "")}
