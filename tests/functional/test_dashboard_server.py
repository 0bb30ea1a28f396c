"""The dashboard's HTTP server, over real HTTP: its page and assets, ``/api/state`` and hostile requests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import urllib3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nicelist.dashboard.server import ASSETS, DashboardServer

HOSTILE_ID = "</script><img src=x onerror=alert(1)>"
STATE: dict[str, Any] = {
    "run": "r1",
    "map": {"children": [{"id": HOSTILE_ID, "lat": 1.0, "lon": 2.0}, {"id": "c-2", "lat": 3.0, "lon": 4.0}]},
}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    running = DashboardServer(lambda: STATE, 0).start()
    try:
        yield running.url
    finally:
        running.stop()


HTTP = urllib3.PoolManager(retries=False, timeout=5)


def test_the_page_and_its_assets_are_served_from_the_package_with_a_strict_policy(server: str) -> None:
    for path, (_, content_type) in ASSETS.items():
        response = HTTP.request("GET", server + path)
        assert response.status == 200 and response.headers["Content-Type"] == content_type
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = HTTP.request("GET", server + "/").data.decode()
    assert "http://" not in page and "https://" not in page  # nothing fetched from elsewhere
    assert "innerHTML" not in HTTP.request("GET", server + "/static/dashboard.js").data.decode()


def test_the_state_is_the_collectors_json_untouched_and_markers_cut_it(server: str) -> None:
    response = HTTP.request("GET", server + "/api/state")
    assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
    assert json.loads(response.data) == STATE
    one = json.loads(HTTP.request("GET", server + "/api/state?markers=1").data)
    assert [child["id"] for child in one["map"]["children"]] == [HOSTILE_ID]


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=80))
def test_any_query_gets_the_state_or_a_400_never_a_crash(server: str, query: str) -> None:
    response = HTTP.request("GET", f"{server}/api/state?{quote(query, safe='=&')}")
    assert response.status in {200, 400}
    body = json.loads(response.data)
    assert ("error" in body) == (response.status == 400)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=60))
def test_any_other_path_is_a_404_and_never_a_file_from_disk(server: str, path: str) -> None:
    url_path = "/" + quote(path.lstrip("/"), safe="/.")
    response = HTTP.request("GET", server + url_path)
    if url_path.split("?")[0] in ASSETS or url_path in {"/favicon.ico", "/api/state"}:
        return
    assert response.status == 404 and json.loads(response.data) == {"error": "no such page"}


@pytest.mark.parametrize("path", ["/static/../server.py", "/static/%2e%2e/server.py", "/static/", "//etc/passwd"])
def test_traversal_finds_nothing(server: str, path: str) -> None:
    assert HTTP.request("GET", server + path).status == 404
