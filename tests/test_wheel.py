"""A built wheel, installed outside the checkout, runs with everything it needs.

The wheel is built from a copy of the project's files (so the checkout gains no build/
folder), installed without dependencies into a fresh virtual environment in a temporary
folder, and run from there: the fresh environment sees the test environment's
site-packages for numpy, onnxruntime and the rest (added as a plain path, so the
checkout's editable install is not), but the soundwatch it imports and the model it finds
can only come from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import soundfile
from conftest import REPO, silence, tone
from setuptools import find_packages

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from soundwatch.model import SHIPPED_MODEL_NAME


def test_every_package_is_listed_for_the_wheel():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {"soundwatch"} | {f"soundwatch.{name}" for name in find_packages(REPO / "soundwatch")}
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert "soundwatch._models" in listed


def _copy_project(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, dest / name)
    shutil.copytree(REPO / "soundwatch", dest / "soundwatch", ignore=ignore)
    (dest / "models").mkdir()
    shutil.copy2(REPO / "models" / SHIPPED_MODEL_NAME, dest / "models" / SHIPPED_MODEL_NAME)


@pytest.mark.timeout(180)
def test_installed_wheel_classifies_with_the_shipped_model(tmp_path):
    source, dist, env, work = (tmp_path / n for n in ("source", "dist", "env", "work"))
    for folder in (source, dist, work):
        folder.mkdir()
    _copy_project(source)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(dist), str(source)], check=True)
    wheel = next(dist.glob("soundwatch-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert f"soundwatch/_models/{SHIPPED_MODEL_NAME}" in names
    assert "soundwatch/sounds/generic_negatives.npz" in names  # for `soundwatch learn`
    assert not [n for n in names if n.startswith("models/")]

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    env_python = env / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(env_python), "install",
                    "--no-deps", "--no-index", "-q", str(wheel)], check=True)
    env_site = Path(subprocess.run(
        [str(env_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip())
    # The dependencies, as a plain path: .pth files there (the editable install) stay unread.
    (env_site / "test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    audio = work / "knock.wav"
    soundfile.write(str(audio), [*silence(0.5), *tone(1000, 2.0), *silence(0.5)], 16000)
    clean_env = {k: v for k, v in os.environ.items()
                 if k not in ("SOUNDWATCH_MODEL", "PYTHONPATH")}
    clean_env.update(SOUNDWATCH_CONFIG_DIR=str(work / "config"),
                     SOUNDWATCH_DATA_DIR=str(work / "data"))
    where = subprocess.run(
        [str(env_python), "-c", "import soundwatch, soundwatch.model as m; "
         "print(soundwatch.__file__); print(m.default_model_path())"],
        cwd=work, env=clean_env, check=True, capture_output=True, text=True).stdout.split()
    assert all(Path(p).is_relative_to(env) for p in where), where
    result = subprocess.run([str(env / "bin" / "soundwatch"), "classify", "--json",
                             str(audio)], cwd=work, env=clean_env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["duration_s"] == pytest.approx(3.0)
    assert len(report["labels"]) > 10  # the shipped model's labels, not the test model's
    assert len(report["windows"]) > 5
    # The benchmarks stay in the source checkout: an installed soundwatch says where.
    result = subprocess.run([str(env / "bin" / "soundwatch"), "bench"], cwd=work,
                            env=clean_env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "not installed with the package" in result.stderr and "clone" in result.stderr
