"""Code generation: the IR to the five compiled artifacts, deterministically."""

from __future__ import annotations

from envscale.compiler import ir
from envscale.compiler.artifacts import ARTIFACTS
from envscale.compiler.codegen.manifest import manifest_json
from envscale.compiler.codegen.models import models_py
from envscale.compiler.codegen.sql import schema_sql
from envscale.compiler.codegen.tools_json import tools_json
from envscale.compiler.codegen.tools_py import tools_py

__all__ = ["ARTIFACTS", "generate"]


def generate(d: ir.DomainIR) -> dict[str, str]:
    return {
        "schema.sql": schema_sql(d),
        "tools.py": tools_py(d),
        "models.py": models_py(d),
        "tools.json": tools_json(d),
        "manifest.json": manifest_json(d),
    }
