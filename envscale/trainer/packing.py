"""Packing samples into rows, and rows into optimizer steps, deterministically.

A row holds several samples back to back. Position ids restart at every sample, which is
what keeps attention from crossing between them: with no 2D attention mask, transformers
builds a block-diagonal causal mask from the position ids (and flash-attention kernels
read them as sequence boundaries). The loss targets are the supervised tokens of each
sample, never a sample's first token, so no prediction crosses a boundary either.

The whole schedule of a phase (which samples, in which rows, at which step) is a function
of the seed, so a resumed run only needs the step number to continue where it stopped.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from .render import Sample


def pack(lengths: Sequence[int], capacity: int, order: Sequence[int]) -> list[list[int]]:
    """Best-fit decreasing: longest first (ties in `order`), each into the fullest row it fits."""
    ranked = sorted(order, key=lambda i: -lengths[i])
    rows: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (space left, row index), sorted
    for i in ranked:
        need = lengths[i]
        if need > capacity:
            raise ValueError(f"sample of {need} tokens does not fit a row of {capacity}")
        at = bisect.bisect_left(free, (need, -1))
        if at < len(free):
            space, r = free.pop(at)
            rows[r].append(i)
            bisect.insort(free, (space - need, r))
        else:
            rows.append([i])
            bisect.insort(free, (capacity - need, len(rows) - 1))
    return rows


@dataclass
class PhasePlan:
    steps: list[list[list[int]]]  # step -> rows -> sample indices
    accumulation: int  # rows per process and step (the last step may have fewer)
    world_size: int
    steps_per_epoch: int

    def __len__(self) -> int:
        return len(self.steps)

    def rows_for(self, step: int, rank: int) -> list[list[int] | None]:
        """This process's rows at `step`; None marks a filler row that trains on nothing."""
        rows = self.steps[step]
        mine: list[list[int] | None] = list(rows[rank :: self.world_size])
        return mine or [None]


def plan_phase(
    samples: Sequence[Sample],
    row_tokens: int,
    tokens_per_batch: int,
    world_size: int,
    epochs: float,
    steps: int,
    seed: str,
) -> PhasePlan:
    if not samples:
        raise ValueError("no training samples")
    lengths = [len(s) for s in samples]
    accumulation = max(1, math.ceil(tokens_per_batch / (row_tokens * world_size)))
    per_step = accumulation * world_size

    def epoch_steps(epoch: int) -> list[list[list[int]]]:
        rng = random.Random(f"{seed}:{epoch}")
        order = list(range(len(samples)))
        rng.shuffle(order)
        rows = pack(lengths, row_tokens, order)
        rng.shuffle(rows)
        return [rows[i : i + per_step] for i in range(0, len(rows), per_step)]

    first = epoch_steps(0)
    steps_per_epoch = len(first)
    total = steps if steps > 0 else max(1, math.ceil(epochs * steps_per_epoch))
    plan: list[list[list[int]]] = []
    epoch = 0
    current = first
    while len(plan) < total:
        plan.extend(current[: total - len(plan)])
        epoch += 1
        current = epoch_steps(epoch)
    return PhasePlan(plan, accumulation, world_size, steps_per_epoch)


@dataclass
class Batch:
    input_ids: list[int]
    position_ids: list[int]
    keep: list[int]  # positions whose next-token logits are trained
    targets: list[int]  # the token each kept position must predict
    tokens: int
    weights: list[float] = field(default_factory=list)  # each target's loss weight


def collate(samples: Sequence[Sample], call_weight: float = 1.0) -> Batch:
    input_ids: list[int] = []
    position_ids: list[int] = []
    keep: list[int] = []
    targets: list[int] = []
    weights: list[float] = []
    for sample in samples:
        offset = len(input_ids)
        input_ids.extend(sample.input_ids)
        position_ids.extend(range(len(sample)))
        for j in range(1, len(sample)):
            if sample.mask[j]:
                keep.append(offset + j - 1)
                targets.append(sample.input_ids[j])
                weights.append(token_weight(sample, j, call_weight))
    return Batch(input_ids, position_ids, keep, targets, len(input_ids), weights)


def token_weight(sample: Sample, j: int, call_weight: float) -> float:
    return call_weight if sample.calls is not None and sample.calls[j] else 1.0


def supervised_in(samples: Sequence[Sample]) -> int:
    return sum(sum(s.mask[1:]) for s in samples)


def weight_in(samples: Sequence[Sample], call_weight: float) -> float:
    """The summed loss weight of the supervised tokens of `samples`."""
    return sum(
        token_weight(s, j, call_weight) for s in samples for j in range(1, len(s)) if s.mask[j]
    )
