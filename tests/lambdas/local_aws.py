"""Handles on the local AWS stand-ins the Lambda tests use."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

BUCKET = "scones-test"


@dataclass
class LocalS3:
    url: str
    root: Path

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.url)

    def put(self, key: str, data: bytes, bucket: str = BUCKET) -> None:
        self.client().put_object(Bucket=bucket, Key=key, Body=data)


@dataclass
class SageMakerStub:
    """Answers ``POST /endpoints/{name}/invocations`` with ``status`` and ``body``; records each call.

    ``first_answers`` (``(status, error_type, body)`` each) are given, in order, before that.
    """

    url: str = ""
    status: int = 200
    body: bytes = b"[0.97, 0.03]"
    error_type: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)
    first_answers: list[tuple[int, str, bytes]] = field(default_factory=list)

    def next_answer(self) -> tuple[int, str, bytes]:
        return self.first_answers.pop(0) if self.first_answers else (self.status, self.error_type, self.body)
