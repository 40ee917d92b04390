"""The strategy-folder loader refuses what the service would refuse, before any upload."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flows.backtests.strategy_folder import (
    MAX_FOLDER_ENTRIES,
    MAX_SOURCE_FILE_BYTES,
    MAX_SOURCE_FILES,
    StrategyFolderError,
    load_strategy,
    resolve_folder,
)
from quantconnect_client import ValidationError


def write(root: Path, name: str, content: str | bytes) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


def test_the_python_example_loads_with_its_language():
    strategy = load_strategy("strategies/sma_crossover_py")
    assert strategy.language == "Py"
    assert strategy.name == "sma_crossover_py"
    assert [f.name for f in strategy.files] == ["main.py"]
    assert 'get_parameter("fast", 10)' in strategy.files[0].content


def test_the_csharp_example_loads_with_its_language():
    strategy = load_strategy("strategies/sma_crossover_cs")
    assert (strategy.language, strategy.algorithm_file) == ("C#", "Main.cs")
    assert 'GetParameter("fast", 10)' in strategy.files[0].content


def test_sub_folders_are_kept_and_other_files_skipped(tmp_path):
    write(tmp_path, "main.py", "x = 1\n")
    write(tmp_path, "utils/signals.py", "y = 2\n")
    write(tmp_path, "utils/__init__.py", "")
    write(tmp_path, "README.md", "notes")
    write(tmp_path, "research.ipynb", "{}")
    write(tmp_path, "__pycache__/main.cpython-311.pyc", b"\x00\xff")
    write(tmp_path, ".hidden/secret.py", "z = 3\n")
    strategy = load_strategy(tmp_path)
    assert [f.name for f in strategy.files] == ["main.py", "utils/signals.py"]
    assert sorted(strategy.skipped) == [
        ".hidden/ (hidden or cache)",  # not entered
        "README.md (not Py source)",
        "__pycache__/ (hidden or cache)",
        "research.ipynb (not Py source)",
        "utils/__init__.py (empty: the service refuses empty files)",
    ]


def test_algorithm_file_comes_first_then_by_name(tmp_path):
    write(tmp_path, "a.py", "a = 1\n")
    write(tmp_path, "main.py", "m = 1\n")
    write(tmp_path, "z/b.py", "b = 1\n")
    assert [f.name for f in load_strategy(tmp_path).files] == ["main.py", "a.py", "z/b.py"]


def test_the_digest_changes_with_the_content(tmp_path):
    write(tmp_path, "main.py", "x = 1\n")
    before = load_strategy(tmp_path).digest
    write(tmp_path, "main.py", "x = 2\n")
    assert load_strategy(tmp_path).digest != before


def test_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(StrategyFolderError, match="does not exist"):
        load_strategy(tmp_path / "nope")


def test_an_empty_folder_is_refused(tmp_path):
    with pytest.raises(StrategyFolderError, match="it is empty"):
        load_strategy(tmp_path)


def test_a_folder_without_an_algorithm_file_is_refused(tmp_path):
    write(tmp_path, "strategy.py", "x = 1\n")
    with pytest.raises(StrategyFolderError, match=r"no algorithm file \(main.py"):
        load_strategy(tmp_path)


def test_both_languages_at_once_are_refused(tmp_path):
    write(tmp_path, "main.py", "x = 1\n")
    write(tmp_path, "Main.cs", "class A {}\n")
    with pytest.raises(StrategyFolderError, match="one language"):
        load_strategy(tmp_path)


def test_every_problem_is_reported_at_once_and_is_a_validation_error(tmp_path):
    write(tmp_path, "main.py", "x = 1\n")
    write(tmp_path, "latin1.py", "café = 1\n".encode("latin-1"))
    write(tmp_path, "big.py", "#" * (MAX_SOURCE_FILE_BYTES + 1))
    with pytest.raises(StrategyFolderError) as caught:
        load_strategy(tmp_path)
    problems = caught.value.problems
    assert any("big.py is" in p and "over the" in p for p in problems)
    assert any("latin1.py is not UTF-8" in p for p in problems)
    assert len(problems) == 2
    assert isinstance(caught.value, ValidationError)  # permanent: a retry would fail the same


def test_an_empty_algorithm_file_is_refused(tmp_path):
    write(tmp_path, "main.py", "  \n")
    with pytest.raises(StrategyFolderError, match="algorithm file, is empty"):
        load_strategy(tmp_path)


def test_a_file_name_the_service_refuses_is_refused(tmp_path):
    write(tmp_path, "main.py", "x = 1\n")
    write(tmp_path, "bad /x.py", "y = 1\n")  # a component ending with a space
    with pytest.raises(StrategyFolderError) as caught:
        load_strategy(tmp_path)
    [problem] = caught.value.problems
    assert problem == "File name component 'bad ' must not start or end with a space."


def test_symbolic_links_are_not_followed(tmp_path):
    outside = tmp_path / "outside.py"
    outside.write_text("secret = 1\n")
    folder = tmp_path / "strategy"
    write(folder, "main.py", "x = 1\n")
    (folder / "linked.py").symlink_to(outside)
    strategy = load_strategy(folder)
    assert [f.name for f in strategy.files] == ["main.py"]
    assert "linked.py (symbolic link)" in strategy.skipped


def test_relative_folders_resolve_inside_the_checkout_and_absolute_ones_stay(tmp_path):
    assert resolve_folder("strategies/sma_crossover_py").is_dir()
    assert resolve_folder(tmp_path) == tmp_path


@pytest.mark.parametrize("main", ["main.py", "Main.cs"])
@pytest.mark.parametrize("target", ["inside", "outside", "missing"])
def test_a_linked_algorithm_file_is_refused_not_left_out(tmp_path, main, target):
    # Left out, it would leave the project's default template to be backtested.
    folder = tmp_path / "strategy"
    write(folder, "real/algorithm.txt", "x = 1\n")
    write(tmp_path, "elsewhere.txt", "x = 1\n")
    pointee = {"inside": folder / "real" / "algorithm.txt",
               "outside": tmp_path / "elsewhere.txt", "missing": folder / "gone"}[target]
    (folder / main).symlink_to(pointee)
    with pytest.raises(StrategyFolderError) as caught:
        load_strategy(folder)
    assert caught.value.problems == [
        f"{main}, the algorithm file, is a symbolic link: links are never followed, so put the "
        "file itself in the folder"
    ]


def test_a_fifo_is_listed_as_skipped_and_never_opened(tmp_path):
    # Opening a FIFO for reading waits for a writer: the load would hang.
    write(tmp_path, "main.py", "x = 1\n")
    os.mkfifo(tmp_path / "pipe.py")
    os.mkfifo(tmp_path / "notes.txt")
    strategy = load_strategy(tmp_path)
    assert [f.name for f in strategy.files] == ["main.py"]
    assert strategy.skipped == ["notes.txt (not a regular file: a FIFO)",
                                "pipe.py (not a regular file: a FIFO)"]


def test_a_fifo_named_like_the_algorithm_file_is_no_algorithm_file(tmp_path):
    os.mkfifo(tmp_path / "main.py")
    with pytest.raises(StrategyFolderError, match="no algorithm file"):
        load_strategy(tmp_path)


def test_too_many_source_files_are_refused_before_any_is_read(tmp_path):
    write(tmp_path, "main.py", "x = 1\n")
    for index in range(MAX_SOURCE_FILES):
        write(tmp_path, f"lib/m{index:03}.py", "y = 1\n")
    # Were they read, these would be problems too.
    write(tmp_path, "zz/latin1.py", "café = 1\n".encode("latin-1"))
    write(tmp_path, "zz/big.py", "#" * (MAX_SOURCE_FILE_BYTES + 1))
    with pytest.raises(StrategyFolderError) as caught:
        load_strategy(tmp_path)
    assert caught.value.problems == [
        f"{MAX_SOURCE_FILES + 3} source files, more than the {MAX_SOURCE_FILES} allowed"
    ]


def test_a_folder_too_big_to_be_a_strategy_is_not_walked_whole(tmp_path):
    write(tmp_path, "main.py", "x = 1\n")
    data = tmp_path / "data"
    data.mkdir()
    for index in range(MAX_FOLDER_ENTRIES):
        (data / f"{index}.csv").touch()
    with pytest.raises(StrategyFolderError) as caught:
        load_strategy(tmp_path)
    assert caught.value.problems == [
        f"more than {MAX_FOLDER_ENTRIES} files and folders: stopped looking (is it the "
        "strategy's folder?)"
    ]


def load_without_privileges(folder: Path | str) -> dict[str, object]:
    """``load_strategy(folder)`` in a child process that file permissions apply to (as root:
    without the capabilities that override them); what it raised, or the files it read."""
    code = (
        "import json, sys\n"
        "from flows.backtests.strategy_folder import load_strategy\n"
        "try:\n"
        "    s = load_strategy(sys.argv[1])\n"
        "    print(json.dumps({'files': [f.name for f in s.files]}))\n"
        "except Exception as e:\n"
        "    print(json.dumps({'error': type(e).__name__, 'message': str(e),\n"
        "                      'problems': getattr(e, 'problems', None)}))\n"
    )
    command = [sys.executable, "-c", code, str(folder)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: permissions cannot apply")
        caps = "-dac_override,-dac_read_search"
        command = [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", *command]
    # The walk is bounded; old code walking / whole would not be (the timeout says so).
    done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[3], check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_an_entry_that_cannot_be_read_is_a_problem_naming_it(tmp_path):
    write(tmp_path, "main.py", "x = 1\n")
    write(tmp_path, "secret.py", "y = 1\n")
    write(tmp_path, "locked/inner.py", "z = 1\n")
    (tmp_path / "secret.py").chmod(0)
    (tmp_path / "locked").chmod(0)
    try:
        result = load_without_privileges(tmp_path)
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert result["error"] == "StrategyFolderError", result
    assert result["problems"] == ["locked/ cannot be read (Permission denied)",
                                  "secret.py cannot be read (Permission denied)"]


def test_a_folder_that_cannot_be_read_is_refused_naming_it(tmp_path):
    folder = tmp_path / "strategy"
    write(folder, "main.py", "x = 1\n")
    tmp_path.chmod(0)  # the folder cannot even be looked at
    try:
        result = load_without_privileges(folder)
    finally:
        tmp_path.chmod(0o755)
    assert result["error"] == "StrategyFolderError", result
    assert result["problems"] == ["it cannot be read (Permission denied)"]


def test_the_root_folder_is_refused_with_reasons_not_a_permission_error():
    result = load_without_privileges("/")
    assert result["error"] == "StrategyFolderError", result
    problems = result["problems"]
    assert isinstance(problems, list) and "no algorithm file" in problems[0]
    assert len(str(result["message"])) < 2000  # hundreds of problems, ten of them listed
