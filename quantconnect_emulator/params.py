"""Request parameters: decode a JSON, form-encoded or query-string request.

The real service takes a JSON body, a form-encoded body, or (for reads) query
parameters; the emulator accepts all three on every endpoint. Query parameters
and body fields are merged (the body wins). Unknown keys are ignored, as the
real service does: ``{"id": 5}`` on ``/projects/read`` means "no filter".

Form fields and query parameters named ``name[key]`` (QuantConnect's older docs
send backtest parameters as ``parameters[fast]=10``) are bound into a map
``name``: ``{"fast": "10"}``, and ``name[i][key]`` (optimization parameters and
constraints, as the ``lean`` CLI posts them) into a map of maps. What cannot be
bound (``name[]``, three levels, or one name given two ways) is refused, never
dropped; an action that wants no map (a backtest parameter's value) refuses one.
JSON keys are taken as they are (an unknown one, brackets or not, is ignored).

A JSON string may spell a lone UTF-16 surrogate (``"\\ud800"``): valid JSON, but
not text, so nothing could encode it again (every later answer holding it would
fail). A body holding one anywhere is refused before any action sees it.

Example:
    >>> params = parse_request_params(
    ...     content_type="application/x-www-form-urlencoded",
    ...     query_string=b"",
    ...     body=b"projectId=123&name=main.py",
    ... )
    >>> params.get_int("projectId"), params.get_str("name")
    (123, 'main.py')
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import parse_qs

from quantconnect_emulator.multipart import MultipartError, parse_form_data
from quantconnect_emulator.registry import ApiError

#: Longest integer text accepted (ids are far shorter; Python refuses > 4300 digits anyway).
MAX_INT_DIGITS = 30
_INT_RE = re.compile(rf"^\s*-?\d{{1,{MAX_INT_DIGITS}}}\s*$")


class ParamError(ApiError):
    """A bad request parameter or body; answered as a business error."""


def _bounded_int(text: str) -> int:
    # A number with thousands of digits is no id; refuse it before int() spends time on it.
    digits = text.strip().lstrip("-")
    if len(digits) > MAX_INT_DIGITS:
        raise ValueError(f"number with {len(digits)} digits")
    return int(text)


class Params:
    """Typed access to the merged request parameters.

    ``None`` values (JSON ``null``) count as absent.
    """

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def has(self, key: str) -> bool:
        """True if ``key`` was sent with a non-null value."""
        return self.values.get(key) is not None

    def get_int(self, key: str, *, required: bool = False) -> int | None:
        """An integer parameter (numeric strings accepted)."""
        value = self.values.get(key)
        if value is None:
            if required:
                raise ParamError(f"Missing required parameter '{key}'")
            return None
        if isinstance(value, bool):
            raise ParamError(f"Invalid value for parameter '{key}': expected an integer")
        if isinstance(value, int):
            if len(str(abs(value))) > MAX_INT_DIGITS:
                raise ParamError(f"Invalid value for parameter '{key}': expected an integer")
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            if abs(value) >= 10**MAX_INT_DIGITS:
                raise ParamError(f"Invalid value for parameter '{key}': expected an integer")
            return int(value)
        if isinstance(value, str) and _INT_RE.match(value):
            return int(value)
        raise ParamError(f"Invalid value for parameter '{key}': expected an integer")

    def require_int(self, key: str) -> int:
        """A required integer parameter."""
        value = self.get_int(key, required=True)
        assert value is not None
        return value

    def get_str(self, key: str, *, required: bool = False) -> str | None:
        """A string parameter (numbers are accepted and converted)."""
        value = self.values.get(key)
        if value is None:
            if required:
                raise ParamError(f"Missing required parameter '{key}'")
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ParamError(f"Invalid value for parameter '{key}': expected a string")

    def require_str(self, key: str) -> str:
        """A required string parameter."""
        value = self.get_str(key, required=True)
        assert value is not None
        return value

    def get_bool(self, key: str, default: bool = False) -> bool:
        """A boolean parameter (``true``/``false``, ``1``/``0`` as text too)."""
        value = self.values.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
            return value.strip().lower() in ("true", "1")
        raise ParamError(f"Invalid value for parameter '{key}': expected true or false")

    def get_raw(self, key: str) -> Any:
        """The value as decoded (objects and lists included), ``None`` if absent."""
        return self.values.get(key)


def _form(text: str) -> dict[str, Any]:
    return {key: values[-1] for key, values in parse_qs(text, keep_blank_values=True).items()}


def _decode_body(content_type: str, body: bytes) -> dict[str, Any]:
    """The body's values; form fields are bound (``name[key]``), JSON keys are kept as sent."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "multipart/form-data":
        # Only /object/set is sent this way: its file part stays bytes (``Params.get_raw``), cut
        # out before any copy of the whole body is made.
        try:
            return dict(parse_form_data(content_type, body))
        except MultipartError as exc:
            raise ParamError(exc.message) from exc
    stripped = body.strip()
    if not stripped:
        return {}
    looks_json = stripped[:1] in (b"{", b"[")
    if media_type == "application/x-www-form-urlencoded":
        try:
            return _bind_brackets(_form(body.decode("utf-8")))
        except UnicodeDecodeError as exc:
            raise ParamError("Request body is not valid UTF-8") from exc
    if media_type.endswith("json") or media_type.endswith("+json") or looks_json:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParamError("Request body is not valid UTF-8") from exc
        decoded = decode_json(text, "Request body")
        if not isinstance(decoded, dict):
            raise ParamError("Request body must be a JSON object")
        return decoded
    if media_type.startswith("multipart/"):
        raise ParamError("multipart bodies other than form-data are not supported; send JSON")
    if b"=" in stripped:
        try:
            return _bind_brackets(_form(body.decode("utf-8")))
        except UnicodeDecodeError as exc:
            raise ParamError("Request body is not valid UTF-8") from exc
    raise ParamError("Request body could not be parsed: send JSON or form-encoded parameters")


