"""moto server as the embedded AWS, with one change: a Query on a table reads its partition, not the table.

moto 5 answers a Query on a table's primary key by sorting *every* item of the table and keeping those
of the queried partition (``moto/dynamodb/models/table.py``: ``Table.query`` filters ``Table.all_items()``,
which builds and sorts a list of all items). Each Query therefore costs O(N log N) in the table's size.
DynamoDB reads only the partition (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.html:
"you must provide the name of the partition key attribute and a single value for that attribute. Query
returns all items with that partition key value"). In the local stack that made moto, which is one
Python process on a 2-core machine, spend most of its time sorting: the writers' lease reads (one
Query a second per execution, ``writer/share.py``) and the dashboard's map (one Query per sampled child,
``nicelist/dashboard/positions.py``) against a table that grows by thousands of items during the demo
took the writers' share of moto's time, and the demo drained at 6 x its ideal time (measured with
py-spy on 1 December 2026: 7,088 of moto's busy samples in DynamoDB, 6,934 of them in ``Table.query``
sorting, 54 in ``put_item``).

``partition_queries`` hands ``Table.query`` the queried partition's items where it asks for all of
them. Only a Query on the table itself (no ``IndexName``) with a partition key is changed; moto's own
code still filters by the key, sorts by the sort key, applies the key condition, the filter, ``Limit``,
``ExclusiveStartKey`` and ``ScanIndexForward``, so the answer is the same item for item
(``tests/functional/test_moto_server.py`` compares both on generated tables). Scans and index queries are
moto's own.

``python -m nicelist.local.moto_server -H HOST -p PORT`` takes moto server's arguments.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from moto.dynamodb.models.table import Table
from moto.server import main as moto_main

_scope = threading.local()  # the partition a query on this thread is reading, while it reads it
_original_query: Callable[..., Any] = Table.query
_original_all_items: Callable[[Table], Any] = Table.all_items
_query_arguments = inspect.signature(_original_query)


def _partition(table: Table, hash_key: Any) -> list[Any]:
    found = table.items.get(hash_key)  # .get: moto's items is a defaultdict; never add an empty partition
    if found is None:
        return []
    return list(found.values()) if table.range_key_attr else [found]


def _query(self: Table, *args: Any, **kwargs: Any) -> Any:
    bound = _query_arguments.bind(self, *args, **kwargs)
    hash_key = bound.arguments.get("hash_key")
    if bound.arguments.get("index_name") or hash_key is None:
        return _original_query(self, *args, **kwargs)
    _scope.read = (self, _partition(self, hash_key))
    try:
        return _original_query(self, *args, **kwargs)
    finally:
        _scope.read = None


def _all_items(self: Table) -> Any:
    reading = getattr(_scope, "read", None)
    if reading is not None and reading[0] is self:
        return reading[1]
    return _original_all_items(self)


def install() -> None:
    """Replace moto's base-table Query path in this process (idempotent)."""
    Table.query = _query  # type: ignore[method-assign]
    Table.all_items = _all_items  # type: ignore[method-assign]


def uninstall() -> None:
    Table.query = _original_query  # type: ignore[method-assign]
    Table.all_items = _original_all_items  # type: ignore[method-assign,assignment]


@contextmanager
def partition_queries() -> Iterator[None]:
    """``install`` for the duration of a block (tests compare both ways on one backend)."""
    installed = Table.query is _query
    install()
    try:
        yield
    finally:
        if not installed:
            uninstall()


def main(argv: Sequence[str] | None = None) -> None:
    install()
    moto_main(list(argv) if argv is not None else None)


if __name__ == "__main__":
    main()
