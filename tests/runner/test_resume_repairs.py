"""A resumed run checks the rows it finds: a row file that is not a whole row is set aside and its cell computed
again, and a deleted training-dynamics row comes back; the reports skip a bad row file instead of failing."""

from __future__ import annotations

import json
from pathlib import Path

from tcrbench.results.schema import comparable
from tcrbench.results.store import RunStore
from tcrbench.run.runner import Runner
from tcrbench.testing import temporary_plugins


def _run(cfg, out: Path):
    with temporary_plugins() as plugins:
        return Runner(cfg, plugins, out=out, quiet=True).run()


def _rows(out: Path) -> dict[str, dict]:
    return {p.stem: comparable(json.loads(p.read_text())) for p in sorted((out / "rows").glob("*.json"))}


def test_damaged_row_files_are_set_aside_and_recomputed(tmp_path, tiny, caplog):
    out = tmp_path / "run"
    first = _run(tiny(), out)
    assert not first.failed
    expected = _rows(out)
    files = sorted((out / "rows").glob("*.json"))
    truncated, emptied = files[0], files[-1]
    truncated.write_text(truncated.read_text()[: len(truncated.read_text()) // 2])
    emptied.write_text("{}")

    store = RunStore(out)
    assert len(store.rows()) == len(expected) - 2  # the reports skip both, with a warning, and do not fail
    assert "not valid JSON" in caplog.text and "missing the field(s) row_key" in caplog.text
    assert [s.split(":")[0] for s in store.skipped] == [str(truncated), str(emptied)]

    second = _run(tiny(), out)
    assert second.computed >= 2 and not second.failed
    assert (out / "rows" / f"{truncated.name}.corrupt").is_file()
    assert (out / "rows" / f"{emptied.name}.corrupt").read_text() == "{}"
    assert _rows(out) == expected
    assert "moved to" in (out / "run.log").read_text()


def test_a_deleted_dynamics_row_is_computed_again(tmp_path, tiny):
    out = tmp_path / "run"
    cfg = tiny(eval_every="2")
    first = _run(cfg, out)
    assert not first.failed
    expected = _rows(out)
    dynamics = sorted(key for key in expected if "-step" in key)
    assert dynamics
    (out / "rows" / f"{dynamics[-1]}.json").unlink()

    second = _run(tiny(eval_every="2"), out)
    assert second.computed > 0 and not second.failed
    assert _rows(out) == expected
    third = _run(tiny(eval_every="2"), out)
    assert third.computed == 0  # nothing left to do
