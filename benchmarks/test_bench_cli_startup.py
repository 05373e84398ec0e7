"""Start-up of the command line: `tcrbench --help` (and the commands' --help) against `python -c pass`, measured in
the same run, as CPU seconds (user + system of the child process) and wall seconds.

Goal (issue 18): every `--help` in under 0.3 s of CPU; before the lazy imports it took 2.3-2.5 s (torch and scipy
loaded before parsing). tests/test_cli_startup.py pins what --help may import; this measures what it costs.
Run: `python -m pytest benchmarks/test_bench_cli_startup.py -s` (the whole module: the last test prints the table
and checks the goal). Each command's fastest round counts: on a shared machine other processes only add time.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

GOAL_CPU = 0.3
ROUNDS = 7
_script = Path(sys.executable).with_name("tcrbench")  # the console script users run, where it is installed
TCRBENCH = [str(_script)] if _script.is_file() else [sys.executable, "-m", "tcrbench"]
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "tcrbench --help": [*TCRBENCH, "--help"],
    "tcrbench run --help": [*TCRBENCH, "run", "--help"],
    "tcrbench report --help": [*TCRBENCH, "report", "--help"],
    "tcrbench stats compare --help": [*TCRBENCH, "stats", "compare", "--help"],
}
ENV = {**os.environ, "COLUMNS": "100"}
RESULTS: dict[str, tuple[float, float]] = {}  # name -> (fastest CPU seconds, fastest wall seconds)


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(cmd: list[str], cpu: list[float]) -> None:
    before = _child_cpu()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, check=True)
    cpu.append(_child_cpu() - before)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_startup(benchmark, name: str) -> None:
    benchmark.group = "command-line start-up"
    cpu: list[float] = []
    benchmark.pedantic(_run, args=(COMMANDS[name], cpu), rounds=ROUNDS, iterations=1, warmup_rounds=1)
    RESULTS[name] = (min(cpu[1:] or cpu), benchmark.stats.stats.min)  # the warm-up round is cpu[0]
    benchmark.extra_info["cpu_min_s"] = RESULTS[name][0]


def test_report_startup_table() -> None:
    if set(COMMANDS) - RESULTS.keys():
        pytest.skip("run the whole module to get the table")
    base_cpu, base_wall = RESULTS["python -c pass"]
    print(f"\n{'command':<32}{'CPU s':>8}{'wall s':>8}{'CPU / python':>14}{'wall / python':>15}")
    for name, (cpu, wall) in RESULTS.items():
        print(f"{name:<32}{cpu:>8.3f}{wall:>8.3f}{cpu / max(base_cpu, 1e-3):>14.1f}{wall / base_wall:>15.1f}")
    slow = {name: cpu for name, (cpu, _) in RESULTS.items() if name != "python -c pass" and cpu >= GOAL_CPU}
    assert not slow, f"--help over {GOAL_CPU} s of CPU: {slow}"
