"""What installing the package puts into a user's environment.

The wheel carries the reusable libraries only: no top-level ``tasks``, ``flows`` or
``deployments`` module, and no ``prefect.collections`` entry point that would make every Prefect
process import one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


#: What the build needs none of (and a copy should not carry): venvs, Prefect homes, caches.
_NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv*", ".prefect-home", "__pycache__", ".*_cache", "build", "*.egg-info",
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    # A copy of the checkout per build: setuptools writes build/ and *.egg-info into the source
    # tree, and two xdist workers building the same tree at once break each other's build.
    source = tmp_path_factory.mktemp("source") / "checkout"
    shutil.copytree(ROOT, source, ignore=_NOT_COPIED, symlinks=True)
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=240, cwd=source,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (path,) = out.glob("prefect_quantconnect-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_installs_only_the_libraries(wheel: zipfile.ZipFile) -> None:
    top = {name.split("/", 1)[0] for name in wheel.namelist()}
    assert {"quantconnect_client", "quantconnect_emulator"} <= top
    assert not top & {"tasks", "flows", "deployments", "tests", "benchmarks", "strategies"}


def test_wheel_registers_no_prefect_collection(wheel: zipfile.ZipFile) -> None:
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "prefect.collections" not in text
    assert "quantconnect_emulator.pytest_plugin" in text  # the plugin still installs
    assert "qc-emulator" in text


@pytest.mark.skipif(
    Path(sys.prefix).resolve() != (ROOT / ".venv").resolve(),
    reason="only the checkout's own venv (make setup) carries the checkout's .pth",
)
def test_the_checkouts_venv_imports_the_flows_from_any_directory(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import flows.run, tasks; print(flows.run.__file__)"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert Path(done.stdout.strip()).resolve() == ROOT / "flows" / "run.py"
