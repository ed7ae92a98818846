"""Test and learn: the decision log joined with outcome events (SPEC 8).

``atomcast batch`` writes ``OUT/decisions.parquet``; ``atomcast results`` reads it with the
outcome events an ESP or a warehouse exports, and reports per experiment arm (randomized:
lifts with confidence intervals, a sample-ratio check) and per atom (observational).

Modules: :mod:`~atomcast.results.metrics` (what is measured), :mod:`~.events` (files in),
:mod:`~.join` (DuckDB), :mod:`~.stats` (GrowthBook's frequentist engine), :mod:`~.report`
(JSON and text), :mod:`~.plan` (sizing a test), :mod:`~.analyse` (one run end to end).

Python API::

    from atomcast.project import load_project
    from atomcast.results.analyse import analyse

    report = analyse(load_project(Path(".")), "summer-sale", Path("out"), [Path("events.jsonl")])
    print(report.to_json()["experiments"])
"""
