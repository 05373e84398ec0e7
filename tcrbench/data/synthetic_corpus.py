"""Known-answer controls for pretraining: unlabelled corpora that do, or do not, carry the synthetic binding rule.

A benchmark that only ever says "no difference" has not shown it could see one. The synthetic table's binders of
a peptide carry, in the CDR3's middle, the 3-residue motif its centre asks for (see `synthetic.py`). The
**positive** corpus is an antigen-experienced repertoire of those specificities: CDR3s built like the table's,
each carrying the motif of one of the table's peptides (chosen at random, with the table's mutation noise), with
no labels and no peptides. Motif residues then co-occur far more often than chance, which a masked-LM can learn
(the hidden residue of a motif is predictable from its two neighbours) and which an encoder's convolutions can
turn into motif detectors; those detectors are exactly the features the binding rule needs, so fine-tuning or a
probe on few labels should gain. The **negative** corpus is drawn the same way from the same generator, with
the same lengths, ends and residue composition, but its middles carry no motif of any peptide: nothing in it
points at the rule. Both depend on the table's seed only through its peptides; a corpus CDR3 that happens to
equal a held-out table CDR3 is removed by the run's leak guard.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl

from tcrbench.data.schema import CDR3B
from tcrbench.data.synthetic import (
    DEFAULT_DIFFICULTY,
    DEFAULT_PEPTIDES,
    _cdr3,
    _peptides,
    _plant,
    motif_for,
)
from tcrbench.errors import UsageError

Control = Literal["positive", "negative"]
DEFAULT_CORPUS = 20_000


def control_corpus(
    control: Control,
    n: int = DEFAULT_CORPUS,
    n_peptides: int = DEFAULT_PEPTIDES,
    difficulty: float = DEFAULT_DIFFICULTY,
    seed: int = 0,
) -> pl.DataFrame:
    """`n` unlabelled CDR3β rows (one column, cdr3b) for the table `synthesize(n_peptides=..., seed=...)`
    makes: the positive control carries its peptides' motifs, the negative control none of them."""
    if control not in ("positive", "negative"):
        raise UsageError(f"control must be 'positive' or 'negative', got {control!r}")
    if n < 1:
        raise UsageError(f"the control corpus needs at least 1 row, got {n}")
    motifs = [motif_for(p) for p in _peptides(n_peptides, np.random.default_rng(seed))]
    rng = np.random.default_rng([seed, 7919])  # one stream for both controls: same lengths, ends and composition
    rows: list[str] = []
    while len(rows) < n:
        cdr3, start, width = _cdr3(rng)
        target = int(rng.integers(len(motifs)))
        planted = _plant(cdr3, start, width, motifs[target], difficulty / 2, rng)
        if control == "positive":
            rows.append(planted)
        elif not any(m in cdr3 for m in motifs):
            rows.append(cdr3)
    return pl.DataFrame({CDR3B: rows}, schema={CDR3B: pl.String})
