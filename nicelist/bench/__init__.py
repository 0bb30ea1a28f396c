"""``nicelist bench``: nicelist against the naive baseline, side by side, on one workload and backend.

``workload`` (what both ways get), ``counting`` (requests and units counted by botocore hooks),
``consumers`` (the writer and a one-put-per-update consumer, in-process against moto), ``producers``
(SQS requests per 1,000 updates, and the API's CPU against an SQS that answers at once),
``endtoend`` and ``load`` (through the local stack, with the meter), ``run`` (the order of it all),
``report`` (the table and the bill, priced by ``nicelist.cost``), ``command`` (the CLI).
"""
