"""What producers and the writer share, and nothing else: the update and envelope contract, the
stage's resource names, the table's key scheme. It depends on pydantic only; ``producers/`` and
``writer/`` stand on it side by side, the operations package ``nicelist/`` on top of all three
(docs/design.md, "Layout")."""
