"""Shared test fixtures. Golden files are rewritten only with --update-golden.

A test fails when an environment hit an internal error (a bug in envscale, see
envscale/runtime/environment.py) while it ran, unless it is marked `internal_errors_expected`.
Only this process's environments are seen; episodes in worker processes carry theirs in the
trajectories.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest

from envscale.runtime.environment import INTERNAL_ERRORS

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", help="rewrite golden files instead of comparing"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "internal_errors_expected: the test provokes internal errors on purpose"
    )


def _checked(item: pytest.Item) -> Generator[None, object, object]:
    """Run one phase of a test (the hook's inner part), then fail it on new internal errors."""
    before = INTERNAL_ERRORS.count
    result = yield
    new = INTERNAL_ERRORS.since(before)
    if new and item.get_closest_marker("internal_errors_expected") is None:
        shown = "\n".join(f"{e.tool}: {e.message}\n{e.traceback}" for e in new)
        count = INTERNAL_ERRORS.count - before
        pytest.fail(f"{count} internal error(s) in an environment:\n{shown}", pytrace=False)
    return result


# Setup too: module fixtures that sample tasks or run episodes call tools.
@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _checked(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _checked(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    return (yield from _checked(item))


@pytest.fixture
def golden(request: pytest.FixtureRequest):
    """Compare text with a golden file; with --update-golden, write it instead."""
    update = request.config.getoption("--update-golden")

    def check(path: Path, actual: str) -> None:
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
            return
        assert path.exists(), f"missing golden file {path}; run pytest --update-golden to create it"
        expected = path.read_text(encoding="utf-8")
        assert actual == expected, (
            f"{path} differs; if the change is intended, run pytest --update-golden"
        )

    return check
