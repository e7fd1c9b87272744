"""``salon`` and ``python -m salon``: the command line of ``salon.cli``, and ``salon serve`` with
plain options without it (``salon.serving``: the command-line library and the other commands
are a tenth of the start)."""

import gc
import sys
from collections.abc import Callable


def main() -> None:
    """Load the command with the collector paused, then run it. Its modules make over 100,000
    objects that live as long as the process and almost no garbage: collections while they
    load only rescanned them (an eighth of the loading time). They are frozen, out of later
    collections' way, before the command runs."""
    gc.disable()
    try:
        run_command = load_command(sys.argv[1:])
    finally:
        gc.freeze()
        gc.enable()
    run_command()


def load_command(args: list[str]) -> Callable[[], None]:
    """What runs the command ``args`` name: ``salon serve`` itself when its options are plain,
    otherwise the full command line, which also explains every mistake."""
    if args[:1] == ["serve"]:
        from salon import serving

        options = serving.parse_plain_options(args[1:])
        if options is not None:
            return lambda: serving.serve_plain(options)
    from salon.cli import main as run_cli

    return run_cli


if __name__ == "__main__":
    main()
