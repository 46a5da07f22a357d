"""The local S3 endpoint, driven by real boto3 clients and raw HTTP."""

from __future__ import annotations

import http.client
import os
import socket
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.lambdas.local_aws import BUCKET, LocalS3


def raw_request(
    url: str, method: str, path: str, body: Any = b"", headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_endpoint_env_var_alone_gives_path_style_s3_for_an_ip_endpoint(local_s3: LocalS3) -> None:
    client = boto3.client("s3")
    client.put_object(Bucket=BUCKET, Key="photos/a.png", Body=b"abc")
    assert client.meta.endpoint_url == local_s3.url
    assert (local_s3.root / BUCKET / "photos" / "a.png").read_bytes() == b"abc"


@pytest.mark.parametrize("key", ["incoming/photos/my bike (1).png", "incoming/photos/vélo-摩托车+x.jpg"])
def test_put_get_head_round_trip_keys_with_spaces_and_unicode(local_s3: LocalS3, key: str) -> None:
    client = local_s3.client()
    client.put_object(Bucket=BUCKET, Key=key, Body=b"photo bytes")
    assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"photo bytes"
    assert client.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == len(b"photo bytes")
    assert (local_s3.root / BUCKET / key).read_bytes() == b"photo bytes"


def test_put_leaves_no_temporary_files(local_s3: LocalS3) -> None:
    local_s3.put("a/b.bin", os.urandom(2_000_000))
    assert sorted(p.name for p in (local_s3.root / BUCKET / "a").iterdir()) == ["b.bin"]


def test_aws_chunked_upload_stores_only_the_payload(local_s3: LocalS3) -> None:
    body = (b"5;chunk-signature=abc\r\nhello\r\n6;chunk-signature=def\r\n world\r\n"
            b"0\r\nx-amz-checksum-crc32:AAAA\r\n\r\n")
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "11"}
    status, _ = raw_request(local_s3.url, "PUT", f"/{BUCKET}/chunked.txt", body, headers)
    assert status == 200
    assert (local_s3.root / BUCKET / "chunked.txt").read_bytes() == b"hello world"


def test_transfer_encoded_upload_is_stored_whole(local_s3: LocalS3) -> None:
    status, _ = raw_request(local_s3.url, "PUT", f"/{BUCKET}/streamed.txt", iter([b"stream", b"ed"]))
    assert status == 200
    assert (local_s3.root / BUCKET / "streamed.txt").read_bytes() == b"streamed"


def test_ranged_get_returns_the_requested_bytes(local_s3: LocalS3) -> None:
    local_s3.put("r.bin", bytes(range(100)))
    response = local_s3.client().get_object(Bucket=BUCKET, Key="r.bin", Range="bytes=10-19")
    assert response["Body"].read() == bytes(range(10, 20))
    assert response["ContentRange"] == "bytes 10-19/100"


def test_missing_key_is_no_such_key(local_s3: LocalS3) -> None:
    with pytest.raises(local_s3.client().exceptions.NoSuchKey):
        local_s3.client().get_object(Bucket=BUCKET, Key="absent.png")


def test_head_of_missing_key_is_404(local_s3: LocalS3) -> None:
    with pytest.raises(ClientError) as caught:
        local_s3.client().head_object(Bucket=BUCKET, Key="absent.png")
    assert caught.value.response["Error"]["Code"] == "404"


def test_delete_removes_the_object(local_s3: LocalS3) -> None:
    local_s3.put("gone.txt", b"x")
    local_s3.client().delete_object(Bucket=BUCKET, Key="gone.txt")
    assert not (local_s3.root / BUCKET / "gone.txt").exists()


def test_list_with_prefix_and_delimiter_groups_folders(local_s3: LocalS3) -> None:
    for key in ("p/a.txt", "p/sub/b.txt", "p/sub/c.txt", "p/z é.txt", "q/x.txt"):
        local_s3.put(key, b"1")
    page = local_s3.client().list_objects_v2(Bucket=BUCKET, Prefix="p/", Delimiter="/")
    assert [item["Key"] for item in page["Contents"]] == ["p/a.txt", "p/z é.txt"]
    assert [item["Prefix"] for item in page["CommonPrefixes"]] == ["p/sub/"]
    assert page["KeyCount"] == 3


