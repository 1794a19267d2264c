"""A spec compiled in-process into a Domain, cached by its text and the files it includes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from envscale.compiler.build import compile_source, read_spec
from envscale.dsl.diagnostics import SpecError
from envscale.runtime.domain import Domain

# Spec path and text -> the domain, and the text of each file it includes.
_CACHE: dict[str, tuple[Domain, dict[str, str]]] = {}


def load(path: str | Path) -> Domain:
    """Compile a spec (or reuse the compilation of an identical one) and return its Domain.

    The cache is keyed by the spec's text and the text of the files it includes (its
    policy file), so editing either recompiles and nothing else does.
    """
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
    _CACHE[key] = (domain, _included_texts(spec_path, domain.manifest.includes))
    return domain


def _included_texts(spec: Path, included: list[str]) -> dict[str, str]:
    return {name: _read_or_empty(spec.parent / name) for name in included}


def _includes_unchanged(spec: Path, texts: dict[str, str]) -> bool:
    return all(_read_or_empty(spec.parent / name) == text for name, text in texts.items())


def _read_or_empty(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