def decode_json(text: str, what: str, *, where: str = "") -> Any:
    r"""Decode JSON text the way every request value is decoded, or refuse it.

    The one decoder of the body and of every JSON string an action re-parses (``parameters``
    or ``nodes`` sent as text): integers of at most :data:`MAX_INT_DIGITS` digits, finite
    numbers only (no ``NaN``/``Infinity``, no ``1e400`` that would become infinity), and no
    lone surrogate in any string (see the module docstring).

    Args:
        text: The JSON text.
        what: What it is, for the messages (``"Request body"``, ``"Parameter 'nodes'"``).
        where: The dotted name of the value inside the request, for the surrogate message.

    Example:
        >>> decode_json('{"fast": 10}', "Parameter 'parameters'")
        {'fast': 10}
        >>> for text in ('{"fast": NaN}', '{"fast": 1e400}', '["\\ud800"]'):
        ...     try:
        ...         decode_json(text, "Parameter 'x'", where="x")
        ...     except ParamError as error:
        ...         print(error)
        Parameter 'x' is not valid JSON: NaN is not a JSON number
        Parameter 'x' is not valid JSON: 1e400 is not a finite number
        Parameter 'x[0]' is not valid text: it holds a lone surrogate (U+D800)
    """
    try:
        decoded = json.loads(
            text, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_no_constant
        )
    except RecursionError as exc:  # absurd nesting: the decoder gives up, so do we
        raise ParamError(f"{what} is nested too deeply") from exc
    except _NotFinite as exc:
        raise ParamError(f"{what} is not valid JSON: {exc}") from exc
    except ValueError as exc:
        raise ParamError(f"{what} is not valid JSON: {str(exc)[:200]}") from exc
    _refuse_surrogates(decoded, where)
    return decoded


class _NotFinite(ValueError):
    """A JSON number or constant that is no finite number (its own message, not json's)."""


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(f"{text[:50]} is not a finite number")
    return value


