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
    # The text of each spec file besides the compiled one (the bases it extends), by the
    # file name its spans carry.
    sources: dict[str, str] = field(default_factory=dict)

    def error(self, code: str, message: str, span: ast.Span, hint: str | None = None) -> None:
        self.diagnostics.error(code, message, span, hint)

    def source_of(self, file: str) -> str:
        """The text of the spec file a span names."""
        return self.sources.get(file, self.module.source)

    def type_of(self, node: ast.Expr) -> Type:
        return self.types.get(id(node), ANY)
