"""``salon serve``'s own reading of its options (without the command-line library): plain
options are read as the command line reads them; anything else is left to the command line."""

from __future__ import annotations

import pytest

from salon.__main__ import load_command
from salon.cli import main as cli_main
from salon.serving import ServeOptions, parse_plain_options


@pytest.mark.parametrize(("args", "expected"), [
    ([], ServeOptions()),
    (["--port", "8080"], ServeOptions(port=8080)),
    (["--port=8080", "--host", "0.0.0.0"], ServeOptions(host="0.0.0.0", port=8080)),
    (["--host=::", "--workers", "64"], ServeOptions(host="::", workers=64)),
    (["--port", "65535", "--workers=1"], ServeOptions(port=65535)),
    (["--host", "a=b"], ServeOptions(host="a=b")),
])
def test_plain_options_are_read(args: list[str], expected: ServeOptions) -> None:
    assert parse_plain_options(args) == expected


@pytest.mark.parametrize("args", [
    ["--help"], ["--version"], ["--port"], ["--port", "0"], ["--port", "65536"],
    ["--port", "x"], ["--port", " 80"], ["--port", "+80"], ["--port", "8_0"],
    ["--workers", "0"], ["--workers", "65"], ["--port", "1", "--port", "2"],
    ["--host", "-x"], ["--host="], ["--host", ""], ["extra"], ["--", "--port", "80"],
    ["--hos", "x"], ["--HOST", "x"], ["--port", "80", "extra"],
])
def test_anything_else_is_left_to_the_command_line(args: list[str]) -> None:
    assert parse_plain_options(args) is None
    assert load_command(["serve", *args]) is cli_main


def test_other_commands_go_to_the_command_line() -> None:
    assert load_command(["user", "list"]) is cli_main
    assert load_command(["--version"]) is cli_main
    assert load_command([]) is cli_main
    assert load_command(["serve"]) is not cli_main
