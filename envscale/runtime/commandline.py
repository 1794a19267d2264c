"""What the runtime's commands share: turning a user's mistake into a message, not a traceback,
and running one command as `python -m` a module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

EXIT_OK = 0
EXIT_SPEC_ERRORS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def run_reporting_errors(body: Callable[[], int], resumable: bool = False) -> int:
    """Run a command's body; a spec with errors, bad data, a missing or unreadable file, or a
    failed backend ends it with a message and an exit status."""
    from envscale.dsl.diagnostics import SpecError, render_all
    from envscale.runtime.errors import DataError

    try:
        return body()
    except SpecError as error:
        print(render_all(error.diagnostics, error.sources), file=sys.stderr)
        return EXIT_SPEC_ERRORS
    except (DataError, ValueError, OSError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\ninterrupted" + ("; run the same command again to continue" if resumable else ""), file=sys.stderr)
        return EXIT_INTERRUPTED


def module_main(register: Callable[[Any], None], command: str, argv: Sequence[str] | None) -> int:
    """`python -m MODULE ARGS...`, the same as `envscale COMMAND ARGS...`."""
    parser = argparse.ArgumentParser(prog="envscale")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([command, *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)
