"""The public entry points: compile a spec in-process, cached by its hash."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from envscale import __version__
from envscale.dsl.diagnostics import Diagnostic, SpecError

if TYPE_CHECKING:
    from envscale.runtime.domain import Domain

# Spec path and text -> the domain, and the text of each file it includes.
_CACHE: dict[str, tuple[Domain, dict[str, str]]] = {}


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
    except UnicodeDecodeError as error:
        bad = error.object[error.start : error.start + 1].hex()
        return None, [Diagnostic("E004", f"cannot read spec file: byte 0x{bad} at offset {error.start} is not UTF-8",
                                 Span(str(path), 1, 1, 1, 1), "save the spec as UTF-8 text")]
    except OSError as error:
        reason = error.strerror or str(error)
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


def load(path: str | Path) -> Domain:
    """Compile a spec (or reuse the compilation of an identical one) and return its Domain.

    The cache is keyed by the spec's text and the text of the files it includes (its
    policy file), so editing either recompiles and nothing else does.
    """
    from envscale.runtime.domain import Domain

    source, problems = read_spec(path)
    if source is None:
        raise SpecError(problems, {})
    spec_path = Path(path)
    key = hashlib.sha256(f"{spec_path.resolve()}\0{source}".encode()).hexdigest()
    cached = _CACHE.get(key)
    if cached is not None and _includes_unchanged(spec_path, cached[1]):
        return cached[0]
    files, diagnostics, sources = compile_source(source, str(path), spec_path)
    if files is None:
        raise SpecError(diagnostics, sources)
    domain = Domain(files)
    _CACHE[key] = (domain, _included_texts(spec_path, files))
    return domain


def _included_texts(spec: Path, files: dict[str, str]) -> dict[str, str]:
    import json

    included = json.loads(files["manifest.json"]).get("includes", [])
    return {name: _read_or_empty(spec.parent / name) for name in included}


def _includes_unchanged(spec: Path, texts: dict[str, str]) -> bool:
    return all(_read_or_empty(spec.parent / name) == text for name, text in texts.items())


def _read_or_empty(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
