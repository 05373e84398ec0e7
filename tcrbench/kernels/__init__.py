"""Fast, exact batched losses: NT-Xent and InfoNCE (dense and tiled), gradient caching, masked-LM.

See docs/kernels.md for the maths and docs/performance.md for measurements.
"""

from tcrbench.kernels.distributed import gather_with_grad
from tcrbench.kernels.gradcache import gradcache_step
from tcrbench.kernels.info_nce import info_nce
from tcrbench.kernels.mlm import masked_lm_loss
from tcrbench.kernels.ntxent import nt_xent
from tcrbench.kernels.tiled import DEFAULT_TILE_THRESHOLD, cross_lse, make_plan, self_lse

gradcache = gradcache_step  # the short name the objectives use

__all__ = [
    "DEFAULT_TILE_THRESHOLD",
    "cross_lse",
    "gather_with_grad",
    "gradcache",
    "gradcache_step",
    "info_nce",
    "make_plan",
    "masked_lm_loss",
    "nt_xent",
    "self_lse",
]
