"""The benchmark's command line refuses a choice that would run nothing (before any start)."""

from __future__ import annotations

import pytest

from benchmarks.run import SECTIONS, apply_defaults, build_parser


def parsed(*argv: str):
    return apply_defaults(build_parser().parse_args(list(argv)))


@pytest.mark.parametrize("sections", ["", " , ", "lifecycel", "grid,nope"])
def test_a_choice_that_runs_nothing_or_a_misspelt_section_is_refused(sections: str):
    with pytest.raises(SystemExit, match="choose from") as refused:
        parsed("--sections", sections)
    assert all(name in str(refused.value) for name in SECTIONS)


def test_the_default_runs_every_section_and_a_choice_keeps_its_order():
    assert parsed().sections == list(SECTIONS)
    assert parsed("--sections", " grid, lifecycle ").sections == ["grid", "lifecycle"]
