"""The study's slow approach, re-implemented faithfully so the benchmarks can compare against it.

* NT-Xent: the similarity matrix by broadcasting, ``cosine_similarity(z[:, None, :], z[None, :, :], dim=2)``,
  which materialises (2N)² × d tensors; positives from two diagonals; negatives picked by a mask that is
  built with a Python loop (once per batch size, as the study cached it); cross-entropy against column 0.
* mask1: one allowed position per row replaced by ``<mask>``, with a Python loop over the rows.

Not part of the package: nothing here should be used for training.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from tcrbench.data.vocab import MASK


class StudyNTXent(nn.Module):
    """NT-Xent as the study computed it (broadcast cosine similarity, masked negatives, summed CE / 2N)."""

    def __init__(self, temperature: float) -> None:
        super().__init__()
        self.temperature = temperature
        self.similarity = nn.CosineSimilarity(dim=2)
        self.criterion = nn.CrossEntropyLoss(reduction="sum")
        self._masks: dict[int, torch.Tensor] = {}

    @staticmethod
    def negatives_mask(n: int) -> torch.Tensor:
        mask = torch.ones((2 * n, 2 * n), dtype=torch.bool)
        mask = mask.fill_diagonal_(False)
        for i in range(n):
            mask[i, n + i] = False
            mask[n + i, i] = False
        return mask

    def forward(self, z_i: torch.Tensor, z_j: torch.Tensor) -> torch.Tensor:
        n = z_i.shape[0]
        if n not in self._masks:
            self._masks[n] = self.negatives_mask(n)
        z = torch.cat((z_i, z_j), dim=0)
        sim = self.similarity(z.unsqueeze(1), z.unsqueeze(0)) / self.temperature
        sim_i_j = torch.diag(sim, n)
        sim_j_i = torch.diag(sim, -n)
        positive = torch.cat((sim_i_j, sim_j_i), dim=0).reshape(2 * n, 1)
        negative = sim[self._masks[n]].reshape(2 * n, -1)
        labels = torch.zeros(2 * n, dtype=torch.long, device=z.device)
        logits = torch.cat((positive, negative), dim=1)
        return self.criterion(logits, labels) / (2 * n)


def study_memory_bytes(n: int, d: int, itemsize: int = 4) -> int:
    """Peak bytes the broadcast similarity needs for forward + backward at N pairs, d features.

    torch's cosine_similarity on expanded (2N, 2N, d) inputs materialises the two normalised operands and
    their product (3 tensors of (2N)²·d) in the forward, and the backward of the product and the two
    divisions builds as many again while those are still alive. The benchmarks check this model against the
    measured peak at small N before using it to show that large N cannot run.
    """
    return 6 * (2 * n) ** 2 * d * itemsize


def study_mask_one(ids: torch.Tensor, allowed: torch.Tensor, generator: torch.Generator,
                   mask_id: int = MASK) -> tuple[torch.Tensor, torch.Tensor]:
    """The study's mask1: for each row, pick one allowed position at random and mask it (a Python loop)."""
    new_ids = ids.clone()
    changed = torch.zeros_like(allowed)
    for row in range(ids.shape[0]):
        candidates = allowed[row].nonzero().flatten()
        if len(candidates) == 0:
            continue
        pick = candidates[torch.randint(len(candidates), (1,), generator=generator)]
        new_ids[row, pick] = mask_id
        changed[row, pick] = True
    return new_ids, changed
