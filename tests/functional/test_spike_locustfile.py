"""The locustfile as Locust itself loads it (``locust.util.load_locustfile``), in a subprocess: it patches gevent.

Headless Locust runs the first non-abstract shape it finds; ``NICELIST_SPIKE_SHAPE`` must leave
exactly the named one, and the SDK users must be there beside the HTTP ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
from locust.util.load_locustfile import load_locustfile
users, shapes = load_locustfile(sys.argv[1])
print(json.dumps({"users": sorted(users), "shapes": [type(s).__name__ for s in shapes],
                  "ticks": [s.tick() for s in shapes]}))
"""


def load(**env: str) -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT / "loadtests" / "locustfile.py")],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        timeout=60,
    )
    loaded: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize(("name", "shape"), [("surge", "Surge"), ("burst", "Burst"), ("sawtooth", "Sawtooth")])
def test_the_named_shape_is_the_only_one_locust_can_run(name: str, shape: str) -> None:
    loaded = load(NICELIST_SPIKE_SHAPE=name, NICELIST_SPIKE_BURST_USERS="3")

    assert loaded["shapes"] == [shape]
    assert loaded["users"] == ["HttpProducer", "SdkProducer"]
    assert loaded["ticks"][0][0] == (3 if name == "burst" else 1)  # sized from the environment


def test_without_a_name_all_three_are_offered_and_the_surge_comes_first() -> None:
    loaded = load(NICELIST_SPIKE_SHAPE="", NICELIST_SPIKE_SDK_WEIGHT="0")

    assert loaded["shapes"] == ["Surge", "Burst", "Sawtooth"]
    assert loaded["users"] == ["HttpProducer"]  # weight 0 leaves the SDK users out
