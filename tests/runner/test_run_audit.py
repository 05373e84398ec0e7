"""The run audits its table once (shortcuts and leaks, no training) and keeps the numbers with the run, so the
report can repeat the warnings in its header."""

from __future__ import annotations

import json

from tcrbench.run.runner import Runner
from tcrbench.testing import temporary_plugins


def test_environment_json_keeps_the_data_audit(tmp_path, tiny):
    with temporary_plugins() as plugins:
        Runner(tiny(protocols=["probe"], baselines=[]), plugins, out=tmp_path / "run", quiet=True).run()
    audit = json.loads((tmp_path / "run" / "environment.json").read_text())["data"]["audit"]
    assert audit["rows"] == 240 and audit["peptide_prior_auroc"] == 0.5  # exactly 1:3 for every peptide
    # swapped negatives reuse binders of other peptides: a TCR seen more often is more likely a negative
    assert audit["tcr_frequency_auroc"] <= 0.35
    assert any("TCR frequency" in w for w in audit["warnings"])
