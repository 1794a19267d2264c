"""Reading a spec file's text, or saying why it cannot be read."""

from __future__ import annotations

import stat
from pathlib import Path

from envscale.dsl.ast import Span
from envscale.dsl.diagnostics import Diagnostic

# A spec file larger than this is refused unread (E004): no domain needs that much text, and
# reading /dev/zero or a huge file must not exhaust memory.
MAX_SPEC_BYTES = 16 * 1024 * 1024


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
