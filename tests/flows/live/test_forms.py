"""The ``deploy-live`` form's guards that need no server: a gate must have a rule."""

from __future__ import annotations

import pytest

from flows.live.forms import DeployLiveOptions


def test_the_default_gate_has_a_rule():
    gate = DeployLiveOptions().gate
    assert gate.thresholds or gate.compare_to_baseline


@pytest.mark.parametrize("gate", [{}, {"thresholds": {}}, {"compare_to_baseline": False}])
def test_a_gate_without_a_rule_is_refused(gate):
    with pytest.raises(ValueError, match=r"no rule.*gate.thresholds.*gate_backtest: false"):
        DeployLiveOptions(gate=gate)


def test_a_rule_or_no_gate_at_all_is_accepted():
    assert DeployLiveOptions(gate={"compare_to_baseline": True}).gate.compare_to_baseline
    assert not DeployLiveOptions(gate={}, gate_backtest=False).gate_backtest
