"""Benchmarks: what orchestration costs next to a plain ``requests`` script, and what it buys.

Run ``python -m benchmarks`` (or ``make bench``); ``--quick`` is the small mode the test suite
calls. See ``benchmarks/README.md`` for what is measured and the figures from this machine.
"""
