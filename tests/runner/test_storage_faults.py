"""A full disk or an unusable --out is not a result: the run stops with one line, records no failed cell, keeps every
finished row, and the same command resumes once the cause is gone."""

from __future__ import annotations

import errno
import json

from typer.testing import CliRunner

from tcrbench.cli.main import app
from tcrbench.results.schema import comparable
from tcrbench.results.store import RunStore

ARGS = ["run", "--dataset", "synthetic:n_peptides=3,n_positives_per_peptide=20", "--encoder", "transformer:size=tiny",
        "--folds", "2", "--pretrain-steps", "2", "--steps", "2", "--pretrain-batch", "32", "--batch-size", "32",
        "--baseline", "majority", "--protocol", "probe", "--threads", "1", "--quiet"]


def _rows(path):
    return {p.stem: comparable(json.loads(p.read_text())) for p in sorted((path / "rows").glob("*.json"))}


def test_a_full_disk_while_writing_rows_stops_the_run_and_the_same_command_resumes(tmp_path, monkeypatch):
    reference = CliRunner().invoke(app, [*ARGS, "--out", str(tmp_path / "ref")])
    assert reference.exit_code == 0, reference.output
    written = []
    real = RunStore.write_row

    def full_after_two(self, row):
        if len(written) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.rows_dir / f"{row.row_key}.json"))
        written.append(row.row_key)
        return real(self, row)

    monkeypatch.setattr(RunStore, "write_row", full_after_two)
    stopped = CliRunner().invoke(app, [*ARGS, "--out", str(tmp_path / "run")])
    assert stopped.exit_code == 4, stopped.output
    assert "No space left on device" in stopped.output and "Traceback" not in stopped.output
    rows = _rows(tmp_path / "run")
    assert len(rows) == 2 and all(r["status"] == "ok" for r in rows.values())  # no failed row recorded
    monkeypatch.setattr(RunStore, "write_row", real)
    resumed = CliRunner().invoke(app, [*ARGS, "--out", str(tmp_path / "run")])
    assert resumed.exit_code == 0, resumed.output
    assert _rows(tmp_path / "run") == _rows(tmp_path / "ref")


def test_a_full_disk_inside_a_cell_is_not_a_failed_result(tmp_path, monkeypatch):
    from tcrbench.run import cell

    def no_space(*_args, **_kw):
        raise OSError(errno.ENOSPC, "No space left on device", "checkpoint")

    monkeypatch.setattr(cell.CellRunner, "evaluate", no_space)
    stopped = CliRunner().invoke(app, [*ARGS, "--out", str(tmp_path / "run")])
    assert stopped.exit_code == 4, stopped.output
    assert not any(json.loads(p.read_text())["status"] == "failed" for p in (tmp_path / "run" / "rows").glob("*.json"))


def test_an_out_that_is_a_file_is_a_one_line_usage_error(tmp_path):
    target = tmp_path / "taken"
    target.write_text("not a folder")
    result = CliRunner().invoke(app, [*ARGS, "--out", str(target)])
    assert result.exit_code == 2 and "--out" in result.output and "cannot be written" in result.output
    assert target.read_text() == "not a folder"


def test_temporary_files_of_a_killed_write_are_removed_on_the_next_start(tmp_path):
    assert CliRunner().invoke(app, [*ARGS, "--out", str(tmp_path / "run")]).exit_code == 0
    stale = [tmp_path / "run" / "rows" / ".x.json.abc.tmp", tmp_path / "run" / "cache" / ".w.pt.def.tmp"]
    for p in stale:
        p.write_text("half")
    assert CliRunner().invoke(app, [*ARGS, "--out", str(tmp_path / "run")]).exit_code == 0
    assert not any(p.exists() for p in stale)
