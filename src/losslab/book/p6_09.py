"""Problem 6.9: how many epochs are 1,000 SGD iterations on 100 points with batch size 20?"""

from __future__ import annotations

import numpy as np

from .result import BookContext, Check, ProblemResult
from .seed import seed_section

TITLE = "Epochs of stochastic gradient descent"
STATEMENT = (
    "We run the stochastic gradient descent algorithm for 1,000 iterations on a dataset of size 100 with a "
    "batch size of 20. How many epochs are we running the algorithm for?"
)

ITERATIONS, N_POINTS, BATCH = 1000, 100, 20


def count_passes_brute_force(iterations: int, n: int, batch_size: int, seed: int = 0) -> float:
    """Independent of the engine: shuffle, cut into batches, and count how many points have been visited, / n."""
    rng = np.random.default_rng(seed)
    seen = 0
    order = rng.permutation(n)
    position = 0
    for _ in range(iterations):
        take = order[position : position + batch_size]
        position += batch_size
        if position >= n:  # a pass is complete: reshuffle for the next epoch
            order = rng.permutation(n)
            position = 0
        seen += len(take)
    return seen / n


def solve(ctx: BookContext) -> ProblemResult:
    from .. import sampler as _sampler

    # -- compute: iterations x (points per iteration) / (points per epoch); every count here is exact
    epochs = ITERATIONS * BATCH / N_POINTS
    batches_per_epoch = N_POINTS // BATCH
    seed_epochs = seed_claimed_epochs()
    seed_ok = seed_epochs is not None and float(seed_epochs) == epochs

    # -- checks, against independent references: a brute-force count, the engine's formula and its sampler
    brute = count_passes_brute_force(ITERATIONS, N_POINTS, BATCH, seed=ctx.seed)
    count = _sampler.epochs_for(ITERATIONS, N_POINTS, BATCH)
    counted = _count_with_sampler(_sampler, ctx.seed)
    checks = [
        Check("brute-force count of passes", brute == epochs, f"shuffled batches visited {brute:g} x 100 points; formula {epochs:g}"),
        Check("losslab.sampler.epochs_for", float(count.epochs) == epochs and count.examples_seen == ITERATIONS * BATCH, f"epochs_for(1000, 100, 20) = {count}"),
        Check(
            "losslab.sampler: passes counted over 1,000 drawn batches",
            counted["epochs"] == epochs and counted["every_point_each_epoch"],
            f"counted {counted['epochs']:g} complete passes; every epoch visits each of the 100 points exactly once: {counted['every_point_each_epoch']}",
        ),
    ]

    # -- text
    summary = (
        f"**{epochs:g} epochs.** Each iteration uses a batch of 20 points, so one epoch (one pass through the 100 points) "
        f"takes $100/20 = {batches_per_epoch}$ iterations, and 1,000 iterations are $1000/{batches_per_epoch} = {epochs:g}$ epochs."
    )
    derivation = (
        "An epoch is one pass through the whole training set. With $I$ points and batch size $B$ (that divides $I$), "
        "an epoch consists of $I/B$ iterations, so $T$ iterations are"
        "$$E = \\frac{T}{I/B} = \\frac{T B}{I} = \\frac{1000 \\cdot 20}{100} = 200.$$"
        "The sheet's arithmetic \"1000 iterations / 100 samples = 10 iterations per sample\" divides iterations by points, "
        "which has no meaning (an iteration visits 20 points, not 1/10 of one); it then computes $100/20 = 5$ iterations "
        "per epoch correctly but reports that number as the number of epochs."
    )
    return ProblemResult(
        problem="6.9",
        title=TITLE,
        statement=STATEMENT,
        answer={"epochs": epochs, "seed_epochs": seed_epochs, "iterations_per_epoch": batches_per_epoch, "iterations": ITERATIONS, "n": N_POINTS, "batch_size": BATCH},
        summary=summary,
        checks=checks,
        seed_verdict="agrees" if seed_ok else "disagrees",
        seed_notes=(
            f"The sheet says {seed_epochs:g} epochs; the answer is {epochs:g}. {batches_per_epoch} is the number of iterations per epoch (100/20), not the number of epochs, "
            "and '1000 iterations / 100 samples = 10 iterations per sample' is not a meaningful quantity."
            if not seed_ok
            else "The sheet's number matches."
        ),
        derivation=derivation,
    )


def seed_claimed_epochs() -> float | None:
    """The number of epochs the seed sheet states ("... for N epochs"), or None."""
    import re

    match = re.search(r"for\s+([0-9][0-9,]*(?:\.[0-9]+)?)\s+epochs", seed_section("6.9"))
    return float(match.group(1).replace(",", "")) if match else None


def _count_with_sampler(sampler, seed: int) -> dict:
    """Draw 1,000 batches from the engine's sampler and count complete passes."""
    return sampler_count(sampler, ITERATIONS, N_POINTS, BATCH, seed)


def sampler_count(sampler, iterations: int, n: int, batch_size: int, seed: int) -> dict:
    indices, mask = sampler.Sampler(n, batch_size, seed=seed).batches(iterations)
    flat = np.asarray(indices)[np.asarray(mask)]
    epochs = flat.size / n
    per_epoch = flat[: (flat.size // n) * n].reshape(-1, n)
    each_once = bool(all(np.array_equal(np.sort(row), np.arange(n)) for row in per_epoch))
    return {"epochs": epochs, "every_point_each_epoch": each_once}
