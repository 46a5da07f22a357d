"""A minimal S3-compatible HTTP endpoint over "S3 on disk": ``s3://BUCKET/KEY`` is ``DATA_ROOT/BUCKET/KEY``.

Path-style requests only (boto3 uses path style for an ``http://127.0.0.1:PORT`` endpoint). Served:
GetObject (with ``Range``), PutObject (written aside, then renamed), HeadObject, DeleteObject and
ListObjectsV2 (prefix, delimiter, continuation token, start-after, max-keys, url encoding). Any other
request gets S3's ``NotImplemented`` error (501). A bucket or key that would resolve outside
``DATA_ROOT`` (``..``, absolute paths, symlinks leading out) gets 400 ``InvalidArgument`` before the
file system is touched. Requests are not authenticated: any SigV4 header is accepted.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import socket
import tempfile
import threading
from datetime import UTC, datetime
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.sax.saxutils import escape

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
TEMP_PREFIX = ".tmp-"
MAX_KEYS_LIMIT = 1000
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.\-_]{1,62}$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class S3Error(Exception):
    """An S3-style error response."""

    def __init__(self, status: int, code: str, message: str, resource: str = "") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.resource = status, code, message, resource


class S3Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, data_root: Path, port: int) -> None:
        self.data_root = Path(data_root).resolve()
        super().__init__(("127.0.0.1", port), S3RequestHandler)


def start_s3_server(data_root: str | Path, port: int = 0) -> tuple[S3Server, threading.Thread, str]:
    """Serve ``data_root`` on ``127.0.0.1:port`` (0 picks a free port); returns ``(server, thread, url)``."""
    root = Path(data_root)
    root.mkdir(parents=True, exist_ok=True)
    server = S3Server(root, port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.005}, daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{server.server_address[1]}"


def stop_s3_server(server: S3Server, thread: threading.Thread) -> None:
    """Stop serving and release the port, in about a millisecond.

    ``serve_forever`` notices a shutdown request only when its poll wakes; a connection wakes it at once,
    so one is made (and dropped) until the loop has stopped.
    """
    stopper = threading.Thread(target=server.shutdown, name="s3-endpoint-stop", daemon=True)
    stopper.start()
    while stopper.is_alive():
        with contextlib.suppress(OSError), socket.create_connection(server.server_address[:2], timeout=0.5):
            pass
        stopper.join(timeout=0.001)
    server.server_close()
    thread.join(timeout=5)


def object_path(data_root: Path, bucket: str, key: str) -> Path:
    """The file for ``s3://bucket/key``; raises 400 ``InvalidArgument`` if it would leave ``data_root``."""
    resource = f"/{bucket}/{key}"
    if not _BUCKET_NAME.match(bucket) or bucket in (".", ".."):
        raise S3Error(400, "InvalidBucketName", f"The specified bucket is not valid: {bucket!r}", resource)
    parts = key.split("/")
    if not key or key.startswith("/") or "\\" in key or "\x00" in key or any(p in (".", "..") for p in parts):
        raise S3Error(400, "InvalidArgument", f"Key {key!r} cannot be stored under the data root", resource)
    root = data_root.resolve()
    path = (root / bucket / key).resolve()
    if not path.is_relative_to(root / bucket):
        raise S3Error(400, "InvalidArgument", f"Key {key!r} resolves outside the data root", resource)
    return path