def _is_text(value: str) -> bool:
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _refuse_surrogates(decoded: Any, where: str = "") -> None:
    r"""Refuse a decoded body holding a lone surrogate in any string, naming where.

    Example:
        >>> _refuse_surrogates({"name": "main.py", "content": "x = '\\ud800'"})  # escaped: text
        >>> try:
        ...     _refuse_surrogates({"parameters": {"fast": "\ud800"}})
        ... except ParamError as error:
        ...     print(error)
        Parameter 'parameters.fast' is not valid text: it holds a lone surrogate (U+D800)
    """
    stack: list[tuple[str, Any]] = [(where, decoded)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if not _is_text(key):
                    inside = f"'{_printable(where)}'" if where else "the request"
                    raise ParamError(f"Parameter names in {inside} must be valid text")
                stack.append((f"{where}.{key}" if where else key, item))
        elif isinstance(value, list):
            stack += [(f"{where}[{index}]", item) for index, item in enumerate(value)]
        elif isinstance(value, str) and not _is_text(value):
            surrogate = next(c for c in value if 0xD800 <= ord(c) <= 0xDFFF)
            raise ParamError(
                f"Parameter '{_printable(where)}' is not valid text: "
                f"it holds a lone surrogate (U+{ord(surrogate):04X})"
            )


def _printable(where: str) -> str:
    return where.encode("utf-8", "backslashreplace").decode("utf-8")[:200]


def _no_constant(name: str) -> float:
    raise _NotFinite(f"{name} is not a JSON number")


def parse_request_params(*, content_type: str, query_string: bytes, body: bytes) -> Params:
    """Merge query parameters and the decoded body into :class:`Params`.

    Raises:
        ParamError: The body is not a JSON object / form data.
    """
    values = _bind_brackets(_form(query_string.decode("latin-1"))) if query_string else {}
    # Bound apart: a JSON body's `parameters` replaces the query's `parameters[...]` whole.
    values.update(_decode_body(content_type, body))
    return Params(values)


_BRACKETED = re.compile(r"^([^\[\]]+)\[([^\[\]]+)\](?:\[([^\[\]]+)\])?$")


def _bind_brackets(values: dict[str, Any]) -> dict[str, Any]:
    """Bind ``name[key]=value`` fields into ``name: {key: value}`` (and ``name[i][key]``
    into ``name: {i: {key: value}}``).

    Example:
        >>> _bind_brackets({"projectId": "1", "parameters[fast]": "10", "parameters[slow]": "30"})
        {'projectId': '1', 'parameters': {'fast': '10', 'slow': '30'}}
        >>> _bind_brackets({"parameters[0][key]": "fast", "parameters[0][min]": "5"})
        {'parameters': {'0': {'key': 'fast', 'min': '5'}}}
    """
    bracketed = [key for key in values if "[" in key or "]" in key]
    if not bracketed:
        return values
    bound = {key: value for key, value in values.items() if key not in bracketed}
    for key in bracketed:
        match = _BRACKETED.match(key)
        if match is None:
            raise ParamError(
                f"Parameter '{key[:100]}' cannot be read: send 'name[key]=value' fields, "
                "or the whole value as JSON"
            )
        name, inner, deeper = match.groups()
        target = bound.setdefault(name, {})
        if not isinstance(target, dict):
            raise ParamError(
                f"Parameter '{name[:100]}' is given both whole and as '{name[:100]}[...]'"
            )
        if deeper is None:
            if isinstance(target.get(inner), dict):
                raise ParamError(f"Parameter '{name[:100]}[{inner[:100]}]' is given two ways")
            target[inner] = values[key]
            continue
        nested = target.setdefault(inner, {})
        if not isinstance(nested, dict):
            raise ParamError(f"Parameter '{name[:100]}[{inner[:100]}]' is given two ways")
        nested[deeper] = values[key]
    return bound


def peek_params(*, content_type: str, query_string: bytes, body: bytes) -> dict[str, Any]:
    """Best-effort ``projectId`` and ``name`` of a request, for the request log."""
    try:
        params = parse_request_params(
            content_type=content_type, query_string=query_string, body=body
        )
    except ParamError:
        return {"project_id": None, "name": None}
    project_id = params.values.get("projectId")
    name = params.values.get("name")
    if isinstance(project_id, str) and _INT_RE.match(project_id):
        project_id = int(project_id)
    if isinstance(project_id, str):
        project_id = project_id[:64]
    if isinstance(name, str):
        name = name[:256]
    return {
        "project_id": project_id if isinstance(project_id, (int, str)) else None,
        "name": name if isinstance(name, str) else None,
    }
