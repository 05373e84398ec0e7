"""Realistic unlabelled TCR chains from OLGA's shipped human recombination models (Sethna et al. 2019).

OLGA is GPL-3, so it is an optional extra (`pip install tcrbench[olga]`) and imported only here, only when a run
asks for `olga:` sequences. It draws from numpy's global generator, which is seeded from the source's `seed` and
put back afterwards. Generated chains are cached on disk by (chain, n, seed, OLGA version): 100,000 β chains take
about 6 s to make on one core.
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

import numpy as np
import polars as pl

from tcrbench.data.cache_dir import cache_root
from tcrbench.data.schema import CDR3A, CDR3B, PEPTIDE
from tcrbench.errors import UsageError

_MODELS = {"beta": "human_T_beta", "alpha": "human_T_alpha"}
INSTALL_HINT = "pip install 'tcrbench[olga]' (OLGA is GPL-3, so it is an optional extra)"


def olga_version() -> str:
    try:
        return metadata.version("olga")
    except metadata.PackageNotFoundError:
        raise UsageError(f"--pretrain-data olga:...: the olga package is not installed; {INSTALL_HINT}") from None


def _generator(chain: str) -> object:
    import olga
    import olga.load_model as load_model
    import olga.sequence_generation as generation

    folder = Path(olga.__file__).parent / "default_models" / _MODELS[chain]
    params, marginals = str(folder / "model_params.txt"), str(folder / "model_marginals.txt")
    v_anchors, j_anchors = str(folder / "V_gene_CDR3_anchors.csv"), str(folder / "J_gene_CDR3_anchors.csv")
    if chain == "beta":
        genomic = load_model.GenomicDataVDJ()
        genomic.load_igor_genomic_data(params, v_anchors, j_anchors)
        model = load_model.GenerativeModelVDJ()
        model.load_and_process_igor_model(marginals)
        return generation.SequenceGenerationVDJ(model, genomic)
    genomic_vj = load_model.GenomicDataVJ()
    genomic_vj.load_igor_genomic_data(params, v_anchors, j_anchors)
    model_vj = load_model.GenerativeModelVJ()
    model_vj.load_and_process_igor_model(marginals)
    return generation.SequenceGenerationVJ(model_vj, genomic_vj)


def generate(n: int, chain: str, seed: int) -> list[str]:
    """`n` productive CDR3 amino-acid sequences (junctions, C...F/W) of one chain, the same for the same seed."""
    olga_version()
    gen = _generator(chain)
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        return [gen.gen_rnd_prod_CDR3()[1] for _ in range(n)]  # type: ignore[attr-defined]
    finally:
        np.random.set_state(state)


def olga_frame(n: int, chain: str, seed: int, cache: Path | None = None) -> pl.DataFrame:
    """OLGA sequences as corpus rows (no peptide), from the on-disk cache when they were made before."""
    folder = (cache or cache_root()) / "olga"
    target = folder / f"{chain}-n{n}-seed{seed}-olga{olga_version()}.parquet"
    if target.exists():
        try:
            return pl.read_parquet(target)
        except (pl.exceptions.PolarsError, OSError):
            target.unlink(missing_ok=True)  # a damaged cache is made again, never used
    seqs = pl.Series("s", generate(n, chain, seed), dtype=pl.String)
    empty = pl.Series("e", [""] * n, dtype=pl.String)
    frame = pl.DataFrame(
        {
            PEPTIDE: empty,
            CDR3B: seqs if chain == "beta" else empty,
            CDR3A: seqs if chain == "alpha" else pl.Series("a", [None] * n, dtype=pl.String),
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    frame.write_parquet(tmp)
    os.replace(tmp, target)
    return frame
