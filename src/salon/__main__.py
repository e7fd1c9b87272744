"""``python -m salon``: the same as the ``salon`` command."""

from salon.cli import main

if __name__ == "__main__":
    main()
