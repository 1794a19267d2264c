"""What every command shares: exit codes, and a user's mistake as a message, not a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from envscale.dsl.diagnostics import Diagnostic, SpecError, render_all
from envscale.runtime.errors import DataError

EXIT_OK = 0
EXIT_SPEC_ERRORS = 1  # the spec has errors, or a tool call, a replay or a check failed
EXIT_USAGE = 2  # bad command line, unreadable input, or a failed backend
EXIT_INTERRUPTED = 130


def print_diagnostics(diagnostics: Sequence[Diagnostic], sources: dict[str, str]) -> None:
    if diagnostics:
        # sys.stderr is looked up at each call, so a redirected stream is honoured.
        print(render_all(diagnostics, sources), file=sys.stderr)


def error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def run_reporting_errors(body: Callable[[], int], resumable: bool = False) -> int:
    """Run a command's body; a spec with errors, bad data, a missing or unreadable file, or a
    failed backend ends it with a message and an exit status."""
    try:
        return body()
    except SpecError as problem:
        print_diagnostics(problem.diagnostics, problem.sources)
        return EXIT_SPEC_ERRORS
    except (DataError, ValueError, OSError, RuntimeError) as problem:
        error(str(problem))
        return EXIT_USAGE
    except KeyboardInterrupt:
        again = "; run the same command again to continue" if resumable else ""
        print("\ninterrupted" + again, file=sys.stderr)
        return EXIT_INTERRUPTED


def shipped(name: str) -> Path:
    """A file of the shipped specs folder: in the working directory first, then beside the
    package."""
    local = Path("specs") / name
    return local if local.exists() else Path(__file__).resolve().parents[2] / "specs" / name
