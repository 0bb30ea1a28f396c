"""The write-rate parameter's grammar and the auto budget: hostile text never parses into a rate it does
not say, and an auto budget never exceeds what the table takes in a second."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from writer.autorate import (
    DEFAULT_AUTO_FRACTION,
    ON_DEMAND_INSTANT_WRU,
    AutoRate,
    FixedRate,
    InvalidWriteRate,
    TableThroughput,
    auto_rate,
    describe_auto,
    parse_write_rate,
)

# An independent statement of the grammar: ASCII decimal, optional exponent; or auto[:decimal].
ORACLE_NUMBER = re.compile(r"\A(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?\Z", re.ASCII)


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("100", FixedRate(100)),
        ("48.5", FixedRate(48.5)),
        ("1e+06", FixedRate(1e6)),  # what format_rate writes for a million
        ("auto", AutoRate(DEFAULT_AUTO_FRACTION)),
        ("auto:0.9", AutoRate(0.9)),
        ("auto:1", AutoRate(1.0)),
        ("auto:.5", AutoRate(0.5)),
    ],
)
def test_what_parses(text: str, spec: object) -> None:
    assert parse_write_rate(text) == spec
    assert parse_write_rate(str(spec)) == spec  # what tune writes back reads the same


@pytest.mark.parametrize(
    "text",
    [
        "", "0", "-5", "nan", "inf", "1e999", "1_000", " 100", "100 ", "100\n", "\u0661\u0660\u0660", "+5", "0x10",
        "auto:0", "auto:1.5", "auto:-0.5", "auto:", "AUTO", "auto:nan", "auto:0.9 ", "auto: 0.9", "auto::0.9",
        "x" * 100,
    ],
)  # fmt: skip
def test_what_is_refused(text: str) -> None:
    with pytest.raises(InvalidWriteRate):
        parse_write_rate(text)


def oracle_number(text: str) -> bool:
    return ORACLE_NUMBER.match(text) is not None and 0 < float(text) < math.inf


def oracle_fraction(text: str) -> bool:
    return text.startswith("auto:") and ORACLE_NUMBER.match(text[5:]) is not None and 0 < float(text[5:]) <= 1


@given(st.text(alphabet=st.sampled_from("auto:0123456789.eE+-_ \u0661x"), max_size=80) | st.text(max_size=80))
def test_any_text_is_a_positive_rate_an_auto_fraction_in_range_or_refused(text: str) -> None:
    try:
        spec = parse_write_rate(text)
    except InvalidWriteRate:
        assert len(text) > 64 or not (oracle_number(text) or oracle_fraction(text) or text == "auto")
        return
    if isinstance(spec, FixedRate):
        assert oracle_number(text) and spec.wcu == float(text)
    else:
        assert text == "auto" or (oracle_fraction(text) and float(text[5:]) == spec.fraction)


@given(st.floats(min_value=1e-6, max_value=1e12), st.sampled_from(["", "auto"]))
def test_numbers_and_fractions_round_trip(value: float, kind: str) -> None:
    spec = AutoRate(min(1.0, value / 1e12) or 1.0) if kind else FixedRate(value)
    text = str(spec)
    parsed = parse_write_rate(text)
    assert str(parsed) == text


def provisioned(wcu: int) -> dict[str, object]:
    return {"BillingModeSummary": {"BillingMode": "PROVISIONED"}, "ProvisionedThroughput": {"WriteCapacityUnits": wcu}}


def on_demand(**extra: object) -> dict[str, object]:
    return {"BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"}, **extra}


def test_a_provisioned_table_gives_its_wcu() -> None:
    throughput = TableThroughput.from_description(provisioned(400))
    assert auto_rate(AutoRate(0.95), throughput) == 380
    assert describe_auto(AutoRate(0.95), throughput) == "auto (0.95 x 400 WCU = 380)"


def test_an_on_demand_table_gives_what_it_serves_at_once_within_its_maximum() -> None:
    assert TableThroughput.from_description(on_demand()).ceiling == ON_DEMAND_INSTANT_WRU
    capped = on_demand(OnDemandThroughput={"MaxWriteRequestUnits": 500})
    assert TableThroughput.from_description(capped).ceiling == 500
    warm = on_demand(WarmThroughput={"WriteUnitsPerSecond": 9000}, OnDemandThroughput={"MaxWriteRequestUnits": -1})
    assert TableThroughput.from_description(warm).ceiling == 9000  # -1: no maximum


def test_a_provisioned_table_without_capacity_is_not_a_reading() -> None:
    with pytest.raises(ValueError):
        TableThroughput.from_description({"ProvisionedThroughput": {"WriteCapacityUnits": True}})


@given(
    st.floats(min_value=1e-9, max_value=1.0),
    st.one_of(
        st.builds(provisioned, st.integers(1, 10**7)),
        st.builds(
            lambda m, w: on_demand(
                OnDemandThroughput={"MaxWriteRequestUnits": m}, WarmThroughput={"WriteUnitsPerSecond": w}
            ),
            st.one_of(st.integers(-1, 10**7), st.none(), st.text(max_size=3)),
            st.one_of(st.integers(-5, 10**7), st.none(), st.booleans()),
        ),
    ),
)
def test_auto_never_exceeds_the_table(fraction: float, table: dict[str, object]) -> None:
    throughput = TableThroughput.from_description(table)
    rate = auto_rate(AutoRate(fraction), throughput)
    limits = [throughput.ceiling]
    maximum = (table.get("OnDemandThroughput") or {}).get("MaxWriteRequestUnits")  # type: ignore[attr-defined]
    if isinstance(maximum, int) and not isinstance(maximum, bool) and maximum > 0:
        limits.append(maximum)
    assert 0 < rate <= min(limits)
