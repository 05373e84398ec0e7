"""The nearest-neighbour baselines: they find planted binders, never read the test labels, score training rows
leave-one-out, give a peptide without binders the neutral score, and read only the chains and loops asked for.
`embedding_knn` runs on a k-mer-count encoder registered the way a third-party plugin is."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import polars as pl
import pytest
from scipy.spatial.distance import cdist
from sklearn.metrics import roc_auc_score

from tcrbench.errors import UsageError
from tcrbench.neighbours.knn import NEUTRAL, Scorer, embedding_distances, neighbour_scores
from tcrbench.plugins.protocols import Kind
from tcrbench.testing import check_plugin, plugin_module, temporary_plugins

AA = "ACDEFGHIKLMNPQRSTVWY"
MOTIFS = {"GILGFVFTL": "RSSYE", "NLVPMVATV": "PGQGW", "YLQPRTFLL": "DLNTG"}
GERMLINE = {"cdr1a": ["SSNFYA", "SSVPPY", "DRGSQS"], "cdr2a": ["MTLNGDE", "YTSAATLV", "IYSNGD"],
            "cdr1b": ["SGHRS", "KGHDR", "ENHRY"], "cdr2b": ["YFSETQ", "SFDVKD", "SYGVKD"]}  # fmt: skip
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "immrep22_compact.csv"


def table(n_per_peptide: int = 24, seed: int = 0, peptides: tuple[str, ...] = tuple(MOTIFS)) -> pl.DataFrame:
    """Binders carry their peptide's motif in both CDR3s and favour one germline loop set; 1 binder : 2 non-binders."""
    rng = random.Random(seed)

    def middle(n: int) -> str:
        return "".join(rng.choice(AA) for _ in range(n))

    rows = []
    for p_index, peptide in enumerate(peptides):
        for i in range(n_per_peptide):
            binder = i % 3 == 0
            core = MOTIFS.get(peptide, "AAAAA") if binder else middle(5)
            favoured = p_index % 3 if binder and rng.random() < 0.8 else rng.randrange(3)
            row = {"peptide": peptide, "cdr3b": f"CASS{middle(rng.randint(0, 2))}{core}EQYF",
                   "cdr3a": f"CAV{core[::-1] if binder else middle(5)}{middle(rng.randint(0, 2))}KLIF",
                   "label": int(binder)}  # fmt: skip
            row.update({c: options[favoured] for c, options in GERMLINE.items()})
            rows.append(row)
    return pl.DataFrame(rows).with_columns(pl.col("label").cast(pl.Int8))


def split(frame: pl.DataFrame, test_every: int = 4) -> tuple[pl.DataFrame, pl.DataFrame]:
    index = pl.int_range(pl.len())
    return frame.filter(index % test_every != 0), frame.filter(index % test_every == 0)


def baseline(spec: str, *extra: object) -> object:
    with temporary_plugins(*extra) as loaded:
        return loaded.registry.create(Kind.BASELINE, spec)


def macro_auroc(test: pl.DataFrame, scores: np.ndarray) -> float:
    y, peptides = test["label"].to_numpy(), np.array(test["peptide"].to_list())
    return float(np.mean([roc_auc_score(y[peptides == p], scores[peptides == p]) for p in sorted(set(peptides))]))


# ---------------------------------------------------------------- a k-mer encoder, as a third-party plugin
@dataclass
class KmerEncoder:
    """Counts of the k-mers of the CDR3s: deterministic, one float32 row per table row."""

    name: ClassVar[str] = "kmer_counts"
    description: ClassVar[str] = "k-mer counts of the CDR3s (a test encoder with embed_tcrs)"
    k: int = 2
    chains: str = "both"

    def embed_tcrs(self, frame: pl.DataFrame) -> np.ndarray:
        columns = ["cdr3b"] + (["cdr3a"] if self.chains == "both" and "cdr3a" in frame.columns else [])
        size = len(AA) ** self.k
        out = np.zeros((frame.height, len(columns) * size), dtype=np.float32)
        for block, column in enumerate(columns):
            for row, seq in enumerate(frame[column].to_list()):
                for i in range(len(seq) - self.k + 1):
                    word = sum(AA.index(c) * len(AA) ** j for j, c in enumerate(seq[i : i + self.k]))
                    out[row, block * size + word] += 1
        return out


