"""Every way into tcrbench sets OpenMP's passive waiting before torch loads (unless the user chose otherwise)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = "import os, sys; {imp}; print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)"


@pytest.mark.parametrize("imp", ["import tcrbench", "from tcrbench.run.runner import Runner",
                                 "import tcrbench.executors.worker", "from tcrbench.cli.main import main"])
def test_importing_tcrbench_sets_passive_waiting(imp: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", PROBE.format(imp=imp)], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == "PASSIVE"


def test_a_users_choice_is_kept() -> None:
    env = {**os.environ, "OMP_WAIT_POLICY": "ACTIVE"}
    out = subprocess.run([sys.executable, "-c", PROBE.format(imp="import tcrbench")], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["ACTIVE", "False"]
