"""The environments the call fuzzer attacks: the shipped specs on their data, with the calls
known to be valid on it and the values the data holds, built once per process.

clinic runs on its seed data. retail and airline run on tau-bench's documents when they lie
in `../shared/conformance/taubench/<domain>/` next to the repository (their cases' calls
join the valid ones), and otherwise on each spec's seed data or generated data. Every target
on other data has the gold calls of tasks sampled on it instead, so each tool is reached with
arguments that pass validation.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envscale.runtime.domain import Domain
from envscale.runtime.environment import Environment
from envscale.runtime.layout import Layout
from envscale.runtime.load import load
from envscale.tasks.sampling import sample_tasks
from envscale.tasks.states import initial_environment, initial_state_for

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
TAUBENCH = (ROOT / ".." / "shared" / "conformance" / "taubench").resolve()
TARGET_NAMES = ("clinic", "retail", "airline")
SAMPLED_TASKS = 60
POOL_LIMIT = 200  # values kept per field name

Call = tuple[str, dict]


@dataclass
class Target:
    """One spec on its data: two environments (a second to reach states by other call orders),
    the initial export and hash, valid calls per tool, gold chains, and values by field name."""

    name: str
    domain: Domain
    env: Environment
    other: Environment
    data: dict[str, list[dict]]
    base_hash: str
    base_export: dict[str, list[dict]]
    schemas: dict[str, dict]  # tool -> JSON schema of its parameters
    valid: dict[str, list[dict]] = field(default_factory=dict)  # tool -> known good arguments
    chains: list[list[Call]] = field(default_factory=list)
    values: dict[str, list[Any]] = field(default_factory=dict)  # field name -> values in the data
    strings: list[str] = field(default_factory=list)

    def fresh(self, data: dict) -> Environment:
        """A new environment of this target's domain on `data`."""
        return Environment.create(self.domain, data, enforce_policies=self.env.enforce_policies)


_TARGETS: dict[str, Target] = {}


def target(name: str) -> Target:
    if name not in _TARGETS:
        _TARGETS[name] = _build(name)
    return _TARGETS[name]


def _taubench_cases(name: str) -> list[Path]:
    folder = TAUBENCH / name
    return sorted(folder.glob("*.jsonl")) if (folder / "users.json").is_file() else []


def _build(name: str) -> Target:
    spec = SPECS / f"{name}.domain"
    domain = load(spec)
    cases = _taubench_cases(name)
    if cases:
        layout = Layout.read(SPECS / f"{name}.layout.json")
        data = layout.load(TAUBENCH / name)
    else:
        state = initial_state_for(spec, "auto", seed=0, size=20)
        data = initial_environment(domain, state, spec).export()
    env = Environment.create(domain, data)
    other = Environment.create(domain, data)
    base_export = env.export()
    found = Target(
        name,
        domain,
        env,
        other,
        data,
        env.state_hash(),
        base_export,
        {t["function"]["name"]: t["function"].get("parameters", {}) for t in domain.tool_schemas},
    )
    _collect_values(found, base_export)
    for path in cases:
        for line in path.read_text(encoding="utf-8").splitlines():
            case = json.loads(line) if line.strip() else {}
            chain = [
                (a["name"], a["kwargs"])
                for a in case.get("actions", [])
                if isinstance(a.get("kwargs"), dict) and a.get("name") in found.schemas
            ]
            _add_chain(found, chain)
    # Random walks over tau-bench's documents take minutes; their cases give valid chains.
    tasks = (
        []
        if cases
        else sample_tasks(
            domain, lambda: Environment.create(domain, data), SAMPLED_TASKS, seed=0, max_length=4
        )
    )
    for task in tasks:
        _add_chain(found, [(c.name, dict(c.arguments)) for c in task.gold_calls])
    return found


def _add_chain(found: Target, chain: list[Call]) -> None:
    if not chain:
        return
    found.chains.append(chain)
    for tool, arguments in chain:
        known = found.valid.setdefault(tool, [])
        if len(known) < POOL_LIMIT:
            known.append(arguments)


def _collect_values(found: Target, export: dict[str, list[dict]]) -> None:
    seen: dict[str, set[str]] = {}
    stack: list[tuple[str, Any]] = [
        (key, value) for records in export.values() for r in records for key, value in r.items()
    ]
    while stack:
        key, value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.items())
            continue
        if isinstance(value, list):
            stack.extend((key, v) for v in value)
            continue
        marker = json.dumps(value)
        if marker in seen.setdefault(key, set()) or len(seen[key]) >= POOL_LIMIT:
            continue
        seen[key].add(marker)
        found.values.setdefault(key, []).append(value)
        if isinstance(value, str) and len(found.strings) < 20 * POOL_LIMIT:
            found.strings.append(value)


def synthesize(found: Target, schema: dict, name: str, rng: random.Random, depth: int = 0) -> Any:
    """A plausible value for a parameter: one the data holds under that name, else one of its
    type."""
    kind = schema.get("type")
    if "enum" in schema:
        return rng.choice(schema["enum"])
    for candidate in (name, name[:-1] if name.endswith("s") else None):
        pool = found.values.get(candidate or "")
        if pool and kind != "array" and kind != "object":
            return rng.choice(pool)
        if pool and kind == "array" and candidate != name:
            return [rng.choice(pool) for _ in range(rng.randint(1, 3))]
    if kind == "string":
        return rng.choice(found.strings) if found.strings else "x"
    if kind == "integer":
        return rng.randint(0, 5)
    if kind == "number":
        return round(rng.uniform(0, 500), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "array" and depth < 4:
        items = schema.get("items", {})
        return [synthesize(found, items, name, rng, depth + 1) for _ in range(rng.randint(1, 3))]
    if kind == "object" and depth < 4:
        return {
            key: synthesize(found, sub, key, rng, depth + 1)
            for key, sub in schema.get("properties", {}).items()
        }
    return None


def plausible_call(found: Target, rng: random.Random) -> Call:
    """A call of a random tool with arguments known to be valid when there are some (most of
    the time), else synthesised from the schema and the data."""
    tool = rng.choice(sorted(found.schemas))
    known = found.valid.get(tool)
    if known and rng.random() < 0.8:
        return tool, json.loads(json.dumps(rng.choice(known)))
    schema = found.schemas[tool]
    return tool, {
        key: synthesize(found, sub, key, rng) for key, sub in schema.get("properties", {}).items()
    }
