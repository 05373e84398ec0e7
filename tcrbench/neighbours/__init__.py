"""Nearest-neighbour scoring: the tcrdist metric and per-peptide kNN scores in any distance."""

from tcrbench.neighbours.knn import NEUTRAL, Scorer, embedding_distances, neighbour_scores
from tcrbench.neighbours.tcrdist import CDR3_LOOP, GERMLINE_LOOP, Loop, loop_distances, tcr_distances

__all__ = [
    "CDR3_LOOP",
    "GERMLINE_LOOP",
    "NEUTRAL",
    "Loop",
    "Scorer",
    "embedding_distances",
    "loop_distances",
    "neighbour_scores",
    "tcr_distances",
]
