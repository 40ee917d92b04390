"""The client's optimization rules and the emulator's agree: node types and their limits, the
value sets, the statistics' order, the grid's size, and what is refused.

Both are written from the contract; this holds them together, as ``test_name_parity`` does for
names. The client must refuse, before any request, at least what the emulator refuses.
"""

from __future__ import annotations

from typing import Any

import pytest

from quantconnect_client import ValidationError
from quantconnect_client.models import optimizations as client_side
from quantconnect_client.optimizations import grid_size, validate_parameters
from quantconnect_emulator.params import ParamError, Params
from quantconnect_emulator.resources import optimizations as emulator_side


def test_node_types_and_their_clusters_agree():
    assert {
        name: (node.max_nodes, node.default_nodes)
        for name, node in emulator_side.NODE_TYPES.items()
    } == client_side.NODE_TYPES


def test_targets_operators_strategies_and_statistics_agree():
    assert client_side.TARGET_PREFIX == emulator_side.TARGET_PREFIX
    assert set(client_side.TARGETS) == set(emulator_side.TARGETS)
    assert set(client_side.OPERATORS) == set(emulator_side.OPERATORS.values())
    assert client_side.STRATEGIES == (emulator_side.GRID_STRATEGY, emulator_side.EULER_STRATEGY)
    names = client_side.STATISTICS_NAMES
    assert names[:21] == emulator_side.STATISTICS_ORDER
    assert names[21:] == emulator_side.OBJECT_ONLY_STATISTICS
    for target, index in client_side.TARGETS.items():  # each target's number is its statistic
        assert names[index].replace(" ", "").replace("-", "").lower() == target.lower()


#: (min, max, step) ranges, the awkward decimals included.
RANGES = [
    (252, 273, 21), (10, 110, 50), (0.1, 0.3, 0.1), (0, 1, 0.3), (1, 1, 1), (0.05, 0.95, 0.05),
    (-5, 5, 2.5), (0, 100, 7), (0.001, 0.01, 0.001), (1.1, 2.2, 0.1), (0, 0.7, 0.07),
]


def _emulator_size(parameters: list[dict[str, Any]]) -> int:
    request = emulator_side.parse_request(Params({
        "projectId": 1, "name": "p", "target": emulator_side.TARGET_PREFIX + "SharpeRatio",
        "targetTo": "max", "strategy": emulator_side.GRID_STRATEGY, "parameters": parameters,
    }))
    return emulator_side.grid_size(request.parameters)


@pytest.mark.parametrize(("low", "high", "step"), RANGES)
def test_the_grid_size_agrees(low, high, step):
    parameters = [{"name": "a", "min": low, "max": high, "step": step}]
    assert grid_size(parameters) == _emulator_size(parameters)


#: Parameter lists, good and bad.
CORPUS: list[list[dict[str, Any]]] = [
    [],
    [{"name": "a", "min": 1, "max": 2, "step": 1}],
    [{"name": "a", "min": 1, "max": 2, "step": 0}],
    [{"name": "a", "min": 1, "max": 2, "step": -1}],
    [{"name": "a", "min": 3, "max": 2, "step": 1}],
    [{"name": "a", "min": 1, "max": 2, "step": 1, "minStep": 0}],
    [{"name": "", "min": 1, "max": 2, "step": 1}],
    [{"name": "a", "value": "SPY"}],
    [{"name": "a", "min": 1, "max": 2, "step": 1}, {"name": "a", "value": "x"}],
    [{"name": "a", "min": 1, "max": 2}],
    [{"name": "a", "min": 1, "max": 2, "step": 1}, {"name": "b", "value": "SPY"}],
    [{"name": "a", "min": 1e16, "max": 1e17, "step": 1e16}],
]


@pytest.mark.parametrize("parameters", CORPUS, ids=lambda p: repr(p)[:60])
def test_the_client_refuses_whatever_the_emulator_refuses(parameters):
    try:
        _emulator_size(parameters)
    except ParamError:
        with pytest.raises(ValidationError):
            validate_parameters(parameters)
    else:
        assert grid_size(parameters) == _emulator_size(parameters)
