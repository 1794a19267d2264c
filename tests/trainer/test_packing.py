import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from envscale.trainer.packing import collate, pack, plan_phase
from envscale.trainer.render import Sample


@settings(max_examples=100, deadline=None)
@given(lengths=st.lists(st.integers(1, 64), min_size=1, max_size=60), capacity=st.integers(64, 200))
def test_pack_places_every_sample_once_within_capacity(lengths, capacity):
    rows = pack(lengths, capacity, range(len(lengths)))
    placed = sorted(i for row in rows for i in row)
    assert placed == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in row) <= capacity for row in rows)


def _samples(spec):
    """Samples of given lengths; every third token after the first is supervised."""
    out = []
    for n, length in enumerate(spec):
        ids = [(n * 31 + k * 7) % 200 + 3 for k in range(length)]
        mask = [k > 0 and k % 3 == 0 for k in range(length)]
        out.append(Sample(ids, mask, f"s{n}"))
    return out


def test_collate_keeps_each_samples_mask_and_restarts_positions():
    samples = _samples([7, 5, 9])
    batch = collate(samples)
    assert batch.position_ids == [*range(7), *range(5), *range(9)]
    starts = [0, 7, 12]
    expected_keep, expected_targets = [], []
    for start, s in zip(starts, samples, strict=True):
        for j in range(1, len(s)):
            if s.mask[j]:
                expected_keep.append(start + j - 1)
                expected_targets.append(s.input_ids[j])
    assert batch.keep == expected_keep and batch.targets == expected_targets
    # No target is a sample's first token, so no prediction crosses a boundary.
    assert not set(k + 1 for k in batch.keep) & set(starts)


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_rows_do_not_attend_across_samples(tiny_path, attention):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_path, attn_implementation=attention).eval()
    samples = _samples([23, 11, 30])
    batch = collate(samples)
    with torch.no_grad():
        packed = model(
            input_ids=torch.tensor([batch.input_ids]),
            position_ids=torch.tensor([batch.position_ids]),
            use_cache=False,
        ).logits[0]
        start = 0
        for s in samples:
            alone = model(input_ids=torch.tensor([s.input_ids]), use_cache=False).logits[0]
            torch.testing.assert_close(packed[start : start + len(s)], alone, atol=1e-5, rtol=1e-4)
            start += len(s)


def test_plan_is_deterministic_and_splits_rows_across_processes():
    samples = _samples([40, 13, 77, 5, 61, 30, 22, 90, 8, 49] * 3)
    a = plan_phase(samples, 128, 512, world_size=2, epochs=2, steps=0, seed="0:0")
    b = plan_phase(samples, 128, 512, world_size=2, epochs=2, steps=0, seed="0:0")
    assert a.steps == b.steps and a.accumulation == 2
    first_epoch = [i for step in a.steps[: a.steps_per_epoch] for row in step for i in row]
    assert sorted(first_epoch) == list(range(len(samples)))
    for step in range(len(a)):
        mine = [r for rank in range(2) for r in a.rows_for(step, rank) if r is not None]
        assert sorted(map(tuple, mine)) == sorted(map(tuple, a.steps[step]))
    fixed = plan_phase(samples, 128, 512, world_size=1, epochs=1, steps=25, seed="0:0")
    assert len(fixed) == 25


def test_packed_loss_is_the_sum_of_each_samples_loss(tiny_path):
    from transformers import AutoModelForCausalLM

    from envscale.trainer.loop import row_loss

    model = AutoModelForCausalLM.from_pretrained(tiny_path).eval()
    samples = _samples([23, 11, 30])
    with torch.no_grad():
        packed = row_loss(model, collate(samples), torch.device("cpu"))
        alone = sum(row_loss(model, collate([s]), torch.device("cpu")) for s in samples)
    torch.testing.assert_close(packed, alone, atol=1e-4, rtol=1e-5)
