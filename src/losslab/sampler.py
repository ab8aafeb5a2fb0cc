"""Minibatches and epochs: which examples each iteration sees, and how many epochs that makes.

Without replacement (the default) every epoch is a fresh random permutation of
the I examples cut into batches of B; the last batch of an epoch holds the
I mod B leftover examples (``drop_last=False``, so an epoch has ceil(I/B)
batches and every example is seen once) or is dropped (``drop_last=True``:
floor(I/B) batches, I mod B examples unseen that epoch). With replacement every
batch draws B indices uniformly; there is no natural epoch, so "epochs
completed" is floor(examples seen / I). Full batch (``batch_size=None``): every
iteration sees all I examples and is one epoch.

Batches are drawn up front from ``numpy.random.default_rng(seed)`` as an index
array (T, B) and a mask (T, B) (False marks padding of a short last batch), so a
run is reproducible from its seed and the whole run can be one ``lax.scan``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .errors import check_int, check_seed
from .memory import refuse_if_over

__all__ = ["EpochCount", "Sampler", "batches_per_epoch", "epochs_for"]


class EpochCount(NamedTuple):
    """After ``iterations`` minibatch steps: epochs completed and examples seen."""

    iterations: int
    epochs: int
    examples_seen: int
    batches_per_epoch: int


def batches_per_epoch(n: int, batch_size: int | None, *, drop_last: bool = False) -> int:
    """ceil(I/B) batches per epoch (floor(I/B) with ``drop_last``); 1 for full batch."""
    if batch_size is None:
        return 1
    return n // batch_size if drop_last else -(-n // batch_size)


def epochs_for(
    iterations: int, n: int, batch_size: int | None, *, drop_last: bool = False, replace: bool = False
) -> EpochCount:
    """Epochs completed and examples seen after ``iterations`` steps on ``n`` examples.

    >>> epochs_for(81, 30, 5)
    EpochCount(iterations=81, epochs=13, examples_seen=405, batches_per_epoch=6)
    """
    iterations = check_int("iterations", iterations, owner="epochs_for", ge=0)
    n = check_int("n", n, owner="epochs_for", ge=1)
    if batch_size is None:
        return EpochCount(iterations, iterations, iterations * n, 1)
    batch_size = check_int("batch_size", batch_size, owner="epochs_for", ge=1, le=n)
    per_epoch = batches_per_epoch(n, batch_size, drop_last=drop_last)
    if replace:
        seen = iterations * batch_size
        return EpochCount(iterations, seen // n, seen, per_epoch)
    full, within = divmod(iterations, per_epoch)
    per_epoch_examples = n if not drop_last else per_epoch * batch_size
    # every batch before the last of an epoch is full, so a partial epoch saw within * B examples
    return EpochCount(iterations, full, full * per_epoch_examples + within * batch_size, per_epoch)


class Sampler:
    """Draws the minibatches of a run: ``indices, mask = Sampler(I, B, seed=1).batches(T)``."""

    def __init__(
        self, n: int, batch_size: int | None = None, *, replace: bool = False, drop_last: bool = False, seed: int = 0
    ) -> None:
        self.n = check_int("n", n, owner="Sampler", ge=1)
        self.batch_size = None if batch_size is None else check_int("batch_size", batch_size, owner="Sampler", ge=1, le=self.n)
        self.replace = bool(replace)
        self.drop_last = bool(drop_last)
        self.seed = check_seed("seed", seed, owner="Sampler")

    @property
    def width(self) -> int:
        return self.n if self.batch_size is None else self.batch_size

    def batches(self, iterations: int) -> tuple[np.ndarray, np.ndarray]:
        """(indices (T, B) int32, mask (T, B) bool) for T = ``iterations`` steps."""
        iterations = check_int("iterations", iterations, owner="Sampler.batches", ge=0)
        n, width = self.n, self.width
        # int32 indices + bool mask per slot, and (without replacement) the epochs' permutations besides
        refuse_if_over(iterations * width * 5 * (1 if self.replace or self.batch_size is None else 2) + 16 * n, None,
                       owner="Sampler", what=f"The minibatch index table of {iterations:,} steps x {width:,} examples",
                       advice="run fewer steps or use smaller batches")
        if self.batch_size is None:
            idx = np.broadcast_to(np.arange(n, dtype=np.int32), (iterations, n)).copy()
            return idx, np.ones((iterations, n), dtype=bool)
        rng = np.random.default_rng(self.seed)
        if self.replace:
            idx = rng.integers(0, n, size=(iterations, width), dtype=np.int64).astype(np.int32)
            return idx, np.ones((iterations, width), dtype=bool)
        per_epoch = batches_per_epoch(n, width, drop_last=self.drop_last)
        n_epochs = -(-iterations // per_epoch) if iterations else 0
        perms = rng.permuted(np.tile(np.arange(n, dtype=np.int32), (n_epochs, 1)), axis=1)
        # cut each epoch's permutation into per_epoch rows of width, padding the short last one
        padded = per_epoch * width
        if padded >= n:
            cols = np.zeros((n_epochs, padded), dtype=np.int32)
            mask = np.zeros((n_epochs, padded), dtype=bool)
            cols[:, :n] = perms
            mask[:, :n] = True
        else:  # drop_last: the leftover n - padded examples are not used this epoch
            cols = perms[:, :padded]
            mask = np.ones((n_epochs, padded), dtype=bool)
        idx = cols.reshape(n_epochs * per_epoch, width)[:iterations]
        return idx, mask.reshape(n_epochs * per_epoch, width)[:iterations]

    def count(self, iterations: int) -> EpochCount:
        return epochs_for(iterations, self.n, self.batch_size, drop_last=self.drop_last, replace=self.replace)

    def __repr__(self) -> str:
        mode = "replace" if self.replace else ("drop_last" if self.drop_last else "keep_last")
        return f"Sampler(n={self.n}, batch_size={self.batch_size}, {mode}, seed={self.seed})"
