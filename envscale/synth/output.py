"""The output folder of a synthesis, written so that a killed run resumes without losing or
duplicating work.

    run.json             what the run is (inputs, seed, options); a rerun must match it
    communities.jsonl    the partition's communities, written once, whole
    stages.json          figures of ingest, graph and partition
    dropped.jsonl        the tools the partition left out of every community, with the reason
    results/<name>.json  one domain's outcome: its index line, draft, verification, timings
    domains/<name>.domain (+ <name>.instructions.toml)   kept domains
    rejected/<name>.domain                               rejected ones, for reading
    index.jsonl          one `records.DomainEntry` per community, rebuilt from results/
    report.json, plots/*.png

Every file is written whole (a temporary file, fsync'd, renamed over the target); a domain's
result is written after its spec, so a result on disk means the domain is complete. A rerun
skips the communities whose result holds the same community hash and rebuilds the index
from the results in community order.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from envscale import jsonl
from envscale.records import DomainEntry
from envscale.synth.domains import KEPT_FOLDER, REJECTED_FOLDER, DomainOutcome
from envscale.synth.records import Community

RUN_FILE = "run.json"
COMMUNITIES_FILE = "communities.jsonl"
STAGES_FILE = "stages.json"
DROPPED_FILE = "dropped.jsonl"
RESULTS_FOLDER = "results"
INDEX_FILE = "index.jsonl"
REPORT_FILE = "report.json"
PLOTS_FOLDER = "plots"


class RunMismatch(RuntimeError):
    pass


def write_text(path: Path, text: str) -> None:
    """The whole file at once: a temporary file beside it, fsync'd, renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, value: Any) -> None:
    write_text(path, json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def check_run(out: Path, described: dict[str, Any]) -> bool:
    """Whether the folder already holds this run (False: a new one, now described); a folder
    holding another run is a RunMismatch naming what differs."""
    path = out / RUN_FILE
    if path.exists():
        found = json.loads(path.read_text(encoding="utf-8"))
        if found != described:
            changed = sorted(
                k for k in set(found) | set(described) if found.get(k) != described.get(k)
            )
            raise RunMismatch(
                f"{out} holds another synthesis (it differs in: {', '.join(changed)}); use "
                "another --out, or remove the folder to start over"
            )
        return True
    write_json(path, described)
    return False


def save_communities(out: Path, communities: Iterable[Community]) -> None:
    jsonl.write_atomic(out / COMMUNITIES_FILE, (c.to_dict() for c in communities))


def load_communities(out: Path) -> list[Community] | None:
    path = out / COMMUNITIES_FILE
    if not path.exists():
        return None
    return [Community.model_validate(record) for record in jsonl.read(path)]


def save_outcome(out: Path, outcome: DomainOutcome) -> None:
    """The domain's files, then its result (which marks it done)."""
    name = outcome.entry.name
    draft = outcome.draft
    if draft is not None:
        kept = outcome.entry.status == "kept"
        folder = out / (KEPT_FOLDER if kept else REJECTED_FOLDER)
        (out / (REJECTED_FOLDER if kept else KEPT_FOLDER) / f"{name}.domain").unlink(
            missing_ok=True
        )
        write_text(folder / f"{name}.domain", draft.source)
        sidecar = folder / f"{name}.instructions.toml"
        if draft.instructions:
            write_text(sidecar, draft.instructions)
        else:
            sidecar.unlink(missing_ok=True)
    write_json(out / RESULTS_FOLDER / f"{name}.json", outcome.to_dict())


def load_outcomes(out: Path) -> dict[str, DomainOutcome]:
    """The results on disk by domain name; one that cannot be read is made again."""
    found: dict[str, DomainOutcome] = {}
    folder = out / RESULTS_FOLDER
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.json")):
        try:
            outcome = DomainOutcome.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError):
            continue
        found[outcome.entry.name] = outcome
    return found


def write_index(out: Path, entries: Iterable[DomainEntry]) -> Path:
    path = out / INDEX_FILE
    jsonl.write_atomic(path, (e.to_dict() for e in entries))
    return path