@dataclass
class NoEmbedEncoder:
    name: ClassVar[str] = "no_embed"
    description: ClassVar[str] = "an encoder factory without embed_tcrs"


@dataclass
class WrongShapeEncoder:
    name: ClassVar[str] = "wrong_shape"
    description: ClassVar[str] = "embed_tcrs returns one row too few"

    def embed_tcrs(self, frame: pl.DataFrame) -> np.ndarray:
        return np.zeros((frame.height - 1, 4), dtype=np.float32)


ENCODERS = plugin_module("kmer_test_plugin", encoders=[KmerEncoder, NoEmbedEncoder, WrongShapeEncoder])
SPECS = ["tcrdist_knn", "tcrdist_knn:rule=mean,k=3", "embedding_knn:encoder=kmer_counts"]


def fit(spec: str, train: pl.DataFrame, test: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    with temporary_plugins(ENCODERS) as loaded:
        return loaded.registry.create(Kind.BASELINE, spec).fit_predict(train, test, 0)


# ---------------------------------------------------------------- behaviour
@pytest.mark.parametrize("spec", SPECS)
def test_planted_binders_are_found(spec: str) -> None:
    train, test = split(table())
    _, s_test = fit(spec, train, test)
    assert macro_auroc(test, s_test) > 0.9


@pytest.mark.parametrize("spec", SPECS)
def test_scores_never_read_the_test_labels(spec: str) -> None:
    train, test = split(table(seed=1))
    s_train, s_test = fit(spec, train, test)
    rng = np.random.default_rng(0)
    poisoned = [
        test.with_columns((1 - pl.col("label")).cast(pl.Int8).alias("label")),
        test.with_columns(pl.Series("label", rng.integers(0, 2, test.height), dtype=pl.Int8)),
        test.drop("label"),
    ]
    for frame in poisoned:
        again_train, again_test = fit(spec, train, frame)
        np.testing.assert_array_equal(again_test, s_test)
        np.testing.assert_array_equal(again_train, s_train)


@pytest.mark.parametrize("spec", SPECS)
def test_training_scores_are_leave_one_out(spec: str) -> None:
    frame = table(seed=2)
    # a binder and a non-binder that occur twice (same CDR3s), once more for another peptide
    dup = pl.concat([frame[[0, 1]], frame[[0]].with_columns(pl.lit("YLQPRTFLL").alias("peptide"))])
    train = pl.concat([frame, dup])
    s_train, _ = fit(spec, train, train.head(1))
    key = pl.concat_str(["cdr3b", "cdr3a"], separator="/")
    keys = train.select(key).to_series().to_list()
    for i in [0, 1, 5, 30, train.height - 2]:
        # the same row scored as a test row, against the training rows without its TCR: what LOO promises
        others = train.filter(key != keys[i])
        _, as_test = fit(spec, others, train[[i]])
        assert s_train[i] == pytest.approx(as_test[0], rel=1e-6, abs=1e-6), i
    # without leave-one-out a duplicated binder would find itself at distance 0 and score very high
    everything = fit(spec, pl.concat([frame, dup]), train[[0]])[1][0]
    assert everything > s_train[0]


@pytest.mark.parametrize("spec", SPECS)
def test_a_peptide_without_training_binders_scores_neutral(spec: str) -> None:
    train, test = split(table(seed=3))
    lonely = table(n_per_peptide=9, seed=4, peptides=("KLGGALQAK",))  # binders carry a motif no one else has
    lonely_train = lonely.head(6).with_columns(pl.lit(0, dtype=pl.Int8).alias("label"))
    unseen = table(n_per_peptide=3, seed=5, peptides=("AVFDRKSDAK",))
    s_train, s_test = fit(spec, pl.concat([train, lonely_train]), pl.concat([test, lonely.tail(3), unseen]))
    assert (s_train[train.height :] == NEUTRAL).all()
    assert (s_test[test.height :] == NEUTRAL).all()
    assert len(np.unique(s_test[: test.height])) > 3  # the other peptides are scored...
    base_train, base_test = fit(spec, train, test)  # ...exactly as without the lonely peptide
    np.testing.assert_array_equal(s_test[: test.height], base_test)
    np.testing.assert_array_equal(s_train[: train.height], base_train)


# ---------------------------------------------------------------- what is read
def test_tcrdist_knn_reads_only_the_chains_and_loops_asked_for() -> None:
    train, test = split(table(seed=6))
    scrambled = test.with_columns(pl.col("cdr3a").str.reverse(), pl.col("cdr1a").str.reverse())
    for spec in ["tcrdist_knn:chains=beta", "tcrdist_knn:chains=beta,cdrs=cdr3"]:
        np.testing.assert_array_equal(fit(spec, train, scrambled)[1], fit(spec, train, test)[1])
    germ_scrambled = test.with_columns(pl.col(c).str.reverse() for c in GERMLINE)
    spec = "tcrdist_knn:cdrs=cdr3"
    np.testing.assert_array_equal(fit(spec, train, germ_scrambled)[1], fit(spec, train, test)[1])
    # and what is asked for is read: the default uses alpha and the germline loops
    assert not np.array_equal(fit("tcrdist_knn", train, scrambled)[1], fit("tcrdist_knn", train, test)[1])
    assert not np.array_equal(fit("tcrdist_knn", train, germ_scrambled)[1], fit("tcrdist_knn", train, test)[1])
    # a beta-only table works with the default and equals chains=beta on the full table
    beta_only = [f.select("peptide", "cdr3b", "label") for f in (train, test)]
    np.testing.assert_array_equal(
        fit("tcrdist_knn", *beta_only)[1], fit("tcrdist_knn:chains=beta,cdrs=cdr3", train, test)[1]
    )


def test_bad_input_is_one_usage_error() -> None:
    train, test = split(table(seed=7))
    beta_only = [f.select("peptide", "cdr3b", "label") for f in (train, test)]
    with pytest.raises(UsageError, match=r"chains='alpha' needs column\(s\) 'cdr3a'.*training table lacks"):
        fit("tcrdist_knn:chains=alpha", *beta_only)
    with pytest.raises(UsageError, match=r"training column 'label' must hold only 0 and 1"):
        fit("tcrdist_knn", train.with_columns(pl.lit(2, dtype=pl.Int8).alias("label")), test)
    with pytest.raises(UsageError, match=r"baseline 'tcrdist_knn': k must be at least 1"):
        baseline("tcrdist_knn:k=0")
    with pytest.raises(UsageError, match=r"parameter 'chains': must be one of"):
        baseline("tcrdist_knn:chains=gamma")


# ---------------------------------------------------------------- embedding_knn and its encoder
def test_embedding_knn_scores_are_the_scorer_on_the_encoders_embeddings() -> None:
    train, test = split(table(seed=8))
    encoder = KmerEncoder(k=3, chains="beta")
    x_train, x_test = encoder.embed_tcrs(train), encoder.embed_tcrs(test)
    tcrs = np.unique(np.array([f"{b}/{a}" for b, a in zip(train["cdr3b"], train["cdr3a"])]), return_inverse=True)[1]
    for metric in ("cosine", "euclidean"):
        expected = neighbour_scores(
            lambda side, q, r: embedding_distances((x_train if side == "train" else x_test)[q], x_train[r], metric),
            train["label"].to_numpy(), train["peptide"].to_list(), test["peptide"].to_list(), tcrs.reshape(-1),
            Scorer(k=4),
        )  # fmt: skip
        # the encoder's own options travel after its name, separated by ';'
        got = fit(f"embedding_knn:encoder=kmer_counts:k=3;chains=beta,metric={metric},k=4,rule=mean", train, test)
        np.testing.assert_allclose(got[0], expected[0], rtol=1e-6)
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-6)


