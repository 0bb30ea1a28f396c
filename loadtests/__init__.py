"""Load tests and benchmarks (not CI tests): Locust spike test, API and producer benchmarks."""
