"""Backtest parameters as LEAN sees them: text.

LEAN hands an algorithm its parameters as strings (``get_parameter`` returns text, and the job's
parameter map is string to string), so ``10``, ``10.0`` and ``"10"`` are one and the same
parameter to the algorithm. The client sends every value as that text, and whatever compares
parameter sets (the grid's de-duplication, a look-up of a started backtest) compares the text,
through :func:`lean_text` only.

The text of a number: an integer's decimal digits; a float with an integral value (below 2**53,
where every integer is exact) as that integer (``10.0`` -> ``"10"``, which is also how the
service's JSON reader turns the number ``10.0`` into text); any other float as Python's shortest
text that reads back to the same float (``0.1`` -> ``"0.1"``). Text stays as it is: ``"10.0"``
is not ``"10"`` (``int(get_parameter(...))`` fails on the first).

Example:
    >>> lean_parameters({"fast": 10.0, "slow": 30, "symbol": "SPY", "ratio": 0.25})
    {'fast': '10', 'slow': '30', 'symbol': 'SPY', 'ratio': '0.25'}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeAlias

from .validation import validate_parameters

#: One backtest parameter's value as a caller gives it: text or a number.
ParameterValue: TypeAlias = str | int | float
#: A backtest's parameter set, as it is passed around: parameter name -> value. LEAN reads
#: every value as its text (:func:`lean_text`), so sets that differ only in how a number is
#: written are one set (:func:`parameter_key`); :func:`lean_parameters` gives that text.
BacktestParameters: TypeAlias = Mapping[str, ParameterValue]

#: Floats with an integral value below this are written as integers (all of them are exact).
_EXACT_INTEGERS = 2.0**53


def lean_text(value: ParameterValue) -> str:
    """The text LEAN's ``get_parameter`` gives the algorithm for this value.

    Example:
        >>> [lean_text(v) for v in (10, 10.0, "10", -0.0, 30.5, 1e-07, "10.0")]
        ['10', '10', '10', '0', '30.5', '1e-07', '10.0']

    Raises:
        TypeError: For anything but text or a number (bools included: check parameters with
            :func:`lean_parameters`, which says why).
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise TypeError("a bool is not a backtest parameter value")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < _EXACT_INTEGERS:
            return str(int(value))
        return repr(value)
    raise TypeError(f"{type(value).__name__} is not a backtest parameter value")


def lean_parameters(parameters: object) -> dict[str, str]:
    """Check backtest parameters and give them as LEAN sees them (name -> text).

    Raises:
        ValidationError: A bad name or value (see
            :func:`~quantconnect_client.validation.validate_parameters`).
    """
    checked = validate_parameters(parameters)
    return {name: lean_text(value) for name, value in checked.items()}


def parameter_key(parameters: BacktestParameters) -> tuple[tuple[str, str], ...]:
    """A set's identity as LEAN sees it: sets with equal keys run the same backtest.

    Example:
        >>> parameter_key({"fast": 10, "slow": "30"}) == parameter_key({"slow": 30.0, "fast": "10"})
        True
    """
    # Not checked here: a set the client refuses is refused when it starts, in its own row,
    # not for the whole grid while the sets are being counted.
    return tuple(sorted((name, lean_text(value)) for name, value in parameters.items()))


__all__ = [
    "BacktestParameters",
    "ParameterValue",
    "lean_parameters",
    "lean_text",
    "parameter_key",
]
