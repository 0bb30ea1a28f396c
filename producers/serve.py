"""Run the enqueue API locally under gunicorn (gthread workers), as the local stack does.

    python -m producers.serve --host 127.0.0.1 --port 8080 --workers 2 --threads 32

The app reads its settings from ``NICELIST_*`` (``NICELIST_API_KEYS``, ``NICELIST_STAGE``,
``NICELIST_QUEUE_URL``) and AWS from boto3's chain (``AWS_ENDPOINT_URL``, ``AWS_REGION``).
Nothing sensitive is printed: not the keys, not request bodies (no access log).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from typing import Any

from gunicorn.app.base import BaseApplication

from producers.expect import defer_continue, finish_continue


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from producers.api import create_app  # noqa: PLC0415 (imported in each worker, after env is set)

        return create_app()


def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 2,
    threads: int = 32,
    env: Mapping[str, str] | None = None,
    *,
    timeout: int = 30,
) -> None:
    """Serve until SIGINT/SIGTERM. ``env`` is added to the environment the workers read."""
    os.environ.update(env or {})
    print(f"nicelist API on http://{host}:{port} ({workers} workers x {threads} threads)", flush=True)
    _Server(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "timeout": timeout,
            "graceful_timeout": 10,
            # gunicorn's default of 2 s closes idle connections under clients that pace at a second or
            # two, and a POST sent as the server closes fails (clients rightly don't retry a POST on
            # their own). Producers keep connections open between sends: outlast them, as load balancers do.
            "keepalive": 75,
            "accesslog": None,
            "loglevel": "warning",
            "proc_name": "nicelist-api",
            # gunicorn sends "100 Continue" before the app runs; these send it only for a body the API reads.
            "pre_request": defer_continue,
            "post_request": finish_continue,
        }
    ).run()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m producers.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=32)
    args = parser.parse_args(argv)
    serve(args.host, args.port, args.workers, args.threads)


if __name__ == "__main__":
    main()
