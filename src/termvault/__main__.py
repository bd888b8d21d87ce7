"""``python -m termvault``: the same as the ``termvault`` command."""

from termvault.cli import main

if __name__ == "__main__":
    main()
