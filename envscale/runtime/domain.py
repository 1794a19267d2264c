"""A compiled domain held in memory: its artifacts, and its generated modules imported."""

from __future__ import annotations

import json
import linecache
import sys
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envscale.compiler.artifacts import ARTIFACTS
from envscale.records import Manifest, Shape, ToolInfo
from envscale.runtime.database import Db, build_tables
from envscale.runtime.environment import SIDES, Environment
from envscale.runtime.limits import DEFAULT_LIMITS, Limits
from envscale.runtime.shown import Shower

_UNSHOWN = object()  # a tool whose shown form is not compiled yet


def _import_source(module_name: str, filename: str, source: str) -> types.ModuleType:
    module = types.ModuleType(module_name)
    module.__file__ = filename
    sys.modules[module_name] = module
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    with warnings.catch_warnings():
        # A field may be named like a method BaseModel kept from pydantic 1 (`copy`, `json`,
        # `schema`); the field wins, and envscale calls none of those methods.
        warnings.filterwarnings("ignore", "Field name .* shadows an attribute", UserWarning)
        exec(compile(source, filename, "exec"), module.__dict__)
    return module


@dataclass
class Domain:
    files: dict[str, str]
    # What one call of its environments may take in and do, unless an environment says else.
    limits: Limits = DEFAULT_LIMITS
    manifest: Manifest = field(init=False)
    models: types.ModuleType = field(init=False)
    tools_module: types.ModuleType = field(init=False)

    def __post_init__(self) -> None:
        self.manifest = Manifest.from_line(self.files["manifest.json"], "manifest.json")
        tag = f"{self.name}_{self.spec_hash[:12]}"
        self.models = _import_source(
            f"envscale_generated.{tag}.models",
            f"<envscale {self.name}/models.py>",
            self.files["models.py"],
        )
        self.tools_module = _import_source(
            f"envscale_generated.{tag}.tools",
            f"<envscale {self.name}/tools.py>",
            self.files["tools.py"],
        )
        self.shower = Shower(self.manifest, hide=True)
        self.record_shower = Shower(self.manifest)
        self._tables = build_tables(self.manifest, getattr(self.tools_module, "DERIVED", {}))
        self.tools: dict[str, ToolInfo] = {t.name: t for t in self.manifest.tools}
        self.return_shapes: dict[str, Shape | None] = {
            name: t.returns_shape for name, t in self.tools.items()
        }
        self.tool_kinds: dict[str, str] = {name: t.kind for name, t in self.tools.items()}
        # Who may call what: each side sees only its own tools (internal ones: set-up actions,
        # sync blocks and assertions, none). Sync blocks run after every successful call.
        self.side_tools: dict[str, list[str]] = {side: [] for side in SIDES}
        for t in self.manifest.tools:
            self.side_tools[t.side].append(t.name)
        self.tool_sides: dict[str, str] = {t.name: t.side for t in self.manifest.tools}
        self.sync_tools: list[str] = [t.name for t in self.manifest.tools if t.role == "sync"]
        self.assertions: list[str] = [t.name for t in self.manifest.tools if t.role == "assertion"]
        # Constraint name -> message, over all entities (a CHECK failure names only the constraint).
        self.check_messages: dict[str, str] = {}
        for entity in reversed(self.manifest.entities.values()):
            self.check_messages.update(entity.checks)
        # The runtime invariants a tool's writes could break, checked after each of its calls.
        checks = self.tools_module.INVARIANTS
        runtime = [inv for inv in self.manifest.invariants if inv.enforced_by == "runtime"]
        # Less those the compiler proved a tool cannot break (it writes no field they read).
        unbroken = getattr(self.tools_module, "CANNOT_BREAK", {})
        self.invariants_after = {
            t.name: [
                (inv.name, checks[inv.name])
                for inv in runtime
                if set(t.writes) & set(inv.reads) and inv.name not in unbroken.get(t.name, ())
            ]
            for t in self.manifest.tools
        }
        self._row_shapes = {entity: Shape(row=entity) for entity in self.manifest.entities}
        self._result_shows: dict[str, Callable[[Any], Any] | None] = {}

    def show_result(self, tool: str, value: Any) -> Any:
        """A tool's return value in its shown form."""
        show = self._result_shows.get(tool, _UNSHOWN)
        if show is _UNSHOWN:
            show = self._result_shows[tool] = self.shower.compiled(self.return_shapes.get(tool))
        return value if show is None else show(value)

    def show_record(self, entity: str, record: dict | None) -> dict | None:
        """A record in its shown form as documents hold it (hidden fields kept)."""
        return self.record_shower.show(self._row_shapes.get(entity) or Shape(row=entity), record)

    def derive(self, entity: str, record: dict) -> dict:
        """A copy of the record as storing it would make it: its `@derived` fields computed
        from the others, and ints in float fields made floats. A value that cannot be computed
        (a division by zero) is a ToolError naming the field."""
        db = Db(None, self._tables, self.manifest.clock)  # type: ignore[arg-type]  # reads nothing
        return db.complete(entity, dict(record))

    @classmethod
    def from_dir(cls, path: str | Path) -> Domain:
        folder = Path(path)
        return cls({name: (folder / name).read_text(encoding="utf-8") for name in ARTIFACTS})

    @property
    def name(self) -> str:
        return self.manifest.domain

    @property
    def spec_hash(self) -> str:
        return self.manifest.spec_hash

    @property
    def policy(self) -> str:
        return self.manifest.policy

    @property
    def tool_schemas(self) -> list[dict]:
        """The agent's tools as it is offered them."""
        return self.side_schemas("agent")

    def side_schemas(self, side: str) -> list[dict]:
        """The tools of one side (agent or user) in the OpenAI function format."""
        mine = set(self.side_tools.get(side, ()))
        return [s for s in json.loads(self.files["tools.json"]) if s["function"]["name"] in mine]

    def environment(
        self,
        data: dict | str | Path | None = None,
        *,
        path: str | Path | None = None,
        enforce_policies: bool = True,
        limits: Limits | None = None,
        as_models: bool = False,
    ) -> Environment:
        """A fresh environment; data is records per entity (a dict or a JSON file); `limits`,
        what one call may take in and do, default to the domain's; `as_models` stores the
        records as the entity models validate them (see `Environment.create`).

        Generated initial states come from `envscale.tasks.datagen.generate_data`.
        """
        return Environment.create(
            self,
            data,
            path=path,
            enforce_policies=enforce_policies,
            limits=limits,
            as_models=as_models,
        )

    def write(self, out: str | Path) -> list[Path]:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name in ARTIFACTS:
            target = folder / name
            target.write_text(self.files[name], encoding="utf-8")
            written.append(target)
        return written
