"""What the emulator learns from a project's source WITHOUT running it.

The emulator never executes uploaded code. Python files are parsed with
:mod:`ast` (a real syntax check); C# gets a lighter, documented check: string,
character and comment literals are skipped, braces, parentheses and brackets
must balance, numeric literals must fit their type, and some class must derive
from ``QCAlgorithm``. From the parse come the facts a simulation may use:
literal start/end dates and cash in the algorithm's initialize method, the
``get_parameter``/``GetParameter`` names, the charts ``plot``/``Plot`` draws, a
``raise``/``throw`` inside initialize, literals LEAN would refuse during
initialization (a date it cannot represent, a start in the future, cash beyond
a ``decimal``), and the service's "hard-coded LEAN API parameters" hints
(``FileParameters``).

Every pass is linear in the size of the sources (one regular-expression scan,
one bracket pass, line starts found by bisection), so a large or deeply nested
file costs its length, not its length squared. The module imports nothing but
the standard library: :mod:`quantconnect_emulator.checkrun` runs it as a script
in a child process (``python -I -S codecheck.py``, a report as JSON on stdout)
to check large sources off the server's interpreter and within a time bound.

Log formats follow the ``lean`` CLI's local compiler, which mirrors the cloud:
``Build Error File: {file} Line {line} Column {col} - {message}`` for Python and
``error: {file} Line {line} Column {col} - {message}`` for C#.

Example:
    >>> report = check_sources("Py", {"main.py": "def f(:\\n    pass\\n"})
    >>> report.errors
    ['Build Error File: main.py Line 1 Column 7 - invalid syntax']
    >>> check_sources("Py", {"main.py": "x = 1\\n"}).errors
    []
    >>> SourceReport.from_dict(report.to_dict()) == report
    True
"""

from __future__ import annotations

import ast
import bisect
import json
import math
import re
import sys
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from typing import Any

#: LEAN API calls whose literal arguments the service reports as overfitting hints.
HINTED_CALLS = frozenset(
    {
        "set_start_date",
        "set_end_date",
        "set_cash",
        "add_equity",
        "set_holdings",
        "SetStartDate",
        "SetEndDate",
        "SetCash",
        "AddEquity",
        "SetHoldings",
    }
)
_INIT_NAMES = ("initialize", "Initialize")
#: Most hints one compile reports, and most charts (and series per chart) it records: a
#: generated file with 100,000 calls must not make a 10 MB answer.
MAX_HINTS = 1_000
MAX_CHARTS = 100
MAX_SERIES = 50
#: LEAN's ``DateTime`` holds years 1..9999; ``SetStartDate`` refuses days before 1900.
_EARLIEST_START = date(1900, 1, 1)
_INT32_MAX = 2**31 - 1
_UINT64_MAX = 2**64 - 1
#: ``System.Decimal.MaxValue``: cash beyond it overflows LEAN's ``SetCash(decimal)``.
DECIMAL_MAX = 79_228_162_514_264_337_593_543_950_335
#: The chart LEAN plots a two-argument ``Plot(series, value)`` on.
DEFAULT_CHART = "Strategy Equity"
DEFAULT_SERIES = "Value"
# .NET's messages for what LEAN's date and cash setters throw (LEAN wraps the date ones in
# ``ArgumentException("Date Invalid: ...")``); see the contract's notes on initialization.
_UNREPRESENTABLE = "Year, Month, and Day parameters describe an un-representable DateTime."
_ADDED_OUT_OF_RANGE = (
    "The added or subtracted value results in an un-representable DateTime. (Parameter 'value')"
)
_DECIMAL_OVERFLOW = "Value was either too large or too small for a Decimal."


@dataclass
class InitializeFailure:
    """Why initialize fails (a ``raise``/``throw``, or a literal LEAN refuses): where, and what."""

    file: str
    line: int
    exception: str
    message: str
    source_line: str


