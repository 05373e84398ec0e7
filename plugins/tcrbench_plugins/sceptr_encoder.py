"""SCEPTR, a published pretrained TCR model (MIT; weights inside its wheel), as the encoder `sceptr`.

The receptor side is SCEPTR's TCR vector, the peptide side a learned peptide encoder, joined by the peptide-receptor
product head of the chain CNN (`tcrbench.models.published_tcr`). Both protocols apply: `probe` fits the linear
probe on the frozen model's pooled vectors, `finetune` trains SCEPTR, the peptide encoder and the head together.
SCEPTR is already pretrained: run it with `--objective none`. An objective that needs per-position states (mlm)
cannot continue its pretraining, since it gives one vector per TCR; the runner says so instead of crashing.

Germline loops: the full variants read CDR1/CDR2 of both chains, from the table's cdr1a/cdr2a/cdr1b/cdr2b columns
or from its V genes (trav/trbv), per `tcrbench.data.vgenes`. The runner passes the prepared table to
`bind_table` before `build`, which decides the variant once for the run:
- `auto`: the default (full) model when at least `min_germline` of the rows have CDR1/CDR2 for every chain they
  have, else `cdr3_only` for the whole run (so a run never mixes the two models), with a warning naming the V
  genes that did not resolve;
- a full variant named outright (`default`, `large`, `tiny`, ...) is refused below `min_germline`, with the
  count and the unresolved V genes; above it, the few rows without loops run with their CDR3s only;
- `cdr3_only` variants ignore germline columns.
Each result row records the variant used, SCEPTR's model name and the germline counts under
`params.encoder.resolved`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

import numpy as np
import polars as pl
import torch
from torch import nn

from tcrbench.data.schema import CDR1A, CDR1B, CDR2A, CDR2B, CDR3A, CDR3B
from tcrbench.data.vgenes import GermlineReport, has_germline_columns, resolve_germline
from tcrbench.errors import UsageError
from tcrbench.plugins.hookspecs import Register, hookimpl
from tcrbench.plugins.params import param

log = logging.getLogger("tcrbench.run")

Variant = Literal[
    "auto",
    "default",
    "cdr3_only",
    "large",
    "small",
    "tiny",
    "blosum",
    "average_pooling",
    "mlm_only",
    "cdr3_only_mlm_only",
    "left_aligned",
    "shuffled_data",
    "synthetic_data",
    "dropout_noise_only",
]
CDR3_ONLY = ("cdr3_only", "cdr3_only_mlm_only")
LOOPS = (CDR1A, CDR2A, CDR1B, CDR2B)
EMBED_BATCH = 512


@dataclass
class _Bound:
    """What `bind_table` decided for one prepared table."""

    frame: pl.DataFrame
    variant: str
    report: GermlineReport
    germline: dict[tuple[str | None, str | None], tuple[str | None, ...]]
    restore: bool
    ambiguous: int
    cache: Any = None  # the adapters' shared tokens, made by the first build


def _looks_like_junctions(frame: pl.DataFrame) -> bool:
    """Whether most CDR3β keep their conserved C...F/W (IMGT junctions, as SCEPTR was trained on)."""
    s = frame[CDR3B].drop_nulls()
    return s.len() == 0 or float((s.str.starts_with("C") & s.str.contains("[FW]$")).mean() or 0.0) >= 0.5


def _germline_map(frame: pl.DataFrame) -> tuple[dict[tuple[str | None, str | None], tuple[str | None, ...]], int]:
    """(cdr3b, cdr3a) -> loops: a token batch carries the CDR3s only, so each TCR gets one combination, the one
    that knows most loops, then the commonest, then the first (a swapped negative that lost its V gene must not
    take the loops away from its binder row); and how many TCRs had more than one."""
    alpha = pl.col(CDR3A) if CDR3A in frame.columns else pl.lit(None, dtype=pl.String).alias(CDR3A)
    keys = [CDR3B, CDR3A]
    rows = frame.select(pl.col(CDR3B), alpha, *LOOPS).with_row_index("__i")
    combos = rows.group_by([*keys, *LOOPS]).agg(pl.len().alias("__n"), pl.col("__i").min().alias("__first"))
    combos = combos.with_columns(pl.sum_horizontal(pl.col(c).is_not_null() for c in LOOPS).alias("__known"))
    ambiguous = combos.group_by(keys).len().filter(pl.col("len") > 1).height
    order = combos.sort(["__known", "__n", "__first"], descending=[True, True, False])
    best = order.unique(keys, keep="first", maintain_order=True)
    return {(r[0], r[1]): tuple(r[2:6]) for r in best.select(*keys, *LOOPS).iter_rows()}, ambiguous


def _complete_rows(frame: pl.DataFrame, germline: dict[tuple[str | None, str | None], tuple[str | None, ...]]) -> int:
    """Rows whose TCR has CDR1 and CDR2 for each chain the row has, through the per-TCR map."""
    alpha = frame[CDR3A].to_list() if CDR3A in frame.columns else [None] * frame.height
    done = 0
    for b, a in zip(frame[CDR3B].to_list(), alpha):
        c1a, c2a, c1b, c2b = germline.get((b, a)) or (None, None, None, None)
        beta_ok = b is None or (c1b is not None and c2b is not None)
        done += beta_ok and (a is None or (c1a is not None and c2a is not None))
    return done


@dataclass
class Sceptr:
    variant: Variant = param("auto", help="SCEPTR model; auto: default with germline CDRs/V genes, else cdr3_only")
    min_germline: float = param(
        0.9, help="share of rows needing CDR1/CDR2 of every chain for a full variant (auto falls back below it)"
    )
    junctions: Literal["auto", "as_written", "restore"] = param(
        "auto", help="add C...F to CDR3s written without anchors (auto: when most CDR3β lack them)"
    )
    peptide_width: int = param(64, help="width of the learned peptide encoder beside SCEPTR's TCR vector")
    head_hidden: int = param(64, help="width of the peptide-receptor head's projections")
    dropout: float = param(0.1, help="dropout in the classification head")
    max_epochs: int = param(
        0,
        help="cap on fine-tuning epochs for this model (0: the run's budget); shown in the label, so a board says "
        "when the published model had fewer epochs than the other arms",
    )
    lr_scale: float = param(
        0.1,
        help="fine-tuning rate of SCEPTR's weights as a share of the budget's lr (the new peptide encoder and head "
        "train at the full rate), so fine-tuning adjusts the published weights instead of overwriting them",
    )
    name: ClassVar[str] = "sceptr"
    description: ClassVar[str] = "SCEPTR, published pretrained TCR model (weights in its wheel); use --objective none"
    published: ClassVar[bool] = True
    _bound: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_germline <= 1.0:
            raise ValueError(f"min_germline must be in [0, 1], got {self.min_germline}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.peptide_width < 1 or self.head_hidden < 1:
            raise ValueError("peptide_width and head_hidden must be positive")
        if not 0.0 < self.lr_scale <= 1.0:
            raise ValueError(f"lr_scale must be in (0, 1], got {self.lr_scale}")
        if self.max_epochs < 0:
            raise ValueError(f"max_epochs must be 0 (no cap) or more, got {self.max_epochs}")

    # ------------------------------------------------------------ the table
    def bind_table(self, frame: pl.DataFrame) -> None:
        """Decide the variant, the germline loops of each TCR and the CDR3 convention for this table (the runner
        calls it with the prepared table before `build`); a full variant without enough germline is refused."""
        if self._bound is not None and self._bound.frame is frame:
            return
        from tcrbench.models.sceptr_adapter import require_sceptr

        require_sceptr()
        full = self.variant not in CDR3_ONLY
        germline: dict[tuple[str | None, str | None], tuple[str | None, ...]] = {}
        report, ambiguous = GermlineReport(frame.height, 0), 0
        if full:  # without germline columns every loop is null and nothing is looked up
            resolved, report = resolve_germline(frame)
            germline, ambiguous = _germline_map(resolved)
            report = replace(report, complete=_complete_rows(frame, germline))  # what the model will see, per row
        enough = report.share >= self.min_germline
        variant = self.variant
        if variant == "auto":
            variant = "default" if enough and report.complete else "cdr3_only"
            if not enough and has_germline_columns(frame):
                log.warning("encoder sceptr: cdr3_only for the whole run: %s", report.note())
        elif full and not enough:
            raise UsageError(
                f"encoder sceptr:variant={self.variant} reads CDR1/CDR2 of both chains, but only "
                f"{report.complete:,} of {report.rows:,} rows have them (from cdr1a/cdr2a/cdr1b/cdr2b or V genes "
                f"trav/trbv; min_germline={self.min_germline})"
                + (f"; V genes not resolved: {report.unresolved_text()}" if report.unresolved else "")
                + "; use variant=auto or cdr3_only"
            )
        if variant in CDR3_ONLY:
            germline, ambiguous = {}, 0
        elif report.complete < report.rows or ambiguous:
            twice = f"; {ambiguous:,} TCRs (same CDR3s) with two germline combinations: the fullest used" * (
                ambiguous > 0
            )
            log.warning("encoder sceptr:variant=%s: %s%s", variant, report.note(), twice)
        restore = self.junctions == "restore" or (self.junctions == "auto" and not _looks_like_junctions(frame))
        self._bound = _Bound(frame, variant, report, germline, restore, ambiguous)

    def resolved(self) -> dict[str, Any]:
        """What this run used, for its result rows: the variant, SCEPTR's model, germline counts (empty before
        `bind_table`)."""
        b = self._bound
        if b is None:
            return {}
        from tcrbench.models.sceptr_adapter import VARIANTS

        out: dict[str, Any] = {
            "variant": b.variant,
            "model": VARIANTS[b.variant],  # the folder of the weights inside the sceptr wheel
            "junctions": "restored C...F" if b.restore else "as written",
        }
        if b.variant not in CDR3_ONLY:
            out.update(b.report.to_dict(), ambiguous_tcrs=b.ambiguous)
        return out

    def _variant(self) -> str:
        if self._bound is not None:
            return str(self._bound.variant)
        return "cdr3_only" if self.variant == "auto" else self.variant  # no table seen: no germline to use

    # ------------------------------------------------------------ models
    def _adapter(self) -> nn.Module:
        from tcrbench.models.sceptr_adapter import SceptrAdapter, TokenCache, load_variant

        variant = self._variant()
        loaded = load_variant(variant)
        b = self._bound
        cache = b.cache if b is not None else None
        if cache is None or cache.layout != loaded.layout:
            germline = b.germline if b is not None else {}
            cache = TokenCache(loaded.layout, germline, bool(b is not None and b.restore))
            if b is not None:
                b.cache = cache  # every cell of the run shares the tokens
        return SceptrAdapter(loaded, cache)

    def build(self, max_len: int) -> nn.Module:
        """`[peptide | SCEPTR vector]` with the product head; SCEPTR's weights come from the wheel, so torch's seed
        sets the peptide encoder only."""
        from tcrbench.models.published_tcr import PublishedTcrEncoder
        from tcrbench.models.sceptr_adapter import require_sceptr

        require_sceptr()
        return PublishedTcrEncoder(
            self._adapter(),
            peptide_width=self.peptide_width,
            head_hidden=self.head_hidden,
            dropout=self.dropout,
            lr_scale=self.lr_scale,
        )

    def embed_tcrs(self, frame: pl.DataFrame) -> np.ndarray:
        """Frozen SCEPTR vectors (float32, one per row, in order) for nearest-neighbour scorers, by the runner's
        rules: each TCR (its CDR3s) with the germline loops the frame knows for it. The variant is the bound
        table's, or decided on the first frame seen, so that later frames (a test fold) land in the same space.
        Each distinct TCR is embedded once."""
        from tcrbench.models.sceptr_adapter import TokenCache

        if self._bound is None:
            self.bind_table(frame)
        adapter: Any = self._adapter().eval()
        layout = adapter.cache.layout
        germline = _germline_map(resolve_germline(frame)[0])[0] if layout == "cdr" else {}
        cache = TokenCache(layout, germline, self._bound.restore)
        alpha = frame[CDR3A].to_list() if CDR3A in frame.columns else [None] * frame.height
        index: dict[tuple[Any, ...], int] = {}
        which = np.array([index.setdefault(k, len(index)) for k in zip(frame[CDR3B].to_list(), alpha)], np.int64)
        tokens = [cache.get(b, a) for b, a in index]
        order = sorted(range(len(tokens)), key=lambda i: 0 if tokens[i] is None else len(tokens[i]))  # less padding
        vectors = torch.zeros(len(tokens), adapter.width)
        with torch.no_grad():
            for start in range(0, len(order), EMBED_BATCH):
                chunk = order[start : start + EMBED_BATCH]
                vectors[chunk] = adapter.vectors([tokens[i] for i in chunk]).float().cpu()
        return vectors.numpy().astype(np.float32)[which]


@hookimpl
def register_encoders(register: Register) -> None:
    register(Sceptr)
