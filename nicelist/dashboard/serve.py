"""The dashboard beside a running ``LocalStack``: what ``nicelist up`` and ``nicelist demo`` start."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nicelist.dashboard.collector import Collector, StackEndpoints
from nicelist.dashboard.server import DashboardServer
from nicelist.local.processes import StartupError, port_is_free
from nicelist.local.stack import LocalStack


def stack_endpoints(stack: LocalStack) -> StackEndpoints:
    runtime = stack.runtime
    return StackEndpoints(
        stage=stack.config.stage,
        aws_url=stack.aws_url,
        # The map reads the table beside the meter, not through it: the meter neither counts nor limits
        # reads, and the writers' path stays as the demo measures it.
        dynamodb_url=stack.aws_url,
        meter_url=stack.dynamodb_url,
        control_url=runtime.control_url if runtime is not None else None,
        run_dir=stack.config.run_dir,
    )


def free_dashboard_port(port: int, host: str = "127.0.0.1") -> int:
    """``port``, checked before the stack starts: a taken port fails in a second, not after the stack is up."""
    if not port_is_free(host, port):
        raise StartupError(f"port {port} on {host} is in use (another `nicelist up`?): pass another --dashboard-port")
    return port


@contextmanager
def serve_dashboard(stack: LocalStack, port: int | None) -> Iterator[DashboardServer | None]:
    """The dashboard of a running stack for the length of the block (None, and nothing, if ``port`` is None)."""
    if port is None:
        yield None
        return
    collector = Collector(stack_endpoints(stack))
    try:
        server = DashboardServer(collector.state, port, host=stack.config.host)
    except OSError as error:
        raise StartupError(f"the dashboard cannot listen on port {port}: {error} (pass --dashboard-port)") from None
    collector.refresh()  # the first page load has data
    collector.start()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        collector.stop()
