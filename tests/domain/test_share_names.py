"""Names of the files in a share's ZIP: bare, distinct (case-insensitively), in order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salon.domain.files import safe_filename, unique_names


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ([], []),
        (["a.txt"], ["a.txt"]),
        (["a.txt", "b.txt"], ["a.txt", "b.txt"]),
        (["a.txt", "a.txt", "a.txt"], ["a.txt", "a (2).txt", "a (3).txt"]),
        (["dir/a.txt", "other/dir/a.txt", "C:\\x\\a.txt", "../../a.txt"],
         ["a.txt", "a (2).txt", "a (3).txt", "a (4).txt"]),
        (["../../etc/passwd"], ["passwd"]),
        (["Report.PDF", "report.pdf", "REPORT.pdf"],
         ["Report.PDF", "report (2).pdf", "REPORT (3).pdf"]),
        (["README", "readme", "README"], ["README", "readme (2)", "README (3)"]),
        (["Makefile", "Makefile.txt", "Makefile"], ["Makefile", "Makefile.txt", "Makefile (2)"]),
        (["a.txt", "b.txt", "a.txt", "b.txt"], ["a.txt", "b.txt", "a (2).txt", "b (2).txt"]),
        (["photo.jpg", "photo.png", "photo.jpg"], ["photo.jpg", "photo.png", "photo (2).jpg"]),
        (["", "", "/"], ["file", "file (2)", "file (3)"]),
    ],
)
def test_unique_names(names: list[str], expected: list[str]) -> None:
    assert unique_names(names) == expected


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        # a name made by an earlier rename is taken too, in either order
        (["a.txt", "a.txt", "a (2).txt"], ["a.txt", "a (2).txt", "a (2) (2).txt"]),
        (["a (2).txt", "a.txt", "a.txt"], ["a (2).txt", "a.txt", "a (3).txt"]),
        (["A (2).TXT", "a.txt", "a.txt"], ["A (2).TXT", "a.txt", "a (3).txt"]),
    ],
)
def test_renamed_names_never_clash_with_given_ones(names: list[str], expected: list[str]) -> None:
    assert unique_names(names) == expected


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        # a dotfile's leading dot goes (no hidden files in an archive), and its counter never
        # lands before a leading dot (" (2).env")
        ([".env", ".env"], ["env", "env (2)"]),
        ([".env", "env", "x/.env"], ["env", "env (2)", "env (3)"]),
        ([".bashrc", "home/.bashrc"], ["bashrc", "bashrc (2)"]),
        ([".config.json", ".config.json"], ["config.json", "config (2).json"]),
    ],
)
def test_dotfiles(names: list[str], expected: list[str]) -> None:
    result = unique_names(names)
    assert result == expected
    assert not any(name.startswith((".", " (")) for name in result)


def test_deduplicated_names_keep_the_255_character_limit() -> None:
    long_name = "a" * 251 + ".txt"
    names = unique_names([long_name, long_name, "b" * 300])
    assert all(len(name) <= 255 for name in names)
    assert len({name.lower() for name in names}) == 3
    assert names[1].endswith(".txt")


file_names = st.one_of(
    st.sampled_from(["a.txt", "A.TXT", "a (2).txt", "README", ".env", "dir/a.txt", "x\\a.txt",
                     "", "..", "photo.jpg", "a.tar.gz"]),
    st.text(max_size=30),
)


@given(st.lists(file_names, max_size=25))
def test_names_are_bare_distinct_and_keep_their_order(names: list[str]) -> None:
    result = unique_names(names)
    assert len(result) == len(names)
    assert len({name.lower() for name in result}) == len(result)
    for raw, name in zip(names, result, strict=True):
        assert "/" not in name and "\\" not in name and name and not name.startswith(".")
        bare = safe_filename(raw)
        stem = bare.rpartition(".")[0] or bare
        assert name == bare or name.startswith(stem + " (")


@given(st.lists(file_names, max_size=25))
def test_names_that_do_not_clash_are_kept_as_they_are(names: list[str]) -> None:
    bare = [safe_filename(name) for name in names]
    if len({name.lower() for name in bare}) == len(bare):
        assert unique_names(names) == bare
