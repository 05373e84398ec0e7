"""The published-model wrapper: decoded rows in, `[peptide | TCR]` out, the product head on top, trainable."""

from __future__ import annotations

import torch
from torch import nn

from tcrbench.data.decode import DecodedPairs
from tcrbench.data.tokenizer import Tokenizer
from tcrbench.models.published_tcr import PublishedTcrEncoder
from tcrbench.training.finetune import Classifier


class CountVectoriser(nn.Module):
    """A stand-in published model: amino-acid counts of CDR3β through one linear layer."""

    width = 6

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str | None] = []
        self.proj = nn.Linear(20, self.width)

    def forward(self, pairs: DecodedPairs) -> torch.Tensor:
        self.seen.extend(pairs.cdr3b)
        counts = torch.tensor([[float(s.count(a)) for a in "ACDEFGHIKLMNPQRSTVWY"] for s in pairs.cdr3b])
        return self.proj(counts)


def _batch():
    return Tokenizer(None).encode_pairs(
        ["GILGFVFTL", "NLVPMVATV", "GILGFVFTL"], ["CASSIRSSYEQYF", "CASSPGQGAYEQYF", "CSARDRTGNGYTF"], None
    )


def test_pooled_layout_and_the_sequences_the_model_sees() -> None:
    torch.manual_seed(0)
    tcr = CountVectoriser()
    encoder = PublishedTcrEncoder(tcr, peptide_width=8)
    batch = _batch()
    pooled = encoder.pooled(batch)
    assert pooled.shape == (3, 8 + 6) and encoder.hidden_size == 14
    assert tcr.seen == ["CASSIRSSYEQYF", "CASSPGQGAYEQYF", "CSARDRTGNGYTF"]
    # the peptide block depends on the peptide only: rows 0 and 2 share GILGFVFTL
    assert torch.equal(pooled[0, :8], pooled[2, :8]) and not torch.equal(pooled[0, :8], pooled[1, :8])
    assert torch.equal(encoder.pool(encoder(batch), batch), pooled)


def test_fine_tuning_reaches_the_published_model_and_the_peptide_encoder() -> None:
    torch.manual_seed(0)
    model = Classifier(PublishedTcrEncoder(CountVectoriser(), peptide_width=8))
    loss = model(_batch()).sum()
    loss.backward()
    assert model.encoder.tcr.proj.weight.grad is not None and model.encoder.tcr.proj.weight.grad.abs().sum() > 0
    assert model.encoder.peptide.conv.weight.grad.abs().sum() > 0
    assert model.head.receptor.in_features == 6 and model.head.peptide.in_features == 8


def test_published_weights_get_their_own_learning_rate_and_others_are_unchanged() -> None:
    from tcrbench.run.config import Budget
    from tcrbench.training.optim import make_optimizer, parameter_groups

    torch.manual_seed(0)
    model = Classifier(PublishedTcrEncoder(CountVectoriser(), peptide_width=8, lr_scale=0.1))
    opt = make_optimizer(parameter_groups(model, 1e-3), Budget(), 1e-3)
    rates = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    assert all(rates[id(p)] == 1e-3 * 0.1 for p in model.encoder.tcr.parameters())
    assert all(rates[id(p)] == 1e-3 for p in model.head.parameters())
    assert len(rates) == len(list(model.parameters()))
    plain = Classifier(PublishedTcrEncoder(CountVectoriser(), peptide_width=8))
    assert parameter_groups(plain, 1e-3) == list(plain.parameters())  # no scale: the plain list, as before


def test_passes_the_encoder_contract() -> None:
    from tcrbench.plugins.checks import check_encoder

    class Factory:
        name = "count_published"
        description = "test"

        def build(self, max_len: int) -> nn.Module:
            return PublishedTcrEncoder(CountVectoriser(), peptide_width=8)

    check_encoder(Factory(), "count_published")


def test_an_encoder_may_cap_fine_tuning_epochs_visibly() -> None:
    from dataclasses import dataclass

    from tcrbench.run.config import Budget
    from tcrbench.run.grid import Configuration

    @dataclass
    class Capped:
        max_epochs: int

    budget = Budget(finetune_epochs=40, patience=8)
    capped = Configuration("x", "baseline", ("finetune",), enc_obj=Capped(12)).finetune_budget(budget)
    assert capped.finetune_epochs == 12 and capped.patience == 8 and budget.finetune_epochs == 40
    assert Configuration("x", "baseline", ("finetune",), enc_obj=Capped(0)).finetune_budget(budget) is budget
    assert Configuration("x", "baseline", ("finetune",), enc_obj=Capped(80)).finetune_budget(budget) is budget
    assert Configuration("x", "supervised", ("finetune",), enc_obj=object()).finetune_budget(budget) is budget
