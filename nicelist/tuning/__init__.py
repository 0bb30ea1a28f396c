"""Tuning a stage's drain during a peak: the writers' concurrency, the write budget and batching.

``model`` holds the values and the rules (shared with ``nicelist doctor``), ``order`` the safe order
of the changes, ``aws`` the deployed stage's backend (``nicelist.local.tune`` is the local one), and
``command`` the ``nicelist tune`` command that drives either through the same code (docs/tuning.md);
``autoscale`` decides changes of C for ``nicelist tune --auto`` and ``autoscale_run`` applies them."""
