"""Packaging mistakes must fail CI: build the wheel, install it (not editable) into a fresh environment and list
the built-ins from there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_installs_and_lists_builtins(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(dist), str(REPO)], check=True)
    wheel = next(dist.glob("tcrbench-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "tcrbench_plugins/augmentations.py" in names
    assert "tcrbench/cli/main.py" in names
    assert not any(n.startswith(("tests/", "plugins/")) for n in names)

    env_dir = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
                    str(wheel)], check=True)
    # Dependencies come from this environment's site-packages, appended after the fresh one; the editable
    # install's own .pth is not processed from there, so `tcrbench` can only come from the wheel.
    fresh_site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                     check=True, capture_output=True, text=True).stdout.strip())
    (fresh_site / "zz_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    env = {k: v for k, v in os.environ.items() if not k.startswith("TCRBENCH_") and k != "PYTHONPATH"}
    where = subprocess.run([str(python), "-c", "import tcrbench, tcrbench_plugins; print(tcrbench.__file__);"
                            "print(tcrbench_plugins.__file__)"], check=True, capture_output=True, text=True,
                           env=env, cwd=tmp_path).stdout.split()
    assert all(str(fresh_site) in w for w in where), where

    out = subprocess.run([str(env_dir / "bin" / "tcrbench"), "plugins", "--json"], capture_output=True,
                         text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "warning" not in out.stderr
    rows = json.loads(out.stdout)
    kinds = {(r["kind"], r["name"]) for r in rows}
    assert ("augmentation", "mask1") in kinds and ("objective", "ntxent") in kinds
    assert all(r["source"].startswith("built-in") for r in rows)
