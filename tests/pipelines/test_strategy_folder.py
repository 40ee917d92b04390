"""The strategy-folder loader refuses what the service would refuse, before any upload."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.strategy_folder import (
    MAX_SOURCE_FILE_BYTES,
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
        ".hidden/secret.py (hidden or cache)",
        "README.md (not Py source)",
        "__pycache__/main.cpython-311.pyc (hidden or cache)",
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
