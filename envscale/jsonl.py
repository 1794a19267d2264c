"""Append-only JSON-lines files that survive a kill at any moment.

Each record is written as one whole line by a single `os.write` on a file opened with
O_APPEND, and the file is fsync'd after each batch. POSIX has no atomic append of more than a
page, so a process killed mid-write can leave an unterminated tail; `repair` cuts it off
before the file is read or appended to, and readers skip it, so none of them ever takes in
a partial line.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

BLOCK = 1 << 20


# A lone surrogate (a model may emit `\ud800`) cannot be encoded as UTF-8; inside a JSON
# string it can be written as its escape, which reads back as the same character.
_SURROGATE = re.compile("[\ud800-\udfff]")


def escape_surrogates(text: str) -> str:
    """The text with each lone surrogate written as its escape (`\\ud800`): UTF-8 can hold
    the result, and inside a JSON string it reads back as the same character."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def dumps(record: Any) -> str:
    """One JSON line, formatted as every JSON-lines file of the project is: non-ASCII text as
    it is, lone surrogates escaped, so that any text a record holds can be written."""
    text = json.dumps(record, ensure_ascii=False, separators=(", ", ": "))
    # Scanning for surrogates costs as much as the encoding itself; ASCII text, or text
    # that UTF-8 can hold, has none.
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return escape_surrogates(text)
    return text


def _line_start(f, end: int) -> int:
    """Offset just after the last newline before `end` (0 when there is none)."""
    pos = end
    while pos > 0:
        step = min(BLOCK, pos)
        f.seek(pos - step)
        block = f.read(step)
        at = block.rfind(b"\n")
        if at >= 0:
            return pos - step + at + 1
        pos -= step
    return 0


def repair(path: Path) -> int:
    """Cut an unterminated or unparsable tail off the file; returns the bytes removed."""
    if not path.exists():
        return 0
    size = path.stat().st_size
    with open(path, "rb+") as f:
        keep = _line_start(f, size)
        # The last complete line must parse too: a torn write never gets this far, but a file
        # cut short by other means (a full disk, a copy) might.
        while keep:
            start = _line_start(f, keep - 1)
            f.seek(start)
            try:
                json.loads(f.read(keep - start))
                break
            except ValueError:
                keep = start
        if keep != size:
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())
    return size - keep


def read(path: Path) -> Iterator[dict]:
    """The records of a JSON-lines file; an unterminated last line (a torn write) is skipped."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip() and line.endswith("\n"):
                yield json.loads(line)


class Appender:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, records: Iterable[dict]) -> int:
        """Append the records' lines in one write, then fsync; the number of records."""
        lines = [dumps(record) + "\n" for record in records]
        if not lines:
            return 0
        data = "".join(lines).encode("utf-8")
        written = os.write(self.fd, data)
        while written < len(data):  # regular files take it all at once; be safe anyway
            written += os.write(self.fd, data[written:])
        os.fsync(self.fd)
        return len(lines)

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> Appender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_atomic(path: Path, records: Iterable[dict]) -> None:
    """Write a whole file at once: a temporary file, fsync'd, then renamed over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for record in records:
                f.write(dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
