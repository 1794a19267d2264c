"""Compiling a spec file or text into its artifacts: read, analyse, generate."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

from envscale import __version__
from envscale.compiler.codegen import generate
from envscale.compiler.pipeline import analyze
from envscale.dsl.ast import Span
from envscale.dsl.diagnostics import Diagnostic

# A spec file larger than this is refused unread (E004): no domain needs that much text, and
# reading /dev/zero or a huge file must not exhaust memory.
MAX_SPEC_BYTES = 16 * 1024 * 1024

Compiled = tuple[dict[str, str] | None, list[Diagnostic], dict[str, str]]
"""The artifacts (None when the spec has errors), every diagnostic, and the source texts."""


def spec_hash(source: str, extra_sources: dict[str, str]) -> str:
    digest = hashlib.sha256()
    digest.update(f"envscale {__version__}\0".encode())
    digest.update(source.encode("utf-8"))
    for name in sorted(extra_sources):
        digest.update(f"\0{name}\0".encode())
        digest.update(extra_sources[name].encode("utf-8"))
    return digest.hexdigest()


def read_spec(path: str | Path) -> tuple[str | None, list[Diagnostic]]:
    """The text of a spec file, or None and an E004 saying why it cannot be read: a file
    that is not there, not a regular file (a directory, a pipe, a device such as /dev/zero),
    larger than MAX_SPEC_BYTES, or not UTF-8."""
    p = Path(path)
    where = Span(str(path), 1, 1, 1, 1)
    try:
        # Asked before opening: opening a named pipe would wait for a writer.
        if not stat.S_ISREG(p.stat().st_mode):
            return None, [Diagnostic("E004", "cannot read spec file: not a regular file", where)]
        with p.open("rb") as handle:
            data = handle.read(MAX_SPEC_BYTES + 1)
    except OSError as error:
        reason = error.strerror or str(error)
        return None, [Diagnostic("E004", f"cannot read spec file: {reason}", where)]
    if len(data) > MAX_SPEC_BYTES:
        return None, [
            Diagnostic(
                "E004",
                f"cannot read spec file: it is larger than {MAX_SPEC_BYTES:,} bytes",
                where,
                "split the domain, or move long prose into a policy file",
            )
        ]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as error:
        bad = error.object[error.start : error.start + 1].hex()
        return None, [
            Diagnostic(
                "E004",
                f"cannot read spec file: byte 0x{bad} at offset {error.start} is not UTF-8",
                where,
                "save the spec as UTF-8 text",
            )
        ]


def compile_source(source: str, file: str, path: Path | None = None) -> Compiled:
    """Check and compile spec text."""
    c = analyze(source, file, path)
    sources = {file: source}
    if c.diagnostics.has_errors or c.ir is None:
        return None, list(c.diagnostics), sources
    c.ir.spec_hash = spec_hash(source, c.extra_sources)
    return generate(c.ir), list(c.diagnostics), sources


def compile_file(path: str | Path) -> Compiled:
    source, problems = read_spec(path)
    if source is None:
        return None, problems, {}
    return compile_source(source, str(path), Path(path))
