"""The real-data suites in benchmarks/suites/: each configuration parses, plans, and runs end to end on a small
subsample through the same script that regenerates docs/results/."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from tcrbench.run.config import load_config_file
from tcrbench.run.grid import plan
from tcrbench.testing import temporary_plugins

REPO = Path(__file__).resolve().parents[2]
SUITES = REPO / "benchmarks" / "suites"
NAMES = sorted(p.stem for p in SUITES.glob("*.toml"))
IMMREP_PUBLISHED = {"TCRex": 0.847, "TCRGP": 0.847, "tcrdist3": 0.840, "NetTCR-2.0 CDR3αβ": 0.812,
                    "NetTCR-2.0 CDR3β": 0.775, "pMTnet": 0.774, "TCR-BERT": 0.753, "TITAN": 0.746, "random": 0.490}


def _regenerate():
    spec = importlib.util.spec_from_file_location("regenerate", SUITES / "regenerate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_the_six_suites_exist() -> None:
    assert NAMES == ["course", "course-3fold", "immrep22", "nettcr", "nettcr-olga", "nettcr-random"]


@pytest.mark.parametrize("name", NAMES)
def test_suite_parses_and_plans(name: str) -> None:
    cfg = load_config_file(SUITES / f"{name}.toml")
    assert cfg.data is not None and Path(cfg.data).name.endswith(".csv")
    assert cfg.encoder.startswith("chain_cnn:encoding=blosum62") and cfg.pairs
    assert cfg.budget.patience > 0 and cfg.budget.val_fraction > 0  # every arm stops early on an inner split
    assert cfg.framing == ("per_peptide" if name == "immrep22" else "pan")
    with temporary_plugins() as plugins:
        configs = plan(cfg, plugins.registry)
    arms = {c.arm for c in configs}
    assert arms == {"baseline", "supervised", "pretrained"}
    assert sum(c.arm == "pretrained" for c in configs) == len(cfg.pairs)
    assert {"majority", "peptide_only", "tcr_only", "tcr_frequency"} <= {c.label for c in configs}


def test_the_course_suites_ask_the_studys_question_on_the_same_subsample() -> None:
    three, five = load_config_file(SUITES / "course-3fold.toml"), load_config_file(SUITES / "course.toml")
    assert (three.folds, three.seeds, five.folds, five.seeds) == (3, [0], 5, [0, 1, 2])
    assert three.subsample == five.subsample and three.split == five.split
    assert three.pairs == five.pairs == ["mask1/ntxent", "identity/mlm", "mask1/ntxent+mlm"]


def test_immrep_suite_uses_the_official_split_metric_and_published_results() -> None:
    cfg = load_config_file(SUITES / "immrep22.toml")
    assert cfg.split == "given:column=split,test_value=test" and cfg.primary_metric == "macro_auroc"
    assert cfg.published is not None and cfg.published.metric == "macro_auroc"
    assert cfg.published.results == IMMREP_PUBLISHED
    assert "GILGFVFTL" in cfg.published.note


def test_the_olga_suite_adds_a_generated_corpus_and_label_fractions_to_the_nettcr_grid() -> None:
    olga, given = load_config_file(SUITES / "nettcr-olga.toml"), load_config_file(SUITES / "nettcr.toml")
    assert olga.pretrain_data == ["olga:n=100000,chain=beta,seed=0"] and olga.label_fractions == [0.05, 0.2, 1.0]
    assert (olga.data, olga.split, olga.encoder) == (given.data, given.split, given.encoder)
    assert olga.pairs == ["mask1/ntxent"]


def test_nettcr_suites_differ_only_in_the_split() -> None:
    """...and in the published models and anchors, which only the board on the authors' partitions carries."""
    given, rand = load_config_file(SUITES / "nettcr.toml"), load_config_file(SUITES / "nettcr-random.toml")
    assert given.split == "given:column=partition" and rand.split.startswith("random")
    assert given.published_encoders == ["sceptr:max_epochs=10"] and "tcrdist_knn" in (given.baselines or [])
    given.split = rand.split
    given.published_encoders, given.baselines = rand.published_encoders, rand.baselines
    assert given.numbers_dict() == rand.numbers_dict()


def test_regenerate_refuses_an_unknown_suite(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        _regenerate().main(["immrep"])
    assert exc.value.code == 2 and "unknown suite 'immrep'" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.realdata
def test_every_suite_runs_end_to_end_on_a_small_subsample(shared_data, tmp_path: Path) -> None:
    """Each suite's data, split, pairs, baselines, metrics and reports, through regenerate.py. To keep CI to about
    a minute the random splits get 2 folds and 1 seed (given partitions keep theirs) and the tiny transformer with
    small batches; the tests above pin each suite's real grid, encoder and budget."""
    results = tmp_path / "results"
    code = _regenerate().main(["--runs", str(tmp_path / "runs"), "--results", str(results), "--executor", "serial",
                               "--data-dir", str(shared_data), "--",
                               "--subsample", "300", "--pretrain-steps", "2", "--steps", "2", "--threads", "1",
                               "--folds", "2", "--seeds", "1", "--encoder", "transformer:size=tiny",
                               "--pretrain-batch", "32", "--batch-size", "32"])
    assert code == 0
    for name in NAMES:
        out = results / name
        for f in ("README.md", "leaderboard.md", "leaderboard.html", "leaderboard.json", "config.toml",
                  "environment.json"):
            assert (out / f).is_file(), f"{name}: {f} missing"
        board = json.loads((out / "leaderboard.json").read_text())
        cfg = load_config_file(SUITES / f"{name}.toml")
        labels = {r["label"] for r in board["rows"]}
        assert sum(" × " in label for label in labels) == len(cfg.pairs)
        assert all("size=tiny" in label for label in labels if " · " in label)
        n_cells = {len(r["cells"]) for r in board["rows"]}
        expected = {"immrep22": 1, "nettcr": 5, "nettcr-olga": 5}.get(name, 2)
        assert n_cells == {expected}, f"{name}: cells per configuration {n_cells}, expected {expected}"
        assert "--subsample 300" in (out / "README.md").read_text()
        assert all(c["seed"] == 0 for r in board["rows"] for c in r["cells"])
    published = json.loads((results / "immrep22" / "leaderboard.json").read_text())["published"]
    assert published["results"] == IMMREP_PUBLISHED
    index = (results / "README.md").read_text()
    assert all(f"`{name}`" in index for name in NAMES)
