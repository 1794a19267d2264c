"""Compiling a spec file or text into its artifacts: read, analyse, generate."""

from __future__ import annotations

import hashlib
from pathlib import Path

from envscale import __version__
from envscale.compiler.codegen import generate
from envscale.compiler.pipeline import analyze
from envscale.compiler.specfile import read_spec
from envscale.dsl.diagnostics import Diagnostic
from envscale.dsl.tokens import token_texts

Compiled = tuple[dict[str, str] | None, list[Diagnostic], dict[str, str]]
"""The artifacts (None when the spec has errors), every diagnostic, and the source texts."""


def _spec_text(source: str) -> str:
    """Spec text as its tokens alone, so layout and comments do not change the hash (no token
    holds a NUL: the grammar refuses one)."""
    return "\0".join(token_texts(source))


def spec_hash(source: str, extra_sources: dict[str, str]) -> str:
    """What the spec says, hashed: its tokens, then each file it reads by name (a base spec
    as its tokens, a policy document as it is)."""
    digest = hashlib.sha256()
    digest.update(f"envscale {__version__}\0".encode())
    digest.update(_spec_text(source).encode("utf-8"))
    for name in sorted(extra_sources):
        text = extra_sources[name]
        digest.update(f"\0{name}\0".encode())
        digest.update((_spec_text(text) if name.endswith(".domain") else text).encode("utf-8"))
    return digest.hexdigest()


def compile_source(source: str, file: str, path: Path | None = None) -> Compiled:
    """Check and compile spec text."""
    c = analyze(source, file, path)
    sources = {**c.sources, file: source}
    if c.diagnostics.has_errors or c.ir is None:
        return None, list(c.diagnostics), sources
    c.ir.spec_hash = spec_hash(source, c.extra_sources)
    return generate(c.ir), list(c.diagnostics), sources


def compile_file(path: str | Path) -> Compiled:
    source, problems = read_spec(path)
    if source is None:
        return None, problems, {}
    return compile_source(source, str(path), Path(path))
