"""The state one compilation carries from pass to pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envscale.compiler.symbols import Symbols
from envscale.compiler.types import ANY, Type
from envscale.dsl import ast
from envscale.dsl.diagnostics import Diagnostics


@dataclass
class Compilation:
    module: ast.Module
    path: Path | None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    symbols: Symbols = field(default_factory=Symbols)
    # The type of every checked expression, by node identity (AST nodes are immutable).
    types: dict[int, Type] = field(default_factory=dict)
    # Set by the last pass.
    ir: Any = None
    extra_sources: dict[str, str] = field(default_factory=dict)

    def error(self, code: str, message: str, span: ast.Span, hint: str | None = None) -> None:
        self.diagnostics.error(code, message, span, hint)

    def type_of(self, node: ast.Expr) -> Type:
        return self.types.get(id(node), ANY)
