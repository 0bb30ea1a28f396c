"""`python -m nicelist`: the operator CLI."""

from nicelist.cli import main

main()
