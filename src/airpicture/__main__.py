"""`python -m airpicture` is the same as the `airpicture` command."""

from .cli import main

main()
