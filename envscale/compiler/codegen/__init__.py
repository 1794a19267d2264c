"""Code generation: the IR to the five compiled artifacts, deterministically."""

from __future__ import annotations

from collections.abc import Callable

from envscale.compiler import ir
from envscale.compiler.artifacts import ARTIFACTS
from envscale.compiler.codegen.manifest import manifest_json
from envscale.compiler.codegen.models import models_py
from envscale.compiler.codegen.sql import schema_sql
from envscale.compiler.codegen.tools_json import tools_json
from envscale.compiler.codegen.tools_py import tools_py

__all__ = ["ARTIFACTS", "GENERATORS", "generate"]

# The generator of each artifact, in the order of ARTIFACTS.
GENERATORS: dict[str, Callable[[ir.DomainIR], str]] = {
    "schema.sql": schema_sql,
    "tools.py": tools_py,
    "models.py": models_py,
    "tools.json": tools_json,
    "manifest.json": manifest_json,
}


def generate(d: ir.DomainIR) -> dict[str, str]:
    return {name: GENERATORS[name](d) for name in ARTIFACTS}
