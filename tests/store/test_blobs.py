"""The content-addressed blob store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from salon.store.blobs import BlobStore


def test_put_get_is_content_addressed_and_idempotent(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    sha = store.put(b"hello")
    assert sha == hashlib.sha256(b"hello").hexdigest()
    assert store.put(b"hello") == sha
    assert store.get(sha) == b"hello"
    assert store.path_for(sha).is_relative_to(tmp_path)
    assert not list(store.path_for(sha).parent.glob(".tmp-*"))
    store.delete(sha)
    assert not store.exists(sha)
    store.delete(sha)  # deleting twice is fine


@pytest.mark.parametrize("bad", ["../../etc/passwd", "A" * 64, "abc", "g" * 64])
def test_only_hex_digests_name_files(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        BlobStore(tmp_path).path_for(bad)
