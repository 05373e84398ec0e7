"""--eval-every schedules, and which new settings change the configuration hash (and which must not)."""

from __future__ import annotations

import pytest

from tcrbench.errors import UsageError
from tcrbench.run.config import RunConfig, apply_settings
from tcrbench.training.dynamics import is_dynamics_row, parse_schedule, protocol_name


@pytest.mark.parametrize("text, total, steps", [
    ("200", 1000, [200, 400, 600, 800, 1000]),
    ("300", 1000, [300, 600, 900, 1000]),  # the last step always closes the curve
    ("5000", 1000, [1000]),
    ("100,500,2000", 1000, [100, 500]),  # explicit steps past the end are skipped
    ("[500, 100, 100]", 1000, [100, 500]),  # a TOML list arrives as its text
    ("0,3", 10, [3]),  # step 0 is always evaluated anyway
    ("log:4", 1000, [1, 10, 100, 1000]),
    ("log:8", 1000, [1, 3, 7, 19, 52, 139, 373, 1000]),
    ("log:6", 3, [1, 2, 3]),  # fewer distinct steps than points: no duplicates
    ("7", 0, []),
])
def test_schedule_steps(text, total, steps):
    assert parse_schedule(text).steps(total) == steps


def test_steps_past_the_end_are_named():
    assert parse_schedule("100,500,2000,3000").beyond(1000) == [2000, 3000]
    assert parse_schedule("100").beyond(10) == []


@pytest.mark.parametrize("text, fragment", [("", "expected a step interval"), ("ten", "'ten' is not a whole number"),
                                            ("0", "must be at least 1"), ("log:1", "N >= 2"), ("log:x", "'x'"),
                                            ("5,-1", "cannot be negative")])
def test_bad_schedules_name_the_option(text, fragment):
    with pytest.raises(UsageError, match="--eval-every") as info:
        parse_schedule(text)
    assert fragment in str(info.value)


def test_protocol_names_and_row_detection():
    assert protocol_name("probe") == "dynamics-probe" and protocol_name("finetune") == "dynamics-finetune"
    with pytest.raises(UsageError, match="--dynamics-protocol"):
        protocol_name("baseline")
    assert is_dynamics_row({"protocol": "dynamics-probe", "step": 0})
    assert not is_dynamics_row({"protocol": "probe", "step": None}) and not is_dynamics_row({"protocol": "finetune"})


def test_hash_ignores_checkpointing_and_time_but_not_dynamics():
    base = RunConfig().config_hash("data")
    quiet = RunConfig(checkpoint_every=50, checkpoint_minutes=1.0, max_time=3600.0).config_hash("data")
    assert quiet == base  # resuming with other checkpoint settings or another time limit is the same run
    assert RunConfig(dynamics_protocol="finetune").config_hash("data") == base  # inert while dynamics are off
    on = RunConfig(eval_every="100").config_hash("data")
    assert on != base
    assert RunConfig(eval_every="100", dynamics_protocol="finetune").config_hash("data") != on
    assert "max_time" not in RunConfig().numbers_dict() and "eval_every" not in RunConfig().numbers_dict()


def test_settings_are_validated(tmp_path):
    cfg = apply_settings(RunConfig(), {"eval_every": 200, "max_time": "90", "checkpoint_every": 25}, "command line")
    assert cfg.eval_every == "200" and cfg.max_time == 90.0 and cfg.checkpoint_every == 25
    for raw, message in [({"eval_every": "log:0"}, "--eval-every"), ({"checkpoint_every": 0}, "--checkpoint-every"),
                         ({"checkpoint_minutes": -1}, "--checkpoint-minutes"), ({"max_time": 0}, "--max-time"),
                         ({"dynamics_protocol": "baseline"}, "dynamics_protocol")]:
        with pytest.raises(UsageError, match=message):
            apply_settings(RunConfig(), raw, "command line")
