"""What the emulator learns from a project's source WITHOUT running it.

The emulator never executes uploaded code. Python files are parsed with
:mod:`ast` (a real syntax check); C# gets a lighter, documented check: string,
character and comment literals are skipped, braces, parentheses and brackets
must balance, and some class must derive from ``QCAlgorithm``. From the parse
come the facts a simulation may use: literal start/end dates and cash in the
algorithm's initialize method, the ``get_parameter``/``GetParameter`` names, a
``raise``/``throw`` inside initialize, and the service's "hard-coded LEAN API
parameters" hints (``FileParameters``).

Log formats follow the ``lean`` CLI's local compiler, which mirrors the cloud:
``Build Error File: {file} Line {line} Column {col} - {message}`` for Python and
``error: {file} Line {line} Column {col} - {message}`` for C#.

Example:
    >>> report = check_sources("Py", {"main.py": "def f(:\\n    pass\\n"})
    >>> report.errors
    ['Build Error File: main.py Line 1 Column 7 - invalid syntax']
    >>> check_sources("Py", {"main.py": "x = 1\\n"}).errors
    []
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from datetime import date

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


@dataclass
class InitializeFailure:
    """A ``raise``/``throw`` found in initialize: where, and what it raises."""

    file: str
    line: int
    exception: str
    message: str
    source_line: str


@dataclass
class SourceReport:
    """What the check found in a project's sources."""

    errors: list[str] = field(default_factory=list)
    file_parameters: list[dict[str, object]] = field(default_factory=list)
    parameter_names: list[str] = field(default_factory=list)
    start: date | None = None
    end: date | None = None
    cash: float | None = None
    initialize_failure: InitializeFailure | None = None


def check_sources(language: str, files: dict[str, str]) -> SourceReport:
    """Check every source file of the project's language (``.py`` or ``.cs``)."""
    report = SourceReport()
    suffix = ".py" if language == "Py" else ".cs"
    sources = {name: text for name, text in sorted(files.items()) if name.endswith(suffix)}
    if not sources:
        kind = "Python" if language == "Py" else "C#"
        report.errors.append(_log(language, "main" + suffix, 0, 0, f"no {kind} source file"))
        return report
    for name, text in sources.items():
        if language == "Py":
            _check_python(name, text, report)
        else:
            _check_csharp(name, text, report)
    if (
        language == "C#"
        and not report.errors
        and not any(_DERIVES_QCALGORITHM.search(_strip_cs(t)) for t in sources.values())
    ):
        name = next(iter(sources))
        report.errors.append(
            _log(language, name, 1, 1, "no class deriving from QCAlgorithm was found")
        )
    return report


def _log(language: str, file: str, line: int, column: int, message: str) -> str:
    if language == "Py":
        return f"Build Error File: {file} Line {line} Column {column} - {message}"
    return f"error: {file} Line {line} Column {column} - {message}"


# --------------------------------------------------------------------- Python


def _check_python(name: str, text: str, report: SourceReport) -> None:
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
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            call = _call_name(node)
            if call in ("get_parameter", "GetParameter") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    _add_unique(report.parameter_names, first.value)
            elif call in HINTED_CALLS:
                _hint(report, name, node, lines)
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        if not any(_base_name(b) == "QCAlgorithm" for b in cls.bases):
            continue
        for method in cls.body:
            if isinstance(method, ast.FunctionDef) and method.name in _INIT_NAMES:
                _read_initialize(name, method, lines, report)


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


def _literal_numbers(node: ast.Call) -> list[float]:
    return [
        float(arg.value)
        for arg in node.args
        if isinstance(arg, ast.Constant)
        and isinstance(arg.value, (int, float))
        and not isinstance(arg.value, bool)
    ]


def _hint(report: SourceReport, name: str, node: ast.Call, lines: list[str]) -> None:
    literals = [a for a in node.args if isinstance(a, ast.Constant)]
    if not literals:
        return
    snippet = lines[node.lineno - 1].strip() if 0 < node.lineno <= len(lines) else ""
    _add_file_parameter(report, name, node.lineno, len(literals), snippet)


def _add_file_parameter(
    report: SourceReport, file: str, line: int, count: int, snippet: str
) -> None:
    entry = next((e for e in report.file_parameters if e["file"] == file), None)
    if entry is None:
        entry = {"file": file, "parameters": []}
        report.file_parameters.append(entry)
    plural = "parameter" if count == 1 else "parameters"
    hint = {"line": line, "type": f'{count} LEAN API {plural} detected near "{snippet[:120]}".'}
    entry["parameters"].append(hint)  # type: ignore[attr-defined]


def _read_initialize(
    name: str, method: ast.FunctionDef, lines: list[str], report: SourceReport
) -> None:
    for node in ast.walk(method):
        if isinstance(node, ast.Call):
            call = _call_name(node)
            numbers = _literal_numbers(node)
            if call in ("set_start_date", "SetStartDate") and len(numbers) >= 3:
                report.start = _date(numbers) or report.start
            elif call in ("set_end_date", "SetEndDate") and len(numbers) >= 3:
                report.end = _date(numbers) or report.end
            elif call in ("set_cash", "SetCash") and numbers:
                report.cash = numbers[-1] if numbers[-1] > 0 else report.cash
        elif isinstance(node, ast.Raise) and report.initialize_failure is None:
            exception, message = "Exception", "raised during initialize"
            exc = node.exc
            if isinstance(exc, ast.Call):
                exception = _call_name(exc) or exception
                if exc.args and isinstance(exc.args[0], ast.Constant):
                    message = str(exc.args[0].value)
            elif isinstance(exc, ast.Name):
                exception = exc.id
            source = lines[node.lineno - 1].strip() if 0 < node.lineno <= len(lines) else ""
            report.initialize_failure = InitializeFailure(
                name, node.lineno, exception, message, source
            )


