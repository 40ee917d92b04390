"""side_by_side: the first failure raised as itself, a second one named on it."""

from __future__ import annotations

import sys

import anyio
import pytest

from flows.common.side_by_side import side_by_side


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes (add_note) are 3.11+")
def test_when_both_fail_the_second_failure_is_named_on_the_first() -> None:
    async def both() -> None:
        async def a() -> None:
            raise KeyError("a")

        async def b() -> None:
            raise ValueError("b")

        await side_by_side(a, b)

    with pytest.raises(KeyError) as raised:
        anyio.run(both)
    assert any("ValueError: b" in note for note in getattr(raised.value, "__notes__", []))