def test_list_paginates_with_continuation_tokens(local_s3: LocalS3) -> None:
    keys = [f"many/{index:03d} ü.txt" for index in range(7)]
    for key in keys:
        local_s3.put(key, b"1")
    paginator = local_s3.client().get_paginator("list_objects_v2")
    pages = list(paginator.paginate(Bucket=BUCKET, Prefix="many/", PaginationConfig={"PageSize": 3}))
    assert [len(page["Contents"]) for page in pages] == [3, 3, 1]
    assert [item["Key"] for page in pages for item in page["Contents"]] == keys


def test_list_pages_never_repeat_a_common_prefix(local_s3: LocalS3) -> None:
    for key in ("d/a/1", "d/a/2", "d/a/3", "d/b/1", "d/c"):
        local_s3.put(key, b"1")
    paginator = local_s3.client().get_paginator("list_objects_v2")
    pages = list(paginator.paginate(Bucket=BUCKET, Prefix="d/", Delimiter="/", PaginationConfig={"PageSize": 1}))
    listed = [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])]
    listed += [item["Key"] for page in pages for item in page.get("Contents", [])]
    assert sorted(listed) == ["d/a/", "d/b/", "d/c"]


def test_list_reports_size_and_md5_etag(local_s3: LocalS3) -> None:
    local_s3.put("e.txt", b"hello")
    (item,) = local_s3.client().list_objects_v2(Bucket=BUCKET, Prefix="e.txt")["Contents"]
    assert (item["Size"], item["ETag"]) == (5, '"5d41402abc4b2a76b9719d911017c592"')


@pytest.mark.parametrize(
    "path",
    [f"/{BUCKET}/%2E%2E/%2E%2E/etc/passwd", f"/{BUCKET}/a/../../outside.txt", f"/{BUCKET}//etc/passwd", "/../x"],
)
def test_keys_leaving_the_data_root_are_refused_with_400(local_s3: LocalS3, path: str) -> None:
    status, body = raw_request(local_s3.url, "PUT", path, b"x")
    assert status == 400
    assert b"<Code>Invalid" in body
    assert not (local_s3.root.parent / "outside.txt").exists()


def test_symlink_escaping_the_data_root_is_refused(local_s3: LocalS3, tmp_path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (local_s3.root / BUCKET / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ClientError) as caught:
        local_s3.client().get_object(Bucket=BUCKET, Key="link/secret.txt")
    assert caught.value.response["Error"]["Code"] == "InvalidArgument"
    listed = local_s3.client().list_objects_v2(Bucket=BUCKET, Prefix="link/")
    assert "Contents" not in listed


def test_other_operations_are_not_implemented(local_s3: LocalS3) -> None:
    local_s3.put("src.txt", b"x")
    with pytest.raises(ClientError) as caught:
        local_s3.client().copy_object(Bucket=BUCKET, Key="dst.txt", CopySource={"Bucket": BUCKET, "Key": "src.txt"})
    assert caught.value.response["Error"]["Code"] == "NotImplemented"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_stop_releases_the_port(tmp_path) -> None:
    from include.runtime.local.s3_server import start_s3_server, stop_s3_server

    server, thread, url = start_s3_server(tmp_path)
    stop_s3_server(server, thread)
    assert not thread.is_alive()
    with pytest.raises(OSError):
        raw_request(url, "GET", f"/{BUCKET}?list-type=2")


def test_connections_are_served_with_nagle_off(local_s3: LocalS3, monkeypatch: pytest.MonkeyPatch) -> None:
    from include.runtime.local.s3_server import S3RequestHandler

    seen: list[int] = []
    original_setup = S3RequestHandler.setup

    def recording_setup(handler: S3RequestHandler) -> None:
        original_setup(handler)
        seen.append(handler.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    monkeypatch.setattr(S3RequestHandler, "setup", recording_setup)
    local_s3.put("photos/nodelay.png", b"abc")
    assert seen and all(seen)
