"""The supported versions are declared once, and ``make test-compat`` tests what is declared.

``constraints/floor.txt`` pins the lowest version of each direct dependency for the floor run;
a lower bound raised or lowered in ``pyproject.toml`` without it would leave the new floor
untested. The same holds for the lowest Python: the Makefile's ``FLOOR_VERSION`` and the
README's "Python 3.x+" must say what ``requires-python`` says.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest brings tomli to Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def project() -> dict[str, object]:
    table: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return table


def lower_bound(specifier: SpecifierSet, what: str) -> Version:
    bounds = [Version(spec.version) for spec in specifier if spec.operator == ">="]
    assert len(bounds) == 1, f"{what}: one '>=' lower bound expected, got {specifier}"
    return bounds[0]


def test_the_floor_constraints_pin_each_direct_dependency_at_its_lower_bound():
    dependencies = project()["dependencies"]
    assert isinstance(dependencies, list)
    declared = {}
    for line in dependencies:
        requirement = Requirement(line)
        declared[canonicalize_name(requirement.name)] = lower_bound(requirement.specifier, line)
    pinned = {}
    for line in (ROOT / "constraints" / "floor.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints/floor.txt: {line!r} is not a 'name==version' pin"
            pinned[canonicalize_name(name)] = Version(version)
    assert pinned == declared


def test_the_makefile_and_readme_name_the_lowest_supported_python():
    floor = lower_bound(SpecifierSet(str(project()["requires-python"])), "requires-python")
    makefile = re.search(r"^FLOOR_VERSION\s*:?=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M)
    assert makefile is not None, "the Makefile sets no FLOOR_VERSION"
    assert Version(makefile.group(1)) == floor
    readme = re.findall(r"Python (3\.\d+)\+", (ROOT / "README.md").read_text())
    assert readme, "the README names no lowest Python"
    assert {Version(found) for found in readme} == {floor}
