"""`envscale export`: trajectory files written as a dataset of one layout.

openai    OUT is a JSON-lines file: one fine-tuning example a line
sharegpt  OUT is a folder: NAME.jsonl and dataset_info.json (LLaMA-Factory's dataset_dir)
hf        OUT is a folder that `datasets.load_dataset(OUT)` reads: data/train.parquet and
          a README whose config names it; the same `Dataset` saved by save_to_disk in
          OUT/disk, for `datasets.load_from_disk` (which load_dataset refuses to read)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from envscale import __version__, jsonl
from envscale.exports.convert import (
    Selection,
    Tally,
    hf_row,
    openai_example,
    sharegpt_dataset_info,
    sharegpt_example,
)
from envscale.records import Trajectory, read_jsonl

FORMATS = ("openai", "sharegpt", "hf")
DATASET_INFO = "dataset_info.json"


def selected(paths: Sequence[Path], selection: Selection, tally: Tally) -> Iterator[Trajectory]:
    for path in paths:
        for trajectory in read_jsonl(path, Trajectory):
            tally.read += 1
            if not selection.keeps(trajectory):
                tally.not_passed += 1
                continue
            tally.domains.add(trajectory.domain)
            yield trajectory


def examples(
    paths: Sequence[Path],
    selection: Selection,
    tally: Tally,
    convert: Callable[[Trajectory], dict[str, Any] | None],
) -> Iterator[dict[str, Any]]:
    for trajectory in selected(paths, selection, tally):
        example = convert(trajectory)
        if example is None:
            tally.no_turn += 1
            continue
        tally.written += 1
        yield example


def export(
    paths: Sequence[Path],
    fmt: str,
    out: Path,
    selection: Selection | None = None,
    name: str = "envscale",
) -> tuple[Tally, list[Path]]:
    """Write the selected trajectories of `paths` as `fmt` at `out`; the files written."""
    selection = selection or Selection()
    tally = Tally()
    if fmt == "openai":
        jsonl.write_atomic(out, examples(paths, selection, tally, openai_example))
        return tally, [out]
    if fmt == "sharegpt":
        return tally, _sharegpt(paths, out, selection, tally, name)
    if fmt == "hf":
        return tally, _hf(paths, out, selection, tally)
    raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")


def _sharegpt(
    paths: Sequence[Path], out: Path, selection: Selection, tally: Tally, name: str
) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    data = out / f"{name}.jsonl"
    jsonl.write_atomic(
        data, examples(paths, selection, tally, lambda t: sharegpt_example(t, tally))
    )
    # Other datasets the folder already describes keep their entries.
    info_path = out / DATASET_INFO
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.exists() else {}
    if not isinstance(info, dict):
        raise ValueError(f"{info_path} is not a JSON object of dataset entries")
    info[name] = sharegpt_dataset_info(data.name)
    _write_text(info_path, json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    return [data, info_path]


README = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train.parquet
---
# {name}

Trajectories exported by envscale {version}: {count} examples from {domains}, in the
OpenAI messages layout (`messages`, `tools` as JSON text, `parallel_tool_calls`), with
`id`, `domain`, `task_id` and `reward` of each trajectory.

    datasets.load_dataset(PATH, split="train")  # from data/train.parquet
    datasets.load_from_disk(PATH + "/disk")     # the same Dataset, as save_to_disk wrote it
"""


def _hf(paths: Sequence[Path], out: Path, selection: Selection, tally: Tally) -> list[Path]:
    import datasets  # the `export` extra

    datasets.disable_progress_bars()

    if out.exists() and (
        not out.is_dir() or (any(out.iterdir()) and not (out / "disk" / "state.json").exists())
    ):
        raise ValueError(f"{out} exists and is not a dataset folder; give another -o")
    rows = list(examples(paths, selection, tally, hf_row))
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "domain": datasets.Value("string"),
            "task_id": datasets.Value("string"),
            "reward": datasets.Value("float64"),
            "messages": datasets.List(
                {
                    "role": datasets.Value("string"),
                    "content": datasets.Value("string"),
                    "tool_calls": datasets.List(
                        {
                            "id": datasets.Value("string"),
                            "type": datasets.Value("string"),
                            "function": {
                                "name": datasets.Value("string"),
                                "arguments": datasets.Value("string"),
                            },
                        }
                    ),
                    "tool_call_id": datasets.Value("string"),
                }
            ),
            "tools": datasets.Value("string"),
            "parallel_tool_calls": datasets.Value("bool"),
        }
    )
    dataset = datasets.Dataset.from_list(rows, features=features)
    # Written beside the target, then moved in: a failed export leaves no half folder.
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (scratch / "data").mkdir()
        dataset.to_parquet(str(scratch / "data" / "train.parquet"))
        dataset.save_to_disk(str(scratch / "disk"))
        text = README.format(
            name=out.name,
            version=__version__,
            count=len(rows),
            domains=", ".join(sorted(tally.domains)) or "no domain",
        )
        (scratch / "README.md").write_text(text, encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(scratch, out)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return [out]


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
