"""The benchmark suite of `todo` (issue 7): `bench/run` or `python -m bench`.

Nothing here is imported by the test suite; every section prints figures and writes them
to `bench/results/`, and `bench.report` turns them into `docs/performance.md`.
"""