def _date(numbers: list[float]) -> date | None:
    try:
        return date(int(numbers[0]), int(numbers[1]), int(numbers[2]))
    except ValueError:
        return None


def _add_unique(items: list[str], value: str) -> None:
    if value not in items:
        items.append(value)


# ------------------------------------------------------------------------- C#

_DERIVES_QCALGORITHM = re.compile(r"\bclass\s+\w+\s*:\s*(?:[\w.]+\.)?QCAlgorithm\b")
_CS_CALL = re.compile(r"\b(SetStartDate|SetEndDate|SetCash|GetParameter)\s*\(([^()]*)\)")
_CS_HINT = re.compile(r"\b(" + "|".join(c for c in HINTED_CALLS if c[0].isupper()) + r")\s*\(")
_PAIRS = {")": "(", "]": "[", "}": "{"}


def _strip_cs(text: str) -> str:
    """The text with comments, strings and char literals blanked (lines kept)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        two = text[i : i + 2]
        char = text[i]
        if two == "//":
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(" " * (end - i))
            i = end
        elif two == "/*":
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
        elif char in "\"'":
            j = i + 1
            verbatim = i > 0 and text[i - 1] == "@"
            while j < n and text[j] != char and (verbatim or text[j] != "\n"):
                j += 2 if (text[j] == "\\" and not verbatim) else 1
            j = min(j + 1, n)
            out.append(char + re.sub(r"[^\n]", " ", text[i + 1 : j - 1]) + text[j - 1 : j])
            i = j
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def _check_csharp(name: str, text: str, report: SourceReport) -> None:
    stripped = _strip_cs(text)
    if _unterminated(text, stripped, name, report):
        return
    stack: list[tuple[str, int]] = []
    for index, char in enumerate(stripped):
        if char in "([{":
            stack.append((char, index))
        elif char in _PAIRS:
            if not stack or stack[-1][0] != _PAIRS[char]:
                line, column = _position(text, index)
                report.errors.append(_log("C#", name, line, column, f"unexpected '{char}'"))
                return
            stack.pop()
    if stack:
        char, index = stack[-1]
        line, column = _position(text, index)
        closing = {v: k for k, v in _PAIRS.items()}[char]
        report.errors.append(_log("C#", name, line, column, f"'{closing}' expected"))
        return
    lines = text.splitlines()
    for match in _CS_HINT.finditer(stripped):
        line, _ = _position(text, match.start())
        args = stripped[match.end() : stripped.find(")", match.end())]
        count = len(re.findall(r"\b\d+(?:\.\d+)?m?\b", args)) + args.count('"') // 2
        if count:
            _add_file_parameter(report, name, line, count, lines[line - 1].strip())
    for match in _CS_CALL.finditer(text):
        call, args = match.group(1), match.group(2)
        numbers = [float(x) for x in re.findall(r"\b\d+(?:\.\d+)?", args)]
        if call == "GetParameter":
            quoted = re.match(r'\s*"([^"]*)"', args)
            if quoted:
                _add_unique(report.parameter_names, quoted.group(1))
        elif call in ("SetStartDate", "SetEndDate") and len(numbers) >= 3:
            value = _date(numbers)
            if call == "SetStartDate":
                report.start = value or report.start
            else:
                report.end = value or report.end
        elif call == "SetCash" and numbers:
            report.cash = numbers[-1] or report.cash
    _csharp_initialize_throw(name, text, stripped, report)


def _unterminated(text: str, stripped: str, name: str, report: SourceReport) -> bool:
    for number, (raw, blank) in enumerate(
        zip(text.splitlines(), stripped.splitlines(), strict=False), 1
    ):
        quotes = [i for i, c in enumerate(blank) if c == '"']
        if len(quotes) % 2 and "@" not in raw:
            column = quotes[-1] + 1
            report.errors.append(_log("C#", name, number, column, "newline in constant"))
            return True
    return False


def _csharp_initialize_throw(name: str, text: str, stripped: str, report: SourceReport) -> None:
    match = re.search(r"\bvoid\s+Initialize\s*\(\s*\)\s*\{", stripped)
    if match is None or report.initialize_failure is not None:
        return
    depth, index = 1, match.end()
    while index < len(stripped) and depth:
        depth += {"{": 1, "}": -1}.get(stripped[index], 0)
        index += 1
    body = stripped[match.end() : index]
    throw = re.search(r"\bthrow\s+new\s+([\w.]+)\s*\(", body)
    if throw is None:
        return
    start = match.end() + throw.start()
    line, _ = _position(text, start)
    source = text.splitlines()[line - 1].strip()
    literal = re.search(r'throw\s+new\s+[\w.]+\s*\(\s*"([^"]*)"', source)
    report.initialize_failure = InitializeFailure(
        name, line, throw.group(1), literal.group(1) if literal else "thrown in Initialize", source
    )