def test_embedding_distances_match_scipy() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(7, 5)), rng.normal(size=(4, 5))
    np.testing.assert_allclose(embedding_distances(x, y, "cosine"), cdist(x, y, "cosine"), atol=1e-6)
    np.testing.assert_allclose(embedding_distances(x, y, "euclidean"), cdist(x, y, "euclidean"), atol=1e-5)


def test_an_encoder_without_embed_tcrs_is_a_one_line_usage_error() -> None:
    train, test = split(table(seed=9))
    with pytest.raises(UsageError, match=r"encoder 'no_embed' has no embed_tcrs\(frame\).*can: .*kmer_counts") as e:
        fit("embedding_knn:encoder=no_embed", train, test)
    assert "\n" not in str(e.value)
    with pytest.raises(UsageError, match=r"returned shape \(\d+, 4\) for the \d+ rows of the training table"):
        fit("embedding_knn:encoder=wrong_shape", train, test)
    with pytest.raises(UsageError, match=r"unknown encoder 'nope'"):
        fit("embedding_knn:encoder=nope", train, test)
    with pytest.raises(UsageError, match=r"must look like key=value"):
        baseline("embedding_knn:encoder=kmer_counts:k")


@pytest.mark.parametrize("name", ["tcrdist_knn", "embedding_knn"])
def test_the_baselines_pass_the_plugin_contract(name: str) -> None:
    with temporary_plugins() as loaded:
        entry = loaded.registry.get(Kind.BASELINE, name)
        check_plugin(Kind.BASELINE, entry.cls)
        assert entry.cls.framing == "per_peptide"


