"""The live dashboard of the local stack (README, "See it: the dashboard"): a web page served by
``nicelist up`` and ``nicelist demo`` that shows the backlog, the table's write rate against its
capacity, the writers, the alarms and a map of the children's newest positions, updated every second.

``serve`` runs it beside a ``LocalStack``; ``collector`` reads the stack (one code path with
``nicelist status``); ``server`` serves the page and ``/api/state``; ``positions`` chooses and reads
the children on the map; ``feeds`` tracks which sources still answer. The CloudWatch dashboard of a
deployed stage is ``nicelist.cw_dashboard``.
"""
