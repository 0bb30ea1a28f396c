"""The live dashboard in a real browser: ``nicelist up`` serves it, headless Chromium reads it.

The page's figures are compared with the stack's own readings (SQS's queue attributes, the meter's
ledger, the table read back with ``ChildReader``); then the stack is stopped (the page must say it has
lost it) and started again on the same ports (the page must recover and show the new stack, not the old).
Needs Debian's ``chromium`` and ``chromium-driver``: ``.ci/run`` installs them; without them the test skips.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import urllib3

from nicelist.local.processes import free_port
from nicelist.reader import ChildReader

pytestmark = pytest.mark.e2e

CHROMEDRIVER = "/usr/bin/chromedriver"
CHILDREN = {  # child: (status, lat, lon)
    "c-dash-1": ("nice", 51.5072, -0.1276),
    "c-dash-2": ("naughty", -33.8688, 151.2093),
    "c-dash-3": ("nice", 64.1466, -21.9426),
}
DELAYED = 4  # messages sent with a 900 s delay: a backlog that stays put while the page is read

if not (Path(CHROMEDRIVER).exists() and (shutil.which("chromium") or Path("/usr/bin/chromium").exists())):
    pytest.skip(
        "needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver; .ci/run does)",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402 - only when chromium is there
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402


def _wait(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as error:  # the page or the stack is not there yet: try again
            last = error
        else:
            if last:
                return last
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


class Up:
    """``nicelist up`` on fixed ports, so it can be started again where the page expects it."""

    def __init__(self, run_dir: Path) -> None:
        self.ports = {name: free_port() for name in ("moto", "meter", "api", "control", "dashboard")}
        self.run_dir = run_dir
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        args = [f"--{name}-port={port}" for name, port in self.ports.items()]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nicelist", "up", "--run-dir", str(self.run_dir), *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        http = urllib3.PoolManager(retries=False, timeout=2)
        _wait("the dashboard", lambda: http.request("GET", f"{self.url('dashboard')}/api/state").status == 200, 60)
        _wait("the API", lambda: http.request("GET", f"{self.url('api')}/v1/health").status == 200, 60)

    def stop(self) -> str:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGINT)
        output, _ = self.process.communicate(timeout=60)
        return output

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.url("moto"), region_name="us-east-1")


@pytest.fixture
def browser() -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1300"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _send_children(up: Up) -> None:
    updates = []
    for child, (status, lat, lon) in CHILDREN.items():
        updates.append({"kind": "status", "child_id": child, "status": status, "observed_at": "2026-12-23T18:00:00Z"})
        updates.append(
            {"kind": "location", "child_id": child, "lat": lat, "lon": lon, "observed_at": "2026-12-23T18:00:01Z"}
        )
    headers = {"content-type": "application/json", "x-api-key": "local-dev-key"}
    sent = urllib3.PoolManager().request(
        "POST", f"{up.url('api')}/v1/updates", body=json.dumps(updates), headers=headers
    )
    assert sent.status == 202, sent.data


def _value(browser: Any, element_id: str) -> str:
    return str(browser.find_element(By.ID, element_id).get_attribute("data-value"))


def _markers(browser: Any) -> dict[str, tuple[str, float, float]]:
    found = {}
    for dot in browser.find_elements(By.CSS_SELECTOR, "#markers circle"):
        child = dot.get_attribute("data-child")
        found[child] = (
            dot.get_attribute("data-status"),
            float(dot.get_attribute("data-lat")),
            float(dot.get_attribute("data-lon")),
        )
    return found


def test_the_page_shows_the_stacks_own_numbers_and_says_when_it_has_lost_the_stack(
    tmp_path: Path, browser: Any
) -> None:
    up = Up(tmp_path / "run")
    up.start()
    try:
        # GIVEN children with known positions written through the API, and a backlog that stays put
        _send_children(up)
        sqs = up.client("sqs")
        queue = sqs.get_queue_url(QueueName="nicelist-local-updates")["QueueUrl"]
        for n in range(DELAYED):
            sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"later": n}), DelaySeconds=900)
        reader = ChildReader(up.client("dynamodb"), "nicelist-local")
        table = _wait(
            "the writers",
            lambda: all(s and s.location for s in reader.get_many(CHILDREN).values()) and reader.get_many(CHILDREN),
        )

        # AND a notification line as hostile as a log line can be, beside one that is not JSON at all
        hostile = {"time": "18:00", "alarm": "<img src=x id=pwned>", "state": "ALARM", "previous": "OK"}
        lines = [json.dumps({**hostile, "reason": "<script>document.title='pwned'</script>"}), "{not json"]
        (up.run_dir / "notifications.log").write_text("\n".join(lines) + "\n")

        # WHEN the dashboard is opened in the browser
        browser.get(up.url("dashboard"))
        _wait("live data", lambda: browser.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "live")

        # THEN its queue figures are SQS's own
        attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        assert int(attributes["ApproximateNumberOfMessagesDelayed"]) == DELAYED
        _wait("the delayed backlog", lambda: _value(browser, "queue-delayed") == str(DELAYED))
        assert _value(browser, "queue-visible") == attributes["ApproximateNumberOfMessages"] == "0"
        # AND its write rate is the meter's: every unit written so far, over the 60 s window
        meter = json.loads(urllib3.PoolManager().request("GET", f"{up.url('meter')}/_meter/stats?seconds=120").data)
        units = meter["tables"]["nicelist-local"]["totals"]["units"]
        assert units > 0
        _wait("the write rate", lambda: float(_value(browser, "write-rate")) == round(units / 60, 1))
        assert _value(browser, "capacity") == "100"
        # AND each child is on the map where the table says it is, in its status's colour
        markers = _wait("the children on the map", lambda: (m := _markers(browser)) and set(CHILDREN) <= set(m) and m)
        for child, state in table.items():
            assert state is not None and state.location is not None and state.status is not None
            assert markers[child] == (state.status.status, state.location.lat, state.location.lon)
            assert markers[child] == CHILDREN[child]
        assert browser.find_element(By.ID, "banner").is_displayed() is False
        # AND the hostile notification is shown as text, not run or rendered as markup
        notes = _wait("the notification", lambda: browser.find_element(By.ID, "notifications").text)
        assert "<img src=x id=pwned>" in notes and "<script>" in notes
        assert browser.find_elements(By.ID, "pwned") == [] and browser.title == "nicelist dashboard"
        browser.save_screenshot(str(tmp_path / "dashboard.png"))
        first_run = browser.find_element(By.TAG_NAME, "body").get_attribute("data-run")
    finally:
        output = up.stop()
    assert "dashboard     http://127.0.0.1:" in output  # printed with the other URLs

    # WHEN the stack is stopped THEN the page says it has lost it and marks its figures stale
    _wait("the lost banner", lambda: browser.find_element(By.ID, "banner").is_displayed())
    assert "Lost the stack" in browser.find_element(By.ID, "banner").text
    assert "stale" in browser.find_element(By.ID, "panel-queue").get_attribute("class")
    browser.save_screenshot(str(tmp_path / "dashboard-lost.png"))

    # WHEN it is started again THEN the page recovers and shows the new, empty stack, nothing of the old
    up.start()
    try:
        _wait("recovery", lambda: browser.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "live", 30)
        assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-run") != first_run
        _wait("the new stack's backlog", lambda: _value(browser, "queue-delayed") == "0")
        assert _markers(browser) == {}
        assert "stale" not in browser.find_element(By.ID, "panel-queue").get_attribute("class")
    finally:
        up.stop()