@dataclass
class SourceReport:
    """What the check found in a project's sources."""

    errors: list[str] = field(default_factory=list)
    file_parameters: list[dict[str, Any]] = field(default_factory=list)
    parameter_names: list[str] = field(default_factory=list)
    start: date | None = None
    end: date | None = None
    cash: float | None = None
    initialize_failure: InitializeFailure | None = None
    #: The algorithm's own charts (``plot``/``Plot``): chart name -> series names.
    charts: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (how the child process hands it back)."""
        data = asdict(self)
        data["start"] = self.start.isoformat() if self.start else None
        data["end"] = self.end.isoformat() if self.end else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SourceReport:
        """The report :meth:`to_dict` wrote."""
        failure = data.get("initialize_failure")
        return cls(
            errors=list(data["errors"]),
            file_parameters=list(data["file_parameters"]),
            parameter_names=list(data["parameter_names"]),
            start=date.fromisoformat(data["start"]) if data["start"] else None,
            end=date.fromisoformat(data["end"]) if data["end"] else None,
            cash=data["cash"],
            initialize_failure=InitializeFailure(**failure) if failure else None,
            charts={name: list(series) for name, series in data["charts"].items()},
        )


class _Collector:
    """Accumulates a report in linear time (sets beside the ordered lists)."""

    def __init__(self, report: SourceReport, today: date) -> None:
        self.report = report
        self.today = today
        self._names: set[str] = set()
        self._entries: dict[str, dict[str, Any]] = {}
        self._hints = 0
        self._series: dict[str, set[str]] = {}
        self._failure_at: tuple[str, int, int] | None = None

    def parameter(self, name: str) -> None:
        if name not in self._names:
            self._names.add(name)
            self.report.parameter_names.append(name)

    def hint(self, file: str, line: int, count: int, snippet: str) -> None:
        if self._hints >= MAX_HINTS:
            return
        self._hints += 1
        entry = self._entries.get(file)
        if entry is None:
            entry = {"file": file, "parameters": []}
            self._entries[file] = entry
            self.report.file_parameters.append(entry)
        plural = "parameter" if count == 1 else "parameters"
        text = f'{count} LEAN API {plural} detected near "{snippet[:120]}".'
        entry["parameters"].append({"line": line, "type": text})

    def chart(self, chart: str, series: str | None) -> None:
        charts = self.report.charts
        if chart not in charts:
            if len(charts) >= MAX_CHARTS:
                return
            charts[chart] = []
            self._series[chart] = set()
        known = self._series[chart]
        if series is not None and series not in known and len(known) < MAX_SERIES:
            known.add(series)
            charts[chart].append(series)

    def failure(self, at: tuple[str, int, int], failure: InitializeFailure) -> None:
        """Keep the failure that comes first in the source (initialize runs top to bottom)."""
        if self._failure_at is None or at < self._failure_at:
            self._failure_at = at
            self.report.initialize_failure = failure


def check_sources(
    language: str, files: dict[str, str], *, today: date | None = None
) -> SourceReport:
    """Check every source file of the project's language (``.py`` or ``.cs``).

    Args:
        language: ``"Py"`` or ``"C#"``.
        files: File name -> content (other languages' files are ignored).
        today: The day "the future" starts after (LEAN refuses a later start date);
            default: today (UTC).
    """
    report = SourceReport()
    collector = _Collector(report, today or datetime.now(timezone.utc).date())
    suffix = ".py" if language == "Py" else ".cs"
    sources = {name: text for name, text in sorted(files.items()) if name.endswith(suffix)}
    if not sources:
        kind = "Python" if language == "Py" else "C#"
        report.errors.append(_log(language, "main" + suffix, 0, 0, f"no {kind} source file"))
        return report
    derives = False
    for name, text in sources.items():
        if language == "Py":
            _check_python(name, text, collector)
        else:
            derives = _check_csharp(name, text, collector) or derives
    if language == "C#" and not report.errors and not derives:
        name = next(iter(sources))
        report.errors.append(
            _log(language, name, 1, 1, "no class deriving from QCAlgorithm was found")
        )
    return report


def _log(language: str, file: str, line: int, column: int, message: str) -> str:
    if language == "Py":
        return f"Build Error File: {file} Line {line} Column {column} - {message}"
    return f"error: {file} Line {line} Column {column} - {message}"


def build_error(language: str, file: str, message: str) -> str:
    """A build-log line of the language's format about the whole file (line 0, column 0).

    Example:
        >>> build_error("C#", "Main.cs", "too slow")
        'error: Main.cs Line 0 Column 0 - too slow'
    """
    return _log(language, file, 0, 0, message)


# ------------------------------------------------------- what LEAN refuses in initialize


def _date_failure(call: str, numbers: list[int], today: date) -> tuple[str, str] | None:
    """``(exception, message)`` LEAN throws for ``SetStartDate``/``SetEndDate(y, m, d)``."""
    try:
        day = date(*numbers[:3])
    except (ValueError, OverflowError):
        return "ArgumentException", f"Date Invalid: {_UNREPRESENTABLE}"
    if call == "SetEndDate":
        # LEAN moves the end to the last moment of its day: a day past 9999-12-31 does not exist.
        if day == date.max:
            return "ArgumentException", f"Date Invalid: {_ADDED_OUT_OF_RANGE}"
        return None
    if day < _EARLIEST_START:
        message = "Please select a start date after January 1st, 1900. (Parameter 'start')"
        return "ArgumentException", f"Date Invalid: {message}"
    if day > today:
        message = "Please select start date less than today (Parameter 'start')"
        return "ArgumentException", f"Date Invalid: {message}"
    return None


def _cash_failure(value: float | int) -> tuple[str, str] | None:
    if isinstance(value, float) and not math.isfinite(value):
        return "OverflowException", _DECIMAL_OVERFLOW
    if abs(value) > DECIMAL_MAX:
        return "OverflowException", _DECIMAL_OVERFLOW
    return None


def _apply_date(report: SourceReport, call: str, numbers: list[int]) -> None:
    try:
        day = date(*numbers[:3])
    except (ValueError, OverflowError):
        return
    if call == "SetStartDate":
        report.start = day
    else:
        report.end = day


# --------------------------------------------------------------------- Python


def _check_python(name: str, text: str, out: _Collector) -> None:
    report = out.report
    try:
        tree = ast.parse(text, filename=name)
    except SyntaxError as exc:
        message = (exc.msg or "invalid syntax").split(" (", 1)[0]
        report.errors.append(_log("Py", name, exc.lineno or 0, exc.offset or 0, message))
        return
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        report.errors.append(_log("Py", name, 1, 1, str(exc)[:200] or type(exc).__name__))
        return
    lines = text.splitlines()
    initializers: list[ast.FunctionDef] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            call = _call_name(node)
            if call in ("get_parameter", "GetParameter") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    out.parameter(first.value)
            elif call in HINTED_CALLS:
                _hint(out, name, node, lines)
            elif call in ("plot", "Plot"):
                _python_plot(out, node)
        elif isinstance(node, ast.ClassDef) and any(
            _base_name(b) == "QCAlgorithm" for b in node.bases
        ):
            initializers += [
                m for m in node.body if isinstance(m, ast.FunctionDef) and m.name in _INIT_NAMES
            ]
    for method in initializers:
        _read_initialize(name, method, lines, out)


def _call_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def _base_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _literal(node: ast.expr) -> Any:
    """A constant argument's value (``-5`` included); ``None`` for anything else."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _literal(node.operand)
        return -inner if isinstance(inner, (int, float)) else None
    if isinstance(node, ast.Constant) and not isinstance(node.value, bool):
        return node.value
    return None


def _source_line(lines: list[str], number: int) -> str:
    return lines[number - 1].strip() if 0 < number <= len(lines) else ""


def _hint(out: _Collector, name: str, node: ast.Call, lines: list[str]) -> None:
    literals = [a for a in node.args if isinstance(a, ast.Constant)]
    if literals:
        out.hint(name, node.lineno, len(literals), _source_line(lines, node.lineno))


def _python_plot(out: _Collector, node: ast.Call) -> None:
    args = node.args
    if len(args) < 2:
        return
    chart = _literal(args[0])
    if not isinstance(chart, str):
        return
    second = _literal(args[1])
    if len(args) == 2 and isinstance(second, (int, float)):
        out.chart(DEFAULT_CHART, chart)  # plot(series, value): a series of Strategy Equity
        return
    out.chart(chart, second if isinstance(second, str) else DEFAULT_SERIES)


_PY_CALLS = {"set_start_date": "SetStartDate", "set_end_date": "SetEndDate", "set_cash": "SetCash"}


def _read_initialize(name: str, method: ast.FunctionDef, lines: list[str], out: _Collector) -> None:
    report = out.report
    nodes = sorted(
        (n for n in ast.walk(method) if isinstance(n, (ast.Call, ast.Raise))),
        key=lambda n: (n.lineno, n.col_offset),
    )
    for node in nodes:  # in source order: a later setter overrides an earlier one
        at = (name, node.lineno, node.col_offset)
        source = _source_line(lines, node.lineno)
        if isinstance(node, ast.Raise):
            exception, message = _raised(node)
            out.failure(at, InitializeFailure(name, node.lineno, exception, message, source))
            continue
        call = _call_name(node)
        lean_call = _PY_CALLS.get(call or "") or (
            call if call in ("SetStartDate", "SetEndDate", "SetCash") else None
        )
        if lean_call is None:
            continue
        values = [_literal(a) for a in node.args]
        numbers = [v for v in values if isinstance(v, (int, float))]
        if lean_call == "SetCash":
            if not numbers:
                continue
            refused = _cash_failure(numbers[-1])
            if refused is not None:
                out.failure(at, InitializeFailure(name, node.lineno, *refused, source))
            elif numbers[-1] > 0:
                report.cash = float(numbers[-1])
            continue
        if len(values) < 3 or not all(isinstance(v, int) for v in values[:3]):
            continue
        ints = [int(v) for v in values[:3]]
        if any(abs(v) > _INT32_MAX for v in ints):
            # Python's ints have no bound; LEAN's setters take 32-bit ones, so no overload fits.
            message = (
                f"No method matches given arguments for {lean_call}: "
                "(<class 'int'>, <class 'int'>, <class 'int'>)"
            )
            out.failure(at, InitializeFailure(name, node.lineno, "TypeError", message, source))
            continue
        refused = _date_failure(lean_call, ints, out.today)
        if refused is not None:
            out.failure(at, InitializeFailure(name, node.lineno, *refused, source))
        else:
            _apply_date(report, lean_call, ints)


def _raised(node: ast.Raise) -> tuple[str, str]:
    exception, message = "Exception", "raised during initialize"
    exc = node.exc
    if isinstance(exc, ast.Call):
        exception = _call_name(exc) or exception
        if exc.args and isinstance(exc.args[0], ast.Constant):
            message = str(exc.args[0].value)
    elif isinstance(exc, ast.Name):
        exception = exc.id
    return exception, message


# ------------------------------------------------------------------------- C#

_DERIVES_QCALGORITHM = re.compile(r"\bclass\s+\w+\s*:\s*(?:[\w.]+\.)?QCAlgorithm\b")
# Comments, verbatim strings, strings and char literals, in one scan: what is inside them is
# blanked (newlines kept) so that nothing in them counts as code. A string ends at its quote, at
# the end of its line (a "newline in constant") or at the end of the text.
_CS_SKIPPED = re.compile(
    r"//[^\n]*"
    r"|/\*[\s\S]*?(?:\*/|\Z)"
    r'|(?<=@)"[^"]*"?'
    r'|"(?:\\[\s\S]|[^"\\\n])*["\n]?'
    r"|'(?:\\[\s\S]|[^'\\\n])*['\n]?"
)
_NOT_NEWLINE = re.compile(r"[^\n]")
# In the blanked text: brackets, string delimiters and numeric literals, in one scan.
_CS_TOKENS = re.compile(
    r"[()\[\]{}\"]"
    r"|(?<![\w.])(?:\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?|\.\d[\d_]*(?:[eE][+-]?\d+)?)"
    r"(?:[fFdDmM]|[uU][lL]?|[lL][uU]?)?(?![\w.])"
)
_CS_CALL = re.compile(r"\b(SetStartDate|SetEndDate|SetCash|GetParameter|Plot)\s*\(")
_CS_HINT = re.compile(r"\b(" + "|".join(c for c in HINTED_CALLS if c[0].isupper()) + r")\s*\(")
_CS_INITIALIZE = re.compile(r"\bvoid\s+Initialize\s*\(\s*\)\s*\{")
_CS_THROW = re.compile(r"\bthrow\s+new\s+([\w.]+)\s*\(")
_CS_STRING_ARG = re.compile(r'\s*"([^"\\\n]*)"\s*(,|\))')
_CS_NUMBER_ARG = re.compile(r"\s*-?\d+(?:\.\d+)?[mMdDfF]?\s*\)")
_PAIRS = {")": "(", "]": "[", "}": "{"}
_CLOSING = {v: k for k, v in _PAIRS.items()}


def _blank(match: re.Match[str]) -> str:
    text = match.group()
    if text.startswith("/"):
        return _NOT_NEWLINE.sub(" ", text)
    last = text[-1] if len(text) > 1 and text[-1] in "\"'\n" else ""
    return text[0] + _NOT_NEWLINE.sub(" ", text[1 : len(text) - len(last)]) + last


def _strip_cs(text: str) -> str:
    """The text with comments, strings and char literals blanked (lines kept).

    Example:
        >>> _strip_cs('a("x}") // }\\nb')
        'a("  ")     \\nb'
    """
    return _CS_SKIPPED.sub(_blank, text)


class _Lines:
    """Line and column of an offset, by bisection over the line starts (linear to build)."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.lines = text.split("\n")

    def position(self, index: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, index)
        return line, index - self.starts[line - 1] + 1

    def text(self, line: int) -> str:
        return self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""


@dataclass
class _Parens:
    """What the bracket pass learnt: matching closers, literals directly inside each pair."""

    close: dict[int, int] = field(default_factory=dict)
    literals: dict[int, int] = field(default_factory=dict)
    quotes: dict[int, int] = field(default_factory=dict)


def _check_csharp(name: str, text: str, out: _Collector) -> bool:
    """Check one C# file; whether it declares a class deriving from ``QCAlgorithm``."""
    report = out.report
    stripped = _strip_cs(text)
    lines = _Lines(text)
    if _unterminated(text, stripped, name, report):
        return False
    parens = _Parens()
    stack: list[tuple[str, int]] = []
    for match in _CS_TOKENS.finditer(stripped):
        token, index = match.group(), match.start()
        if token in "([{":
            stack.append((token, index))
        elif token in _PAIRS:
            if not stack or stack[-1][0] != _PAIRS[token]:
                line, column = lines.position(index)
                report.errors.append(_log("C#", name, line, column, f"unexpected '{token}'"))
                return False
            parens.close[stack.pop()[1]] = index
        elif token == '"':
            if stack:
                parens.quotes[stack[-1][1]] = parens.quotes.get(stack[-1][1], 0) + 1
        else:
            error = _number_error(token)
            if error is not None:
                line, column = lines.position(index)
                report.errors.append(_log("C#", name, line, column, error))
                return False
            if stack:
                parens.literals[stack[-1][1]] = parens.literals.get(stack[-1][1], 0) + 1
    if stack:
        char, index = stack[-1]
        line, column = lines.position(index)
        report.errors.append(_log("C#", name, line, column, f"'{_CLOSING[char]}' expected"))
        return False
    for match in _CS_HINT.finditer(stripped):
        opening = match.end() - 1
        count = parens.literals.get(opening, 0) + parens.quotes.get(opening, 0) // 2
        if count:
            line, _ = lines.position(match.start())
            out.hint(name, line, count, lines.text(line))
    for match in _CS_CALL.finditer(stripped):
        line = lines.position(match.start())[0]
        if _csharp_call(name, match, text, stripped, parens, line, lines, out):
            return False
    _csharp_initialize(name, stripped, parens, lines, out)
    return _DERIVES_QCALGORITHM.search(stripped) is not None


def _number_error(token: str) -> str | None:
    """The C# compiler's complaint about a numeric literal that does not fit, or None."""
    body = token.rstrip("fFdDmMuUlL").replace("_", "")
    suffix = token[len(token.rstrip("fFdDmMuUlL")) :].lower()
    real = any(c in body for c in ".eE") or suffix in ("f", "d", "m")
    if not real:
        digits = body.lstrip("0")
        # Compare lengths first: int() of thousands of digits is slow, and refused past 4,300.
        too_large = len(digits) > len(str(_UINT64_MAX)) or int(digits or "0") > _UINT64_MAX
        return "Integral constant is too large" if too_large else None
    value = float(body)
    if suffix == "m":
        return (
            "Floating-point constant is outside the range of type 'decimal'"
            if abs(value) > DECIMAL_MAX
            else None
        )
    kind = "float" if suffix == "f" else "double"
    limit = 3.4028235e38 if kind == "float" else sys.float_info.max
    return (
        f"Floating-point constant is outside the range of type '{kind}'"
        if not math.isfinite(value) or abs(value) > limit
        else None
    )


def _csharp_call(
    name: str,
    match: re.Match[str],
    text: str,
    stripped: str,
    parens: _Parens,
    line: int,
    lines: _Lines,
    out: _Collector,
) -> bool:
    """Read one setter/getter/plot call; True if it is a build error (already logged).

    Nothing is sliced past the first nested parenthesis: in ``SetCash(SetCash(SetCash(...``
    each call looks at its own few characters, so nesting costs its length, not its square.
    """
    report = out.report
    call, start = match.group(1), match.end()
    close = parens.close[start - 1]
    if call == "GetParameter":
        quoted = _CS_STRING_ARG.match(text, start, close + 1)
        if quoted:
            out.parameter(quoted.group(1))
        return False
    if call == "Plot":
        _csharp_plot(text, start, close, out)
        return False
    if stripped.find("(", start, close) >= 0:  # an expression: nothing known before running it
        return False
    numbers = re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", text[start:close])
    if call == "SetCash":
        if numbers and float(numbers[-1]) > 0:
            report.cash = float(numbers[-1])
        return False
    if len(numbers) < 3 or any("." in n for n in numbers[:3]):
        return False
    if any(len(n) > 20 for n in numbers[:3]):  # refused as a literal already; be safe
        return False
    ints = [int(n) for n in numbers[:3]]
    for position, value in enumerate(ints, 1):
        if value > _INT32_MAX:
            kind = "long" if value <= 2**63 - 1 else "ulong"
            message = f"Argument {position}: cannot convert from '{kind}' to 'int'"
            report.errors.append(_log("C#", name, line, 1, message))
            return True
    refused = _date_failure(call, ints, out.today)
    if refused is not None:
        at = (name, line, 0)
        out.failure(at, InitializeFailure(name, line, *refused, lines.text(line)))
    else:
        _apply_date(report, call, ints)
    return False


def _csharp_plot(text: str, start: int, close: int, out: _Collector) -> None:
    first = _CS_STRING_ARG.match(text, start, close + 1)
    if first is None or first.group(2) != ",":
        return
    second = _CS_STRING_ARG.match(text, first.end(), close + 1)
    if second is not None:
        out.chart(first.group(1), second.group(1))
    elif _CS_NUMBER_ARG.match(text, first.end(), close + 1):
        out.chart(DEFAULT_CHART, first.group(1))  # Plot(series, value)
    else:
        out.chart(first.group(1), DEFAULT_SERIES)


def _unterminated(text: str, stripped: str, name: str, report: SourceReport) -> bool:
    for number, (raw, blank) in enumerate(
        zip(text.split("\n"), stripped.split("\n"), strict=False), 1
    ):
        if blank.count('"') % 2 and "@" not in raw:
            column = blank.rfind('"') + 1
            report.errors.append(_log("C#", name, number, column, "newline in constant"))
            return True
    return False


def _csharp_initialize(
    name: str, stripped: str, parens: _Parens, lines: _Lines, out: _Collector
) -> None:
    match = _CS_INITIALIZE.search(stripped)
    if match is None:
        return
    body_end = parens.close.get(match.end() - 1, len(stripped))
    throw = _CS_THROW.search(stripped, match.end(), body_end)
    if throw is None:
        return
    line, _ = lines.position(throw.start())
    source = lines.text(line)
    literal = re.search(r'throw\s+new\s+[\w.]+\s*\(\s*"([^"]*)"', source)
    message = literal.group(1) if literal else "thrown in Initialize"
    out.failure((name, line, 0), InitializeFailure(name, line, throw.group(1), message, source))


# ------------------------------------------------------------- as a child process


def _limit_memory(megabytes: int) -> None:
    try:
        import resource
    except ImportError:  # not on this platform: the time bound still holds
        return
    limit = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main() -> None:
    """Read ``{"language", "files", "today", "memory_mb"}`` as JSON on stdin; write the report.

    Run by :mod:`quantconnect_emulator.checkrun` as ``python -I -S codecheck.py``.
    """
    request = json.loads(sys.stdin.buffer.read())
    _limit_memory(int(request.get("memory_mb") or 2048))
    today = date.fromisoformat(request["today"]) if request.get("today") else None
    report = check_sources(request["language"], request["files"], today=today)
    sys.stdout.write(json.dumps(report.to_dict()))


if __name__ == "__main__":
    main()
