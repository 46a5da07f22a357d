from pathlib import Path

import pytest

from include.runtime.local.store import LocalObjectStore
from include.storage import DataRootEscapeError, ObjectNotFoundError, download_prefix, publish_prefix, upload_directory


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "root")


def test_uri_maps_to_bucket_and_key_under_root(store: LocalObjectStore):
    store.put_bytes("s3://bucket/a/b.txt", b"hi")
    assert (store.root / "bucket" / "a" / "b.txt").read_bytes() == b"hi"
    assert store.get_bytes("s3://bucket/a/b.txt") == b"hi"


@pytest.mark.parametrize("uri", ["s3://bucket/../outside.txt", "s3://bucket/a/../../../etc/passwd",
                                 "s3://../x", "s3://bucket//etc/passwd"])
def test_keys_that_leave_the_data_root_are_refused(store: LocalObjectStore, uri: str):
    with pytest.raises(DataRootEscapeError, match="DATA_ROOT escape refused"):
        store.put_bytes(uri, b"x")
    assert not (store.root.parent / "outside.txt").exists()


def test_symlink_escape_is_refused(store: LocalObjectStore, tmp_path: Path):
    (store.root / "bucket").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    (store.root / "bucket" / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(DataRootEscapeError):
        store.put_bytes("s3://bucket/link/x", b"x")


def test_list_uses_s3_prefix_semantics(store: LocalObjectStore):
    for key in ["d/2026-01-01/a", "d/2026-01-02/b", "d/2026-01-010/c", "e/x"]:
        store.put_bytes(f"s3://bucket/{key}", b"1")
    listed = [o.uri for o in store.list("s3://bucket/d/2026-01-01")]
    assert listed == ["s3://bucket/d/2026-01-01/a", "s3://bucket/d/2026-01-010/c"]
    assert [o.uri for o in store.list("s3://bucket/d/2026-01-01/")] == ["s3://bucket/d/2026-01-01/a"]


def test_missing_object_raises_named_error(store: LocalObjectStore):
    with pytest.raises(ObjectNotFoundError, match="no object at s3://bucket/nope"):
        store.get_bytes("s3://bucket/nope")


def test_download_and_upload_keep_relative_paths(store: LocalObjectStore, tmp_path: Path):
    store.put_bytes("s3://bucket/in/x/1.txt", b"1")
    store.put_bytes("s3://bucket/in/2.txt", b"2")
    files = download_prefix(store, "s3://bucket/in/", tmp_path / "local")
    assert sorted(p.relative_to(tmp_path / "local").as_posix() for p in files) == ["2.txt", "x/1.txt"]
    uris = upload_directory(store, tmp_path / "local", "s3://bucket/out/")
    assert uris == ["s3://bucket/out/2.txt", "s3://bucket/out/x/1.txt"]


def test_publish_replaces_final_prefix_and_removes_staging(store: LocalObjectStore):
    store.put_bytes("s3://b/final/old.png", b"old")
    store.put_bytes("s3://b/final/keep.png", b"v1")
    store.put_bytes("s3://b/stage/keep.png", b"v2")
    store.put_bytes("s3://b/stage/manifest.json", b"{}")
    publish_prefix(store, "s3://b/stage/", "s3://b/final/", "manifest.json")
    assert sorted(o.uri for o in store.list("s3://b/final/")) == ["s3://b/final/keep.png",
                                                                  "s3://b/final/manifest.json"]
    assert store.get_bytes("s3://b/final/keep.png") == b"v2"
    assert store.list("s3://b/stage/") == []


def test_publish_without_commit_marker_changes_nothing(store: LocalObjectStore):
    store.put_bytes("s3://b/final/good.png", b"good")
    store.put_bytes("s3://b/stage/half.png", b"half")
    with pytest.raises(ObjectNotFoundError, match="nothing to publish"):
        publish_prefix(store, "s3://b/stage/", "s3://b/final/", "manifest.json")
    assert [o.uri for o in store.list("s3://b/final/")] == ["s3://b/final/good.png"]