def test_scorer_rules_by_hand() -> None:
    inf = np.inf
    d = np.array([[1.0, 2.0, 3.0, 5.0, 6.0], [inf, 2.0, 3.0, inf, 7.0], [inf, inf, inf, 1.0, 2.0], [1, 2, 3, inf, inf]])
    labels = np.array([1, 1, 1, 0, 0])
    # mean of the 2 nearest non-binders minus that of the 2 nearest binders; fewer available: the mean of those;
    # no binders or no non-binders left (inf = excluded): nothing to contrast, the neutral score
    np.testing.assert_allclose(Scorer(k=2).scores(d, labels), [5.5 - 1.5, 7.0 - 2.5, NEUTRAL, NEUTRAL])
    np.testing.assert_allclose(Scorer(k=2, rule="kernel").scores(d, labels)[2:], [NEUTRAL, NEUTRAL])
    kernel = Scorer(k=2, rule="kernel", scale=2.0).scores(d[:1], labels)
    pos, neg = np.log(np.exp(-0.5) + np.exp(-1.0)), np.log(np.exp(-2.5) + np.exp(-3.0))
    np.testing.assert_allclose(kernel, [pos - neg], rtol=1e-6)


@pytest.mark.skipif(not DATA.exists(), reason=f"{DATA} not found (the shared real data)")
def test_immrep22_peptides_are_scored_well_above_chance() -> None:
    from tcrbench.data import load_table

    frame = load_table(DATA).frame.filter(pl.col("peptide").is_in(["GLCTLVAML", "NYNYLYRLF", "RAQAPPPSW"]))
    train, test = frame.filter(pl.col("split") == "train"), frame.filter(pl.col("split") == "test")
    assert macro_auroc(test, fit("tcrdist_knn", train, test)[1]) > 0.85
