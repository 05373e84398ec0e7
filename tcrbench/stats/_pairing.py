"""Deciding what counts as one pair from the data, so that scores of redrawn folds are never mis-paired.

Seeds that only re-initialise a model on the same folds give near-copies of each fold (average them, n = k);
seeds that redraw the folds give new evidence (n = r·k). A table says which through a ``split_seed`` column
(the seed that drew the folds); without one, the caller must say, unless there is a single seed.
"""

from __future__ import annotations

from dataclasses import dataclass

from tcrbench.errors import UsageError

ONE_SEED = "one seed: each fold is a pair (n = k)"
REDRAWN = "seeds redraw the folds: each (seed, fold) cell is a pair (n = r*k)"
FIXED = "seeds re-initialise on fixed folds: differences averaged over seeds per fold (n = k)"

FROM_SPLIT_SEED = "split_seed column"
FROM_ARGUMENT = "given"
FROM_ONE_SEED = "one seed"


@dataclass(frozen=True)
class Pairing:
    """Which seeds share one draw of the folds (``partitions``, one label per seed), and why."""

    partitions: tuple[int, ...]
    seeds_redraw_folds: bool
    description: str
    decided_by: str


def _describe(n_seeds: int, n_parts: int) -> str:
    if n_seeds == 1:
        return ONE_SEED
    if n_parts == n_seeds:
        return REDRAWN
    if n_parts == 1:
        return FIXED
    return (
        f"{n_parts} draws of the folds for {n_seeds} seeds (split_seed): differences averaged over the seeds of "
        f"each draw per fold (n = {n_parts}*k)"
    )


def resolve_pairing(
    seeds: list[str], split_seeds: list[str] | None, seeds_redraw_folds: bool | None, source: str
) -> Pairing:
    """The pairing a table's seeds call for; an explicit ``seeds_redraw_folds`` the split_seed column
    contradicts is an error, and so is a table with several seeds that says nothing."""
    n_seeds = len(seeds)
    if split_seeds is not None:
        index = {s: i for i, s in enumerate(dict.fromkeys(split_seeds))}
        parts = tuple(index[s] for s in split_seeds)
        n_parts = len(index)
        if seeds_redraw_folds is True and n_parts < n_seeds:
            raise UsageError(
                f"{source}: seeds_redraw_folds=True (--seeds-redraw-folds), but column split_seed gives "
                f"{n_parts} draw(s) of the folds for {n_seeds} seeds; leave it out to pair by split_seed"
            )
        if seeds_redraw_folds is False and n_parts > 1:
            raise UsageError(
                f"{source}: seeds_redraw_folds=False (--fixed-folds), but column split_seed shows {n_parts} "
                "different draws of the folds, and averaging a fold across them would mix partitions; "
                "leave it out to pair by split_seed"
            )
        return Pairing(parts, n_parts > 1, _describe(n_seeds, n_parts), FROM_SPLIT_SEED)
    if seeds_redraw_folds is None:
        if n_seeds > 1:
            raise UsageError(
                f"{source}: {n_seeds} seeds, but nothing says whether each seed drew new folds: add a "
                "split_seed column (the seed that drew the row's folds: equal to seed when seeds redraw the "
                "folds, constant when they do not) or pass seeds_redraw_folds=True/False "
                "(CLI: --seeds-redraw-folds/--fixed-folds)"
            )
        return Pairing((0,), False, ONE_SEED, FROM_ONE_SEED)
    parts = tuple(range(n_seeds)) if seeds_redraw_folds else (0,) * n_seeds
    return Pairing(parts, bool(seeds_redraw_folds), _describe(n_seeds, len(set(parts))), FROM_ARGUMENT)