class S3RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, the body waits for the client's delayed
    # ACK (~40 ms per GetObject).
    disable_nagle_algorithm = True
    server: S3Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: requests are not logged."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        bucket, _, key = unquote(split.path).lstrip("/").partition("/")
        query = {name: values[0] for name, values in parse_qs(split.query, keep_blank_values=True).items()}
        resource = f"/{bucket}/{key}" if key else f"/{bucket}"
        try:
            body = self._read_body() if method in ("PUT", "POST") else b""
            if not bucket or _unsupported(method, key, query, self.headers):
                raise S3Error(
                    501, "NotImplemented",
                    f"{method} {split.path} is not implemented by the local S3 endpoint "
                    "(GetObject, PutObject, HeadObject, DeleteObject, ListObjectsV2 are)", resource,
                )
            if not key:
                self._list_objects(bucket, query)
            elif method in ("GET", "HEAD"):
                self._get_object(bucket, key, head=method == "HEAD")
            elif method == "PUT":
                self._put_object(bucket, key, body)
            else:
                self._delete_object(bucket, key)
        except S3Error as exc:
            self._send_error(exc, head=method == "HEAD")

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raw = self._read_transfer_chunks()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
        if "aws-chunked" in (self.headers.get("Content-Encoding") or ""):
            return _decode_aws_chunked(raw)
        return raw

    def _read_transfer_chunks(self) -> bytes:
        body = bytearray()
        while size := int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16):
            body += self.rfile.read(size)
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        return bytes(body)

    def _get_object(self, bucket: str, key: str, *, head: bool) -> None:
        path = object_path(self.server.data_root, bucket, key)
        if not path.is_file():
            raise S3Error(404, "NoSuchKey", "The specified key does not exist.", f"/{bucket}/{key}")
        data = path.read_bytes()
        headers = {"ETag": _etag(data), "Last-Modified": formatdate(path.stat().st_mtime, usegmt=True),
                   "Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
        status, span = HTTPStatus.OK, data
        requested = self.headers.get("Range")
        if requested and not head:
            start, end = _byte_range(requested, len(data), f"/{bucket}/{key}")
            status, span = HTTPStatus.PARTIAL_CONTENT, data[start : end + 1]
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        self._send(status, span, headers, head=head)

    def _put_object(self, bucket: str, key: str, body: bytes) -> None:
        path = object_path(self.server.data_root, bucket, key)
        if key.endswith("/") or path.is_dir():
            raise S3Error(400, "InvalidArgument", f"Key {key!r} names a folder, not an object",
                          f"/{bucket}/{key}")
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(body)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        self._send(HTTPStatus.OK, b"", {"ETag": _etag(body)})

    def _delete_object(self, bucket: str, key: str) -> None:
        path = object_path(self.server.data_root, bucket, key)
        if path.is_file():
            path.unlink()
        self._send(HTTPStatus.NO_CONTENT, b"", {})

    def _list_objects(self, bucket: str, query: dict[str, str]) -> None:
        bucket_root = object_path(self.server.data_root, bucket, "probe").parent
        if not bucket_root.is_dir():
            raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist", f"/{bucket}")
        try:
            max_keys = int(query.get("max-keys", MAX_KEYS_LIMIT))
        except ValueError:
            raise S3Error(400, "InvalidArgument", "max-keys must be an integer", f"/{bucket}") from None
        xml = list_objects_v2_xml(bucket, bucket_root, query, max(0, min(max_keys, MAX_KEYS_LIMIT)))
        self._send(HTTPStatus.OK, xml, {"Content-Type": "application/xml"})

    def _send_error(self, error: S3Error, *, head: bool) -> None:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{error.code}</Code><Message>{escape(error.message)}</Message>"
            f"<Resource>{escape(error.resource)}</Resource><RequestId>local</RequestId></Error>"
        ).encode()
        self._send(error.status, body, {"Content-Type": "application/xml"}, head=head)

    def _send(self, status: int, body: bytes, headers: dict[str, str], *, head: bool = False) -> None:
        self.send_response(status)
        for name, value in {**headers, "x-amz-request-id": "local", "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        if not head and body:
            self.wfile.write(body)


def _unsupported(method: str, key: str, query: dict[str, str], headers: Any) -> bool:
    if method == "POST" or (method == "PUT" and headers.get("x-amz-copy-source")):
        return True
    subresources = set(query) - {"x-id"}
    if key:
        return bool(subresources)
    return method != "GET" or query.get("list-type") != "2"


def _byte_range(header: str, size: int, resource: str) -> tuple[int, int]:
    match = _RANGE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        raise S3Error(501, "NotImplemented", f"Range {header!r} is not supported (use bytes=start-end)",
                      resource)
    first, last = match.groups()
    if not first:
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise S3Error(416, "InvalidRange", "The requested range is not satisfiable", resource)
    return start, end


def _decode_aws_chunked(raw: bytes) -> bytes:
    """The payload of an ``aws-chunked`` body (chunk signatures and trailers dropped)."""
    decoded, position = bytearray(), 0
    while position < len(raw):
        line_end = raw.index(b"\r\n", position)
        size = int(raw[position:line_end].split(b";", 1)[0], 16)
        if size == 0:
            break
        decoded += raw[line_end + 2 : line_end + 2 + size]
        position = line_end + 2 + size + 2
    return bytes(decoded)


def _etag(data: bytes) -> str:
    return f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'


def list_objects_v2_xml(bucket: str, bucket_root: Path, query: dict[str, str], max_keys: int) -> bytes:
    """A ListObjectsV2 response body for the objects under ``bucket_root``."""
    prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
    encode = query.get("encoding-type") == "url"
    token = query.get("continuation-token")
    marker_kind, marker = _decode_token(token) if token else ("K", query.get("start-after", ""))
    contents: list[tuple[str, Path]] = []
    common_prefixes: list[str] = []
    last_item, truncated = "", False
    for key, path in _keys_under(bucket_root, prefix):
        if _utf8(key) <= _utf8(marker) or (marker_kind == "P" and key.startswith(marker)):
            continue
        rest = key[len(prefix) :]
        common = ""
        if delimiter and delimiter in rest:
            common = prefix + rest[: rest.index(delimiter) + len(delimiter)]
        if common and common_prefixes and common_prefixes[-1] == common:
            continue
        if len(contents) + len(common_prefixes) >= max_keys:
            truncated = True
            break
        if common:
            common_prefixes.append(common)
            last_item = "P" + common
        else:
            contents.append((key, path))
            last_item = "K" + key
    parts = [f"<Name>{escape(bucket)}</Name>", f"<Prefix>{escape(_encoded(prefix, encode))}</Prefix>",
             f"<KeyCount>{len(contents) + len(common_prefixes)}</KeyCount>", f"<MaxKeys>{max_keys}</MaxKeys>",
             f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"]
    if delimiter:
        parts.append(f"<Delimiter>{escape(_encoded(delimiter, encode))}</Delimiter>")
    if encode:
        parts.append("<EncodingType>url</EncodingType>")
    if token:
        parts.append(f"<ContinuationToken>{escape(token)}</ContinuationToken>")
    if "start-after" in query:
        parts.append(f"<StartAfter>{escape(_encoded(query['start-after'], encode))}</StartAfter>")
    if truncated:
        parts.append(f"<NextContinuationToken>{_encode_token(last_item)}</NextContinuationToken>")
    for key, path in contents:
        stat = path.stat()
        parts.append(
            f"<Contents><Key>{escape(_encoded(key, encode))}</Key><LastModified>{_iso_time(stat.st_mtime)}"
            f"</LastModified><ETag>{escape(_etag(path.read_bytes()))}</ETag><Size>{stat.st_size}</Size>"
            "<StorageClass>STANDARD</StorageClass></Contents>"
        )
    for common in common_prefixes:
        parts.append(f"<CommonPrefixes><Prefix>{escape(_encoded(common, encode))}</Prefix></CommonPrefixes>")
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="{S3_NAMESPACE}">'
            + "".join(parts) + "</ListBucketResult>").encode("utf-8")


def _keys_under(bucket_root: Path, prefix: str) -> list[tuple[str, Path]]:
    """``(key, path)`` of every object whose key starts with ``prefix``, in S3's (UTF-8 byte) order."""
    start = bucket_root.joinpath(*prefix.split("/")[:-1]) if "/" in prefix else bucket_root
    if ".." in prefix.split("/") or not start.resolve().is_relative_to(bucket_root) or not start.is_dir():
        return []
    found = []
    for directory, _, files in os.walk(start):
        for name in files:
            path = Path(directory, name)
            if name.startswith(TEMP_PREFIX) or not path.resolve().is_relative_to(bucket_root):
                continue
            key = path.relative_to(bucket_root).as_posix()
            if key.startswith(prefix):
                found.append((key, path))
    return sorted(found, key=lambda item: _utf8(item[0]))


def _utf8(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")


def _encode_token(item: str) -> str:
    return base64.urlsafe_b64encode(item.encode("utf-8")).decode("ascii")


def _decode_token(token: str) -> tuple[str, str]:
    try:
        item = base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
    except (ValueError, UnicodeError):
        item = ""
    if item[:1] not in ("K", "P"):
        raise S3Error(400, "InvalidArgument", "The continuation token provided is incorrect")
    return item[0], item[1:]


def _encoded(value: str, encode: bool) -> str:
    return quote(value, safe="/") if encode else value


def _iso_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
