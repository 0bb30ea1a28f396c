"""The cost model (nicelist/cost.py): the price table, the arithmetic of the bill, and plan's drain cost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nicelist.bench.counting import billed_requests
from nicelist.cost import (
    API_MEMORY_MB,
    WRITER_MEMORY_MB,
    PriceError,
    Usage,
    bill,
    consumer_sqs_requests,
    drain_bill,
    load_prices,
    wcu_hours,
)
from nicelist.plan import plan_command

REPO = Path(__file__).resolve().parents[2]
PACKAGED = (REPO / "nicelist" / "prices.toml").read_text()


def test_the_packaged_prices_are_the_stated_us_east_1_list_prices() -> None:
    prices = load_prices()
    assert (prices.region, prices.as_of) == ("us-east-1", "2026-12-01")
    assert prices.sqs_per_million == 0.40 and prices.sqs_chunk_bytes == 64 * 1024
    assert prices.lambda_per_million == 0.20 and prices.lambda_per_gb_second == 0.0000166667
    assert prices.on_demand_per_million_wru == 0.625 and prices.provisioned_per_wcu_hour == 0.00065
    assert prices.rest_api_per_million == 3.50 and prices.http_api_per_million == 1.00
    assert prices.sources


def test_a_users_table_replaces_the_packaged_one(tmp_path: Path) -> None:
    mine = tmp_path / "prices.toml"
    mine.write_text(
        PACKAGED.replace("on_demand_per_million_write_units = 0.625", "on_demand_per_million_write_units = 1.25")
    )
    assert load_prices(mine).on_demand_per_million_wru == 1.25


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ("per_gb_second = 0.0000166667", "", "lambda.per_gb_second"),
        ("rest_per_million_requests = 3.50", "rest_per_million_requests = -1", "api_gateway.rest_per_million_requests"),
        ("standard_per_million_requests = 0.40", 'standard_per_million_requests = "0.40"', "sqs.standard"),
        ("billing_chunk_bytes = 65536", "billing_chunk_bytes = 0.5", "billing_chunk_bytes"),
        ("provisioned_per_wcu_hour = 0.00065", "provisioned_per_wcu_hour = nan", "provisioned_per_wcu_hour"),
        ("provisioned_per_wcu_hour = 0.00065", "provisioned_per_wcu_hour = true", "provisioned_per_wcu_hour"),
        ('as_of = "2026-12-01"', "", "as_of"),
        ("[sqs]", "[sqs", "prices.toml"),
    ],
)
def test_a_table_missing_a_price_or_with_a_wrong_one_is_refused(tmp_path: Path, old: str, new: str, named: str) -> None:
    broken = tmp_path / "prices.toml"
    broken.write_text(PACKAGED.replace(old, new))
    with pytest.raises(PriceError, match=named.replace(".", r"\.")):
        load_prices(broken)


def test_sqs_bills_a_request_per_started_64_kib_chunk() -> None:
    assert [billed_requests(n) for n in (0, 1, 65536, 65537, 262144)] == [1, 1, 1, 2, 4]
    # 100 messages of 1 KiB: 10 receives of 10 KiB each (one chunk each) and 10 batch deletes
    assert consumer_sqs_requests(100, 100 * 1024, 65536) == 20
    # 10 messages of 250 KiB: one receive returning 2.5 MB bills 39 chunks, and one delete
    assert consumer_sqs_requests(10, 10 * 250 * 1024, 65536) == pytest.approx(10 * 250 * 1024 / 65536 + 1)


def test_the_bill_is_usage_times_price_per_service() -> None:
    usage = Usage(
        sqs_requests=0.01, lambda_requests=0.001, lambda_gb_seconds=0.0005, write_units=1.4, wcu_hours=0.0004,
        api_requests=0.01,
    )  # fmt: skip
    found = bill(usage, load_prices())
    assert found.sqs == pytest.approx(10_000 * 0.40 / 1e6)
    assert found.lambda_requests == pytest.approx(1_000 * 0.20 / 1e6)
    assert found.lambda_compute == pytest.approx(500 * 0.0000166667)
    assert found.dynamodb_on_demand == pytest.approx(1.4 * 0.625)
    assert found.dynamodb_provisioned == pytest.approx(400 * 0.00065)
    assert (found.api_gateway_rest, found.api_gateway_http) == pytest.approx((0.035, 0.01))
    common = found.sqs + found.lambda_requests + found.lambda_compute + found.api_gateway_rest
    assert found.total_on_demand == pytest.approx(common + found.dynamodb_on_demand)
    assert found.total_provisioned == pytest.approx(common + found.dynamodb_provisioned)


def test_provisioned_capacity_is_held_for_the_whole_drain() -> None:
    assert wcu_hours(3600, 1.0) == 1.0
    assert wcu_hours(3600, 1.5) == 1.5  # a drain 1.5 x the ideal holds the capacity 1.5 x as long
    assert wcu_hours(3600, 0.5) == 1.0  # never less than the units themselves


def test_a_drain_costs_the_table_and_the_busy_writers() -> None:
    prices = load_prices()
    drained = drain_bill(
        updates=1_000_000, units_per_update=1.375, drain_seconds=3600, concurrency=2, messages=1_000_000,
        table_wcu=400, prices=prices,
    )  # fmt: skip
    assert drained.dynamodb_provisioned == pytest.approx(400 * 1 * 0.00065)
    assert drained.dynamodb_on_demand == pytest.approx(1.375 * 0.625)
    assert drained.lambda_requests == pytest.approx(100_000 * 0.20 / 1e6)
    assert drained.lambda_compute == pytest.approx(2 * 3600 * WRITER_MEMORY_MB / 1024 * 0.0000166667)
    assert drained.sqs == 0 and drained.api_gateway_rest == 0


def test_plan_adds_the_drains_cost_to_its_answer(tmp_path: Path) -> None:
    args = ["--backlog", "1000000", "--deadline", "2h", "--table-wcu", "1000"]
    answer = json.loads(CliRunner().invoke(plan_command, [*args, "--json"]).output)
    hours = answer["drain_seconds"] / 3600
    lambda_dollars = 100_000 * 0.20 / 1e6 + 2 * answer["drain_seconds"] * 0.25 * 0.0000166667
    assert answer["cost"]["dynamodb"] == pytest.approx(1000 * hours * 0.00065, abs=1e-4)
    assert answer["cost"]["writer_lambda"] == pytest.approx(lambda_dollars, abs=1e-4)
    printed = CliRunner().invoke(plan_command, args).output
    assert f"drain cost         ${answer['cost']['dollars']:,.2f}" in printed
    dearer = tmp_path / "prices.toml"
    dearer.write_text(PACKAGED.replace("provisioned_per_wcu_hour = 0.00065", "provisioned_per_wcu_hour = 0.0013"))
    doubled = json.loads(CliRunner().invoke(plan_command, [*args, "--json", "--prices", str(dearer)]).output)
    # both are rounded to 4 places: twice a rounded figure may be 1.5e-4 off the rounded double
    assert doubled["cost"]["dynamodb"] == pytest.approx(2 * answer["cost"]["dynamodb"], abs=2e-4)


def test_the_memory_sizes_priced_are_the_ones_zappa_deploys() -> None:
    settings = json.loads((REPO / "zappa_settings.json").read_text())
    writers = {s["memory_size"] for s in settings.values() if s.get("lambda_handler", "").startswith("writer.")}
    apis = {s["memory_size"] for s in settings.values() if s.get("app_function") == "producers.api.app"}
    assert writers == {WRITER_MEMORY_MB} and apis == {API_MEMORY_MB}
