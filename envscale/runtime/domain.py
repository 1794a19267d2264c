"""A compiled domain held in memory: its artifacts, and its generated modules imported."""

from __future__ import annotations

import json
import linecache
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envscale.compiler.artifacts import ARTIFACTS
from envscale.runtime.shown import Shower


def _import_source(module_name: str, filename: str, source: str) -> types.ModuleType:
    module = types.ModuleType(module_name)
    module.__file__ = filename
    sys.modules[module_name] = module
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


@dataclass
class Domain:
    files: dict[str, str]
    manifest: dict = field(init=False)
    models: Any = field(init=False)
    tools_module: Any = field(init=False)

    def __post_init__(self) -> None:
        self.manifest = json.loads(self.files["manifest.json"])
        tag = f"{self.name}_{self.spec_hash[:12]}"
        self.models = _import_source(f"envscale_generated.{tag}.models", f"<envscale {self.name}/models.py>",
                                     self.files["models.py"])
        self.tools_module = _import_source(f"envscale_generated.{tag}.tools", f"<envscale {self.name}/tools.py>",
                                           self.files["tools.py"])
        self.shower = Shower(self.manifest)
        self.return_shapes = {t["name"]: t.get("returns_shape") for t in self.manifest["tools"]}
        self.tool_kinds = {t["name"]: t["kind"] for t in self.manifest["tools"]}
        # The runtime invariants a tool's writes could break, checked after each of its calls.
        checks = self.tools_module.INVARIANTS
        self.invariants_after = {
            t["name"]: [(inv["name"], checks[inv["name"]]) for inv in self.manifest["invariants"]
                        if inv["enforced_by"] == "runtime" and set(t["writes"]) & set(inv["reads"])]
            for t in self.manifest["tools"]
        }

    def show_result(self, tool: str, value: Any) -> Any:
        """A tool's return value in its shown form."""
        return self.shower.show(self.return_shapes.get(tool), value)

    def show_record(self, entity: str, record: dict | None) -> dict | None:
        return self.shower.show({"row": entity}, record)

    @classmethod
    def from_dir(cls, path: str | Path) -> Domain:
        folder = Path(path)
        return cls({name: (folder / name).read_text(encoding="utf-8") for name in ARTIFACTS})

    @property
    def name(self) -> str:
        return self.manifest["domain"]

    @property
    def spec_hash(self) -> str:
        return self.manifest["spec_hash"]

    @property
    def policy(self) -> str:
        return self.manifest["policy"]

    @property
    def tool_schemas(self) -> list[dict]:
        return json.loads(self.files["tools.json"])

    def environment(self, data: dict | str | Path | None = None, *, path: str | Path | None = None,
                    enforce_policies: bool = True, seed: int | None = None, size: int | dict[str, int] = 10,
                    like: dict | None = None):
        """A fresh environment; data is records per entity (a dict or a JSON file).

        With `seed` instead of data, the records are generated from the entity declarations
        (`size` of each entity, or a count per entity; `like`: sample data whose id formats
        to follow); see `envscale.runtime.datagen`.
        """
        from envscale.runtime.environment import Environment

        if seed is not None:
            if data is not None:
                raise ValueError("give either data or a seed for generated data, not both")
            from envscale.runtime.datagen import generate_data

            data = generate_data(self, seed, size, like=like)
        return Environment.create(self, data, path=path, enforce_policies=enforce_policies)

    def write(self, out: str | Path) -> list[Path]:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name in ARTIFACTS:
            target = folder / name
            target.write_text(self.files[name], encoding="utf-8")
            written.append(target)
        return written
