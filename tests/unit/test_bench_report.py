"""The benchmark's table and bill (nicelist/bench/report.py), from measurements made up to be checked by hand."""

from __future__ import annotations

import json

import pytest

from nicelist.bench.consumers import ConsumerResult
from nicelist.bench.endtoend import EndToEnd
from nicelist.bench.load import LoadFigures
from nicelist.bench.producers import CpuFigures, SqsFigures
from nicelist.bench.report import as_dict, render, rows, usages
from nicelist.bench.run import BenchOptions, Measurements
from nicelist.cost import load_prices
from nicelist.demo.report import RateFigures
from nicelist.demo.verify import Verdict

RIGHT = Verdict(100, 100, 0, 0, 50, 0)
WRONG = Verdict(100, 90, 0, 10, 50, 2)


def _e2e(name: str, lost: int, drain: float, throttled: int, invocation_seconds: float) -> EndToEnd:
    rates = RateFigures(100, 97, 1500, throttled, 3, 100, 90.0, drain, 15.0)
    return EndToEnd(name, 1000, 40.0, lost, lost == 0, rates, 10, invocation_seconds, 20, 20)


@pytest.fixture
def measured() -> Measurements:
    sqs = {
        # 1,000 updates in 10 requests of 100, 10 messages, 150 KB: 10 billed requests
        "api_arrays": SqsFigures("api-arrays", 1000, 10, 10, 10, 150_000, 0.5, 10),
        "api_singles": SqsFigures("api-singles", 100, 100, 100, 100, 15_000, 1.0, 100),
        "sdk": SqsFigures("sdk", 1000, 1, 3, 1, 150_000, 0.1),
        "naive": SqsFigures("naive", 100, 100, 100, 100, 15_000, 1.0),
    }
    return Measurements(
        options=BenchOptions(),
        minimum_units=1300,
        distinct_updates=980,
        writer=ConsumerResult("nicelist", 1000, 2.0, 1, 220, 1400, RIGHT, {"PutItem": 180, "BatchWriteItem": 40}),
        naive_consumer=ConsumerResult("naive", 1000, 10.0, 100, 1800, 1800, WRONG, {"PutItem": 1800}),
        memory={"tracemalloc_peak_mib": 20.5, "retained_mib": 10.0},
        sqs=sqs,
        cpu=CpuFigures(api_arrays=60.0, api_singles=1000.0, floor=15.0, naive_producer=300.0),
        e2e={"nicelist": _e2e("nicelist", 0, 18.0, 30, 36.0), "naive": _e2e("naive", 7, 90.0, 0, 144.0)},
        load={
            "nicelist": LoadFigures(10.0, 500, 0, 50_000, 60.0, 200.0),
            "naive": LoadFigures(10.0, 700, 0, 700, 40.0, 190.0),
        },
        seconds={"in_process": 1.0},
    )


def test_each_row_sets_nicelist_beside_naive_with_the_ratio(measured: Measurements) -> None:
    found = {row.label: row for row in rows(measured)}
    arrays = found["requests / 1,000 updates, API with arrays of 100"]
    assert (arrays.nicelist, arrays.naive, arrays.ratio) == (10.0, 1000.0, 0.01)
    units = found["write units / 1,000 updates"]
    assert units.ratio == pytest.approx(1400 / 1800)
    assert found["write units / workload minimum (1300.0 / 1,000)"].nicelist == pytest.approx(1400 / 1300)
    assert found["enqueue updates/s (API arrays of 100 | SendMessage)"].ratio == pytest.approx(5000 / 70)
    assert found["share of write units throttled"].nicelist == pytest.approx(30 / 1530)
    assert found["drain time / ideal"].naive == pytest.approx(6.0)
    assert found["API arrays of 100 / decoding + validation alone"].nicelist == pytest.approx(4.0)
    lost = found["updates lost, end to end"]
    assert (lost.nicelist, lost.naive) == (0, 7)
    assert found["final state correct, in-process"].ratio is None  # booleans are not divided
    assert found["registers wrong + points missing, in-process"].naive == 12


def test_the_bill_uses_what_each_way_sent_wrote_and_ran(measured: Measurements) -> None:
    prices = load_prices()
    found = usages(measured, prices)
    naive = found["naive"]
    # one SendMessage per update, then a receive and a delete per 10 messages
    assert naive.sqs_requests == pytest.approx(1 + 0.1 + 0.1)
    assert naive.lambda_requests == pytest.approx(10 / 1000)
    assert naive.lambda_gb_seconds == pytest.approx(144.0 * 0.25 / 1000)
    assert naive.write_units == pytest.approx(1.8)
    assert naive.wcu_hours == pytest.approx(1.8 * 6.0 / 3600)  # held for a drain 6 x the ideal
    api = found["nicelist_api"]
    assert api.api_requests == pytest.approx(0.01)
    assert api.sqs_requests == pytest.approx(10 / 1000 + (max(0.001, 150 / 65.536 / 1000) + 0.001))
    assert api.lambda_requests == pytest.approx(10 / 1000 + 0.01)  # writer invocations + API requests
    sdk = found["nicelist_sdk"]
    assert sdk.api_requests == 0 and sdk.lambda_requests == pytest.approx(1 / 1000 / 10)


def test_the_printed_table_and_the_json_carry_every_row_and_the_bill(measured: Measurements) -> None:
    prices = load_prices()
    printed = render(measured, prices, ["header"])
    for row in rows(measured):
        assert row.label in printed
    assert "tracemalloc peak 20.5 MiB" in printed
    assert "total, on-demand table" in printed and prices.as_of in printed
    data = json.loads(json.dumps(as_dict(measured, prices, {"command": "nicelist bench"})))
    assert len(data["rows"]) == len(rows(measured))
    assert set(data["cost"]["per_million_updates"]) == {"nicelist_api", "nicelist_sdk", "naive"}
    naive_bill = data["cost"]["per_million_updates"]["naive"]
    assert naive_bill["sqs"] == pytest.approx(1.2 * 0.40)
    assert naive_bill["dynamodb_on_demand"] == pytest.approx(1.8 * 0.625)
