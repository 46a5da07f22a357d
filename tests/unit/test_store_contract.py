"""The object store's contract, held by both implementations: S3 on disk, and S3 itself (under moto).

Callers are written against the protocol, so both stores raise its errors and honour its conditional
writes the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from include.runtime.aws.store import S3ObjectStore
from include.runtime.local.store import LocalObjectStore
from include.storage import ObjectNotFoundError, ObjectStore

BUCKET = "scones-contract"
URI = f"s3://{BUCKET}/monitoring/claims/20260301T1000.json"


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield LocalObjectStore(tmp_path / "root")
        return
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield S3ObjectStore(client)


def test_missing_objects_raise_the_protocols_error(store: ObjectStore, tmp_path: Path):
    with pytest.raises(ObjectNotFoundError):
        store.get_bytes(URI)
    with pytest.raises(ObjectNotFoundError):
        store.download_file(URI, tmp_path / "copy.json")
    with pytest.raises(ObjectNotFoundError):
        store.get_with_version(URI)
    assert store.exists(URI) is False


def test_put_if_absent_creates_once(store: ObjectStore):
    assert store.put_if_absent(URI, b"first") is True
    assert store.put_if_absent(URI, b"second") is False
    assert store.get_bytes(URI) == b"first"


def test_concurrent_creators_have_exactly_one_winner(store: ObjectStore):
    outcomes: list[bool] = []
    barrier = threading.Barrier(8)

    def claim(index: int) -> None:
        barrier.wait(timeout=10)
        outcomes.append(store.put_if_absent(URI, f"claim {index}".encode()))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == [False] * 7 + [True]
    assert store.get_bytes(URI).startswith(b"claim ")


def test_put_if_version_replaces_only_an_unchanged_object(store: ObjectStore):
    store.put_bytes(URI, b"v1")
    data, version = store.get_with_version(URI)
    assert data == b"v1"
    assert store.put_if_version(URI, b"v2", version) is True
    assert store.put_if_version(URI, b"v3", version) is False, "a stale version must lose"
    assert store.get_bytes(URI) == b"v2"
    _, current = store.get_with_version(URI)
    assert current != version


def test_put_if_version_of_a_missing_object_fails(store: ObjectStore):
    assert store.put_if_version(URI, b"x", "0" * 32) is False
    assert store.exists(URI) is False


def test_objects_round_trip_and_list_with_s3_prefix_semantics(store: ObjectStore, tmp_path: Path):
    base = f"s3://{BUCKET}/d/"
    for key in ("2026-01-01/a", "2026-01-02/b", "2026-01-010/c"):
        store.put_bytes(base + key, key.encode())
    assert store.get_bytes(base + "2026-01-02/b") == b"2026-01-02/b"
    assert [o.uri for o in store.list(base + "2026-01-01")] == [base + "2026-01-01/a", base + "2026-01-010/c"]
    assert [(o.uri, o.size) for o in store.list(base + "2026-01-01/")] == [(base + "2026-01-01/a", 12)]
    assert store.exists(base + "2026-01-01/a") and not store.exists(base + "2026-01-01/")


def test_files_upload_download_and_delete(store: ObjectStore, tmp_path: Path):
    source = tmp_path / "in.bin"
    source.write_bytes(b"\x00photo")
    store.upload_file(source, URI)
    store.download_file(URI, tmp_path / "deep" / "out.bin")
    assert (tmp_path / "deep" / "out.bin").read_bytes() == b"\x00photo"
    store.delete(URI)
    assert store.exists(URI) is False
    store.delete(URI)  # deleting what is gone is not an error, as on S3
