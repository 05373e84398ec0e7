"""The built-in splitters, metrics and baselines reach the registry through the hooks, and the CLI lists them."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from tcrbench.errors import UsageError
from tcrbench.plugins.protocols import Baseline, Kind, Metric, Splitter
from tcrbench.testing import temporary_plugins

EXPECTED = {
    Kind.SPLITTER: ({"random", "tcr", "peptide", "given"}, Splitter),
    Kind.METRIC: ({"auroc", "auprc", "accuracy", "balanced_accuracy", "mcc", "f1", "auc01", "macro_auroc"}, Metric),
    Kind.BASELINE: ({"majority", "peptide_only", "tcr_only", "tcr_frequency", "logreg_onehot", "logreg_kmer",
                     "kmer_per_peptide", "tcrdist_knn", "embedding_knn"},
                    Baseline),
}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins"


@pytest.mark.parametrize("kind", list(EXPECTED), ids=lambda k: k.value)
def test_builtins_register_and_satisfy_their_protocol(kind):
    names, protocol = EXPECTED[kind]
    with temporary_plugins() as loaded:
        entries = [e for e in loaded.registry if e.kind is kind and e.source.plugin.startswith("tcrbench_plugins.")]
        assert {e.name for e in entries} == names
        for entry in entries:
            assert isinstance(entry.create(), protocol), entry.name
            assert entry.source.origin == "built-in"


def test_redraw_flags_match_what_the_statistics_assume():
    with temporary_plugins() as loaded:
        flags = {n: loaded.registry.get(Kind.SPLITTER, n).cls.redraws_with_seed for n in EXPECTED[Kind.SPLITTER][0]}
    assert flags == {"random": True, "tcr": True, "peptide": True, "given": False}


def test_splitters_are_built_from_command_line_specs():
    frame = pl.DataFrame({"peptide": ["P"] * 6, "cdr3b": list("ABCDEF"), "label": [1, 0, 0, 1, 0, 0],
                          "split": ["train"] * 4 + ["test"] * 2})
    with temporary_plugins() as loaded:
        given = loaded.registry.create(Kind.SPLITTER, "given:column=split,drop_shared_pairs=yes")
        assert given.drop_shared_pairs is True
        (fold,) = given.split(frame, 5, 0)
        assert fold.test.tolist() == [4, 5]
        with pytest.raises(UsageError, match=r"parameter 'chains': must be one of 'pair', 'beta', 'any'"):
            loaded.registry.create(Kind.SPLITTER, "tcr:chains=alpha")
        with pytest.raises(UsageError, match=r"metric 'macro_auroc': min_positives must be at least 1"):
            loaded.registry.create(Kind.METRIC, "macro_auroc:min_positives=0")
        assert loaded.registry.create(Kind.BASELINE, "logreg_kmer:interaction=false,k=2").k == 2


def test_cli_lists_the_splitters():
    from tcrbench.cli.main import app

    result = CliRunner().invoke(app, ["plugins", "--kind", "splitter", "--json"])
    assert result.exit_code == 0, result.output
    listed = re.findall(r'"name": "([a-z_]+)"', result.stdout)
    assert set(listed) >= {"random", "tcr", "peptide", "given"}
    assert '"kind": "metric"' not in result.stdout


@pytest.mark.parametrize("kind", list(EXPECTED), ids=lambda k: k.value)
def test_builtins_pass_the_plugin_authors_contract_check(kind):
    from tcrbench.plugins.contracts import check_plugin

    with temporary_plugins() as loaded:
        for entry in loaded.registry:
            if entry.kind is kind and entry.source.plugin.startswith("tcrbench_plugins."):
                check_plugin(kind, entry.cls)


@pytest.mark.parametrize("page", ["splitters.md", "metrics.md", "baselines.md"])
def test_docs_page_names_every_builtin_of_its_kind(page):
    # the examples themselves are run by tests/core/test_docs_examples.py
    kind = {"splitters.md": Kind.SPLITTER, "metrics.md": Kind.METRIC, "baselines.md": Kind.BASELINE}[page]
    text = (DOCS / page).read_text()
    for name in EXPECTED[kind][0]:
        assert f"`{name}`" in text, f"{page} does not document {name}"
