"""`--executor slurm` without Slurm: the [slurm] table's parsing, the resubmission ledger (a cell never runs twice at
once and is never counted twice) and the job pool's decisions, against a fake `sbatch`/`squeue`."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from tcrbench.errors import UsageError
from tcrbench.executors import CellTask
from tcrbench.executors.slurm_jobs import JobPool, JobState, SlurmError, _clock, overhead
from tcrbench.executors.slurm_ledger import CellLedger
from tcrbench.executors.slurm_spec import SlurmSpec, load_slurm_spec

# ---------------------------------------------------------------- the [slurm] table

TYPICAL = {
    "partition": "gpu",
    "account": "proj-123",
    "cores": 4,
    "memory": "16GB",
    "gpus": 1,
    "walltime": "04:00:00",
    "max_jobs": 16,
    "job_extra": ["--qos=normal", "--constraint=a100"],
    "prologue": ["module load python/3.11", "source ~/venvs/tcrbench/bin/activate"],
    "python": "python3",
    "interface": "ib0",
    "checkpoint_fraction": 0.05,
    "pending_timeout": "2h",
}


def test_a_typical_table_is_read_whole():
    spec = SlurmSpec.from_table(TYPICAL)
    assert (spec.partition, spec.account, spec.cores, spec.memory, spec.gpus) == ("gpu", "proj-123", 4, "16GB", 1)
    assert spec.walltime == 4 * 3600 and spec.slurm_time == "04:00:00"
    assert spec.max_jobs == 16 and spec.pending_timeout == 7200
    assert spec.job_extra == ("--qos=normal", "--constraint=a100")
    assert spec.checkpoint_minutes == pytest.approx(12.0)  # 5% of 4 h: the most a wall-time kill can cost


def test_defaults_suit_a_first_try():
    spec = SlurmSpec.from_table({})
    assert (spec.cores, spec.memory, spec.walltime, spec.max_jobs, spec.checkpoint_fraction) == (1, "4G", 3600, 4, 0.1)
    assert spec.checkpoint_minutes == pytest.approx(6.0)


@pytest.mark.parametrize(
    ("text", "seconds", "slurm"),
    [
        ("04:00:00", 14400, "04:00:00"),
        ("1-12:00:00", 129600, "1-12:00:00"),
        ("90m", 5400, "01:30:00"),
        ("1h30m", 5400, "01:30:00"),
        ("1.5h", 5400, "01:30:00"),
        ("61s", 120, "00:02:00"),  # Slurm counts whole minutes, rounded up
        ("00:01:00", 60, "00:01:00"),
    ],
)
def test_walltime_forms(text, seconds, slurm):
    spec = SlurmSpec.from_table({"walltime": text})
    assert spec.walltime == seconds and spec.slurm_time == slurm


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("walltime", "90", "units"),  # Slurm reads minutes, the rest of tcrbench seconds: refuse to guess
        ("walltime", 90, "HH:MM:SS"),
        ("walltime", "30s", "under a minute"),
        ("walltime", "01:75:00", "under 60"),
        ("walltime", "four hours", "HH:MM:SS"),
        ("cores", 0, "at least 1"),
        ("cores", 2.5, "whole number"),
        ("cores", True, "whole number"),
        ("gpus", -1, "at least 0"),
        ("max_jobs", "8", "whole number"),
        ("memory", "16", "size"),
        ("memory", "lots", "size"),
        ("memory", "100KB", "at least 1MB"),
        ("partition", "gpu nodes", "Slurm name"),
        ("partition", "", "non-empty"),
        ("job_extra", "--qos=x", "list"),
        ("job_extra", ["qos=x"], "sbatch option"),
        ("job_extra", ["--time=10:00"], "'walltime'"),
        ("job_extra", ["-c4"], "'cores'"),
        ("job_extra", ["--mem=8G"], "'memory'"),
        ("job_extra", ["--partition=big"], "'partition'"),
        ("prologue", ["ok", ""], "list of non-empty strings"),
        ("checkpoint_fraction", 0.9, "(0, 0.5]"),
        ("checkpoint_fraction", 0, "(0, 0.5]"),
        ("pending_timeout", "soon", "duration"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_key(key, value, says):
    with pytest.raises(UsageError) as err:
        SlurmSpec.from_table({key: value}, "grid.toml [slurm]")
    message = str(err.value)
    assert message.startswith(f"grid.toml [slurm] {key}") and says in message and "\n" not in message


def test_an_unknown_key_is_refused_with_the_nearest_one():
    with pytest.raises(UsageError, match=r"\[slurm\]: unknown key 'partion'; did you mean 'partition'\?"):
        SlurmSpec.from_table({"partion": "gpu"})
    with pytest.raises(UsageError, match="must be a table"):
        SlurmSpec.from_table("gpu")


def test_the_table_is_read_from_the_run_config_file(tmp_path):
    good = tmp_path / "grid.toml"
    good.write_text('folds = 3\n\n[slurm]\npartition = "cpu"\nwalltime = "2h"\ncores = 2\n')
    spec = load_slurm_spec(good)
    assert (spec.partition, spec.walltime, spec.cores) == ("cpu", 7200, 2)
    none = tmp_path / "plain.toml"
    none.write_text("folds = 3\n")
    with pytest.raises(UsageError, match=r"needs a \[slurm\] table in --config .*plain.toml"):
        load_slurm_spec(none)
    bad = tmp_path / "bad.toml"
    bad.write_text("[slurm]\nwalltime = \n")
    with pytest.raises(UsageError, match="not valid TOML"):
        load_slurm_spec(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text('[slurm]\nwalltime = "1 hour"\n')
    with pytest.raises(UsageError, match=r"typo.toml \[slurm\] walltime"):
        load_slurm_spec(typo)


def test_the_job_script_asks_for_what_the_table_says(tmp_path):
    pytest.importorskip("dask_jobqueue")
    from dask_jobqueue.slurm import SLURMJob

    from tcrbench.executors.slurm_backend import SlurmExecutor

    executor = SlurmExecutor(SlurmSpec.from_table(TYPICAL))
    kwargs = executor._kwargs(tmp_path / "logs")
    script = SLURMJob("tcp://10.0.0.5:8786", name="tcrbench-x-0", **kwargs).job_script()
    for line in (
        "#SBATCH -p gpu",
        "#SBATCH -A proj-123",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --mem=16384M",  # 16GB as Slurm reads it: 16 GiB
        "#SBATCH -t 04:00:00",
        "#SBATCH --no-requeue",  # we resubmit; Slurm requeueing too would start a second worker of the same name
        "#SBATCH --gpus=1",
        "#SBATCH --qos=normal",
        "source ~/venvs/tcrbench/bin/activate",
    ):
        assert line in script, line
    assert "--memory-limit 16.00GiB" in script
    assert "--nthreads 1" in script and "--name tcrbench-x-0" in script and "python3 -m distributed" in script
    assert "--death-timeout 60" in script  # a worker whose driver died exits: no job outlives its run
    default = SlurmExecutor(SlurmSpec.from_table({}))._kwargs(tmp_path / "logs")
    assert default["python"] == sys.executable


# ---------------------------------------------------------------- the ledger


def tasks(n: int) -> list[CellTask]:
    return [CellTask(i, ("finetune",), f"cell {i}") for i in range(n)]


def submit(ledger: CellLedger, active: set[str] = frozenset(), mark: str | None = None) -> dict[int, str]:
    return {task.index: key for task, key in ledger.to_submit(set(active), mark)}


def test_a_cell_has_one_attempt_out_at_a_time():
    ledger = CellLedger(tasks(3), "t", walltime=60)
    keys = submit(ledger)
    assert sorted(keys) == [0, 1, 2] and len(set(keys.values())) == 3
    assert submit(ledger) == {}  # all out: nothing goes out twice
    assert ledger.unfinished() == 3 and sorted(ledger.outstanding()) == sorted(keys.values())


def test_each_job_counts_once_per_cell_and_stale_news_is_ignored():
    ledger = CellLedger(tasks(1), "t", walltime=60)
    first = submit(ledger)[0]
    assert ledger.started(first, "101", 1.0) is True
    assert ledger.started(first, "101", 1.5) is False  # the same announcement twice
    verdict = ledger.killed(first, "101", walltime=True, now=70.0)
    assert verdict is not None and verdict.resubmit
    assert ledger.killed(first, "101", walltime=True, now=71.0) is None  # the same death, reported twice
    assert ledger.started(first, "102", 72.0) is False  # news of the old attempt
    assert submit(ledger, active={"101"}) == {}  # the killed job's processes may still run: wait
    second = submit(ledger, active=set())[0]
    assert second != first and second.endswith("try2")
    assert ledger.started(second, "102", 80.0) is True
    assert ledger.finished(first) is None  # a late result of the old attempt is never written
    assert ledger.finished(second) == CellTask(0, ("finetune",), "cell 0")
    assert ledger.finished(second) is None  # nor one result twice
    assert ledger.jobs_per_cell() == {0: 2} and ledger.unfinished() == 0
    rec = ledger.cells[0]
    assert (rec.walltime_kills, rec.deaths, rec.state) == (1, 0, "done")
    assert ledger.summary() == "slurm: 1 cells in 2 jobs; 1 took more than one job (most: 2, cell 0)"


def test_wall_time_kills_are_free_other_ends_are_retries():
    ledger = CellLedger(tasks(2), "t", walltime=60, max_retries=1)
    keys = submit(ledger, mark="m0")
    for n in range(5):  # a long cell: five jobs, each ending at its wall time, each leaving a newer checkpoint
        ledger.started(keys[0], f"w{n}", 0.0)
        assert ledger.killed(keys[0], f"w{n}", walltime=True, now=60.0, mark=f"m{n + 1}").resubmit
        keys[0] = submit(ledger, mark=f"m{n + 1}")[0]
    assert ledger.cells[0].walltime_kills == 5 and ledger.cells[0].deaths == 0
    ledger.started(keys[1], "n1", 0.0)
    verdict = ledger.killed(keys[1], "n1", walltime=False, now=5.0, why="job n1, NODE_FAIL")
    assert verdict.resubmit and ledger.cells[1].deaths == 1
    again = submit(ledger, active=set())[1]
    ledger.started(again, "n2", 10.0)
    verdict = ledger.killed(again, "n2", walltime=False, now=12.0, why="job n2, CANCELLED")
    assert not verdict.resubmit
    assert verdict.reason == "2 Slurm jobs ended under it, not at the wall time (last: job n2, CANCELLED)"
    assert ledger.cells[1].state == "lost" and submit(ledger) == {}


def test_a_cell_only_queued_on_a_dead_job_goes_again_for_free():
    ledger = CellLedger(tasks(1), "t", walltime=60, max_retries=0)
    key = submit(ledger)[0]
    verdict = ledger.killed(key, "7", walltime=False, now=3.0, ran=False)
    assert verdict.resubmit and ledger.cells[0].deaths == 0 and ledger.jobs_per_cell() == {0: 0}
    assert submit(ledger, active={"7"}) == {} and len(submit(ledger)) == 1


def test_a_cell_that_makes_no_progress_in_two_whole_jobs_is_lost():
    ledger = CellLedger(tasks(1), "t", walltime=60, stall_limit=2)
    key = submit(ledger, mark="same")[0]
    ledger.started(key, "1", 100.0)
    assert ledger.killed(key, "1", walltime=True, now=110.0, mark="same").resubmit  # started late in its job
    key = submit(ledger, mark="same")[0]
    ledger.started(key, "2", 200.0)
    assert ledger.killed(key, "2", walltime=True, now=270.0, mark="same").resubmit  # one whole job, no progress
    key = submit(ledger, mark="same")[0]
    ledger.started(key, "3", 300.0)
    verdict = ledger.killed(key, "3", walltime=True, now=370.0, mark="same")
    assert not verdict.resubmit and "no progress in 2 Slurm jobs of 1 min" in verdict.reason
    assert "raise [slurm] walltime" in verdict.reason


def test_a_broken_attempt_is_lost_once_and_a_cancelled_one_waits():
    ledger = CellLedger(tasks(2), "t", walltime=60)
    keys = submit(ledger)
    assert ledger.fail(keys[0], "RuntimeError: result could not be sent") == tasks(1)[0]
    assert ledger.fail(keys[0], "again") is None
    ledger.cancelled(keys[1])
    assert [r.state for r in ledger.cells.values()] == ["lost", "waiting"]


# ---------------------------------------------------------------- the job pool, against a fake Slurm


class FakeSlurm:
    """sbatch hands out ids; squeue answers from `states`; scancel is recorded."""

    def __init__(self) -> None:
        self.next, self.states_now, self.cancelled = 100, {}, []

    def submit(self, script: Path) -> str:
        assert script.read_text().startswith("#!")
        self.next += 1
        self.states_now[str(self.next)] = JobState("PENDING", "Priority", None, 60.0, 0.0)
        return str(self.next)

    def states(self, jobs) -> dict:
        return {j: self.states_now[j] for j in jobs if j in self.states_now}

    def cancel(self, jobs) -> None:
        for j in jobs:
            self.cancelled.append(j)
            self.states_now[j] = JobState("CANCELLED", "None", None, 60.0, 0.0)


def pool(tmp_path, fake, max_jobs=3, pending_timeout=3600.0) -> JobPool:
    return JobPool(
        fake,
        lambda name: f"#!/bin/bash\n# {name}\n",
        tmp_path / "jobs",
        "t",
        max_jobs,
        pending_timeout,
        logs=tmp_path / "logs",
    )


def test_jobs_follow_the_cells_left_and_a_busy_job_is_never_released(tmp_path):
    fake = FakeSlurm()
    jobs = pool(tmp_path, fake)
    assert jobs.scale(10, idle=lambda names: names) == [] and len(jobs.jobs) == 3  # capped at max_jobs
    for job in ("101", "102"):
        fake.states_now[job] = JobState("RUNNING", "None", time.time(), 60.0, 1.0)
    jobs.refresh(connected={"t-0", "t-1"})
    assert {r.name for r in jobs.live() if r.joined} == {"t-0", "t-1"}
    # one cell left: the queued job goes first, then the idle one; the busy one stays
    retire = jobs.scale(1, idle=lambda names: [n for n in names if n != "t-0"])
    assert fake.cancelled == ["103"] and retire == ["t-1"]
    assert jobs.scale(1, idle=lambda names: names) == []  # t-1 is retiring already: nothing more to do
    assert overhead(jobs.jobs.values())["jobs"] == 3


def test_a_job_that_can_never_start_stops_the_run_at_once(tmp_path):
    fake = FakeSlurm()
    jobs = pool(tmp_path, fake)
    jobs.scale(1, idle=lambda names: names)
    fake.states_now["101"] = JobState("PENDING", "PartitionTimeLimit", None, 300.0, 0.0)
    jobs.refresh(connected=set())
    with pytest.raises(SlurmError, match=r"job 101 cannot start \(PartitionTimeLimit\).*run the same command again"):
        jobs.check(waiting=True)


def test_no_worker_for_the_pending_timeout_is_one_line(tmp_path):
    fake = FakeSlurm()
    jobs = pool(tmp_path, fake, pending_timeout=0.2)
    jobs.scale(2, idle=lambda names: names)
    jobs.refresh(connected=set())
    jobs.check(waiting=True)  # not yet
    time.sleep(0.25)
    jobs.check(waiting=False)  # nothing left to compute: no reason to stop
    with pytest.raises(SlurmError) as err:
        jobs.check(waiting=True)
    assert "no worker for 0 s: job 101 is still pending (Priority)" in str(err.value)
    assert "\n" not in str(err.value)


def test_jobs_that_die_before_their_worker_joins_stop_the_run_with_their_log(tmp_path):
    fake = FakeSlurm()
    jobs = pool(tmp_path, fake, max_jobs=1)
    (tmp_path / "logs").mkdir()
    for n in range(3):
        jobs.scale(1, idle=lambda names: names)
        job = str(101 + n)
        (tmp_path / "logs" / f"tcrbench-{job}.err").write_text("ModuleNotFoundError: No module named 'tcrbench'\n")
        fake.states_now[job] = JobState("FAILED", "NonZeroExitCode", time.time(), 60.0, 1.0)
        jobs.refresh(connected=set())
    assert jobs.scale(1, idle=lambda names: names) == [] and len(jobs.jobs) == 3  # no fourth try
    with pytest.raises(SlurmError, match=r"3 jobs in a row ended \(FAILED\).*No module named 'tcrbench'"):
        jobs.check(waiting=True)


def test_slurm_states_and_times_are_read():
    assert _clock("1:17") == 77 and _clock("01:00:00") == 3600 and _clock("1-00:00:01") == 86401
    assert _clock("UNLIMITED") is None
    assert JobState("TIMEOUT", "TimeLimit", 0.0, 60.0, 77.0).walltime
    assert JobState("COMPLETING", "TimeLimit", 0.0, 60.0, 70.0).walltime and JobState("COMPLETING", "", 0, 60, 1).active
    assert not JobState("NODE_FAIL", "None", 0.0, 60.0, 20.0).walltime
    assert not JobState("CANCELLED", "None", 0.0, 60.0, 20.0).active


def test_a_controller_that_does_not_answer_for_a_while_is_waited_for_then_named(tmp_path):
    fake = FakeSlurm()
    jobs = pool(tmp_path, fake, pending_timeout=0.3)
    jobs.scale(1, idle=lambda names: names)

    def silent(ids):
        raise SlurmError("--executor slurm: squeue -h failed: Unable to contact slurm controller (connect failure)")

    fake.states = silent
    jobs.refresh(connected=set())  # a busy controller: this look is skipped
    assert jobs.jobs["101"].state == "PENDING"
    time.sleep(0.35)
    with pytest.raises(SlurmError, match=r"Slurm has not answered for 0 s .*Unable to contact"):
        jobs.refresh(connected=set())

    def refused(path):
        raise SlurmError("--executor slurm: sbatch --parsable failed: sbatch: error: invalid partition specified: gpu")

    fake.submit = refused
    with pytest.raises(SlurmError, match="invalid partition specified: gpu"):  # not worth a second try
        jobs.scale(3, idle=lambda names: names)


def test_the_progress_mark_changes_when_the_cache_does(tmp_path):
    from tcrbench.executors.slurm_loop import progress_mark

    assert progress_mark(None) is None and progress_mark(tmp_path / "none") is None
    (tmp_path / "checkpoints" / "cell").mkdir(parents=True)
    before = progress_mark(tmp_path)
    (tmp_path / "checkpoints" / "cell" / "step-0000010.ckpt").write_bytes(b"x" * 10)
    after = progress_mark(tmp_path)
    assert before != after and progress_mark(tmp_path) == after
