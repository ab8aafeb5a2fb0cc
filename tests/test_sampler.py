"""Minibatches and epochs: the arithmetic against brute-force counting (hypothesis), the draws themselves."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from losslab.errors import LosslabError
from losslab.sampler import Sampler, epochs_for


def brute_force(iterations: int, n: int, batch: int, drop_last: bool):
    """Deal from a deck of n cards, refilled when an epoch ends; count epochs and cards dealt."""
    remaining, epochs, seen, sizes = n, 0, 0, []
    for _ in range(iterations):
        take = min(batch, remaining)
        seen += take
        sizes.append(take)
        remaining -= take
        if remaining == 0 or (drop_last and remaining < batch):
            epochs += 1
            remaining = n
    return epochs, seen, sizes


problem = st.integers(1, 60).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n), st.integers(0, 200), st.booleans()))


@settings(max_examples=150, deadline=None)
@given(problem)
def test_epoch_arithmetic_matches_brute_force(case):
    n, batch, iterations, drop_last = case
    epochs, seen, sizes = brute_force(iterations, n, batch, drop_last)
    count = epochs_for(iterations, n, batch, drop_last=drop_last)
    assert (count.epochs, count.examples_seen) == (epochs, seen)
    idx, mask = Sampler(n, batch, drop_last=drop_last, seed=n + iterations).batches(iterations)
    assert idx.shape == (iterations, batch)
    assert mask.sum(axis=1).tolist() == sizes
    assert int(mask.sum()) == seen


@settings(max_examples=60, deadline=None)
@given(problem)
def test_each_epoch_sees_every_example_once(case):
    n, batch, _, drop_last = case
    per_epoch = -(-n // batch) if not drop_last else n // batch
    idx, mask = Sampler(n, batch, drop_last=drop_last, seed=7).batches(3 * per_epoch)
    for e in range(3):
        rows = slice(e * per_epoch, (e + 1) * per_epoch)
        drawn = idx[rows][mask[rows]]
        assert len(set(drawn.tolist())) == len(drawn)  # without replacement
        if drop_last:
            assert len(drawn) == per_epoch * batch
        else:
            assert sorted(drawn.tolist()) == list(range(n))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n), st.integers(0, 100))))
def test_with_replacement_counts(case):
    n, batch, iterations = case
    count = epochs_for(iterations, n, batch, replace=True)
    assert count.examples_seen == iterations * batch
    assert count.epochs == (iterations * batch) // n
    idx, mask = Sampler(n, batch, replace=True, seed=1).batches(iterations)
    assert mask.all() and idx.shape == (iterations, batch) and (idx.size == 0 or (idx.min() >= 0 and idx.max() < n))


def test_full_batch_is_one_epoch_per_iteration():
    assert epochs_for(21, 30, None) == (21, 21, 630, 1)
    idx, mask = Sampler(30, None).batches(3)
    assert (idx == np.arange(30)).all() and mask.all()


def test_notebook_6_4_counts():
    count = epochs_for(81, 30, 5)
    assert (count.epochs, count.examples_seen, count.batches_per_epoch) == (13, 405, 6)


def test_reproducible_from_seed_and_reshuffled_each_epoch():
    a, _ = Sampler(30, 5, seed=3).batches(60)
    b, _ = Sampler(30, 5, seed=3).batches(60)
    c, _ = Sampler(30, 5, seed=4).batches(60)
    assert (a == b).all() and not (a == c).all()
    epochs = a.reshape(10, 30)
    assert len({tuple(row) for row in epochs}) == 10  # a fresh permutation every epoch


def test_with_replacement_draws_repeats():
    idx, _ = Sampler(10, 10, replace=True, seed=0).batches(20)
    assert any(len(set(row.tolist())) < 10 for row in idx)


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        (dict(n=10, batch_size=0), "The 'batch_size' parameter of Sampler must be >= 1 and <= 10. Got 0 instead."),
        (dict(n=10, batch_size=11), "must be >= 1 and <= 10. Got 11 instead."),
    ],
)
def test_bad_batch_size(kwargs, fragment):
    with pytest.raises(LosslabError) as info:
        Sampler(**kwargs)
    assert fragment in str(info.value)
