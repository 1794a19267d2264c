"""TRL's trainers set up accelerate's process-wide state with their own precision; it is
cleared after each test so that later trainer runs in the same process start afresh."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def fresh_accelerate_state() -> Iterator[None]:
    yield
    if "accelerate.state" not in sys.modules:  # no trainer ran: nothing to clear
        return
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()
