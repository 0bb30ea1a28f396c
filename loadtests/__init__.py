"""Load tests (not CI tests): the Locust spike test, the fault suite, the meter's overhead benchmark.

The benchmark of nicelist against the naive baseline is ``nicelist bench`` (``nicelist/bench/``).
"""
