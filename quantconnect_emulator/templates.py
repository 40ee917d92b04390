"""Static content: default project files per language and the LEAN versions.

Example:
    >>> [name for name, _content, _open in default_files("Py", "My Project")]
    ['main.py', 'research.ipynb']
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Languages a project may be created with (exact spelling, as on the wire).
LANGUAGES = ("Py", "C#")

#: What ``versions`` holds in project responses (shape of ``LeanVersion``).
LEAN_VERSIONS: list[dict[str, Any]] = [
    {
        "id": 17109,
        "created": "2025-03-11 19:42:07",
        "description": "Adds option universe filter helpers; fixes margin call ordering",
        "leanHash": "4b9e7c0ed3c8d9f1e6a2b5c47f0a1d2e3c4b5a69",
        "leanCloudHash": "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d",
        "name": "master",
        "ref": "refs/heads/master",
        "public": True,
    },
    {
        "id": 17084,
        "created": "2025-02-24 15:18:27",
        "description": "Python 3.11 runtime update",
        "leanHash": "9f8e7d6c5b4a39281706f5e4d3c2b1a098f7e6d5",
        "leanCloudHash": "a1b2c3d4e5f60718293a4b5c6d7e8f9001a2b3c4",
        "name": "master",
        "ref": "refs/heads/master",
        "public": True,
    },
]

_PY_MAIN = '''# region imports
from AlgorithmImports import *
# endregion


class {class_name}(QCAlgorithm):

    def initialize(self):
        self.set_start_date(2024, 1, 1)
        self.set_cash(100000)
        self.add_equity("SPY", Resolution.MINUTE)

    def on_data(self, data: Slice):
        """on_data event is the primary entry point for your algorithm.
        Each new data point will be pumped in here.

        Arguments:
            data: Slice object keyed by symbol containing the stock data
        """
        if not self.portfolio.invested:
            self.set_holdings("SPY", 1)
            self.debug("Purchased Stock")
'''

_CS_MAIN = """#region imports
    using System;
    using System.Collections.Generic;
    using System.Linq;
    using QuantConnect.Data;
    using QuantConnect.Algorithm;
#endregion

namespace QuantConnect.Algorithm.CSharp
{{
    public class {class_name} : QCAlgorithm
    {{
        public override void Initialize()
        {{
            SetStartDate(2024, 1, 1);
            SetCash(100000);
            AddEquity("SPY", Resolution.Minute);
        }}

        /// OnData event is the primary entry point for your algorithm.
        /// Each new data point will be pumped in here.
        public override void OnData(Slice data)
        {{
            if (!Portfolio.Invested)
            {{
                SetHoldings("SPY", 1);
                Debug("Purchased Stock");
            }}
        }}
    }}
}}
"""


def _notebook(language: str) -> str:
    if language == "Py":
        source = [
            "# QuantBook Analysis Tool \n",
            "# For more information see [https://www.quantconnect.com/docs/v2/our-platform/research]\n",
            "qb = QuantBook()\n",
            'spy = qb.add_equity("SPY")\n',
            "history = qb.history(qb.securities.keys(), 360, Resolution.DAILY)\n",
            "history",
        ]
        kernel = {"display_name": "Python 3", "language": "python", "name": "python3"}
        language_info = {"name": "python"}
    else:
        source = [
            "// QuantBook C# Research Environment\n",
            '#load "../Initialize.csx"\n',
            "var qb = new QuantBook();\n",
            'var spy = qb.AddEquity("SPY");\n',
            "var history = qb.History(qb.Securities.Keys, 360, Resolution.Daily);",
        ]
        kernel = {"display_name": ".NET (C#)", "language": "C#", "name": ".net-csharp"}
        language_info = {"name": "C#"}
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": source,
            }
        ],
        "metadata": {"kernelspec": kernel, "language_info": language_info},
        "nbformat": 4,
        "nbformat_minor": 2,
    }
    return json.dumps(notebook, indent=1)


def algorithm_class_name(project_name: str) -> str:
    """A valid class name derived from the last component of a project name.

    Example:
        >>> algorithm_class_name("Folder/my project-2")
        'MyProject2'
    """
    words = re.split(r"[^A-Za-z0-9]+", project_name.rsplit("/", 1)[-1])
    name = "".join(word[:1].upper() + word[1:] for word in words if word)
    if not name or not name[0].isalpha():
        name = "Algorithm" + name
    return name


def default_files(language: str, project_name: str) -> list[tuple[str, str, bool]]:
    """The files a new project starts with: ``(name, content, open)`` tuples.

    Py projects get ``main.py`` and ``research.ipynb``; C# projects get
    ``Main.cs`` and ``Research.ipynb``.
    """
    class_name = algorithm_class_name(project_name)
    if language == "Py":
        return [
            ("main.py", _PY_MAIN.format(class_name=class_name), True),
            ("research.ipynb", _notebook("Py"), False),
        ]
    return [
        ("Main.cs", _CS_MAIN.format(class_name=class_name), True),
        ("Research.ipynb", _notebook("C#"), False),
    ]
