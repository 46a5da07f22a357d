"""The ``aws`` runtime's object links: the S3 console's page of an object.

The console asks the person to sign in to the account and checks their own IAM permissions, so a link
reveals nothing to someone who may not read the bucket. Its "Open" button shows an HTML object in the
browser; files that page refers to relatively (a report's plots) are opened one by one from the
console's listing of the same folder.
"""

from __future__ import annotations

from urllib.parse import quote

from include.settings import Settings
from include.storage import S3Uri

CONSOLE = "https://console.aws.amazon.com/s3/object"


class S3ConsoleLinks:
    """:class:`~include.runtime.capabilities.ObjectLinks` to the S3 console."""

    def __init__(self, settings: Settings) -> None:
        self.region = settings.region

    def object_url(self, uri: str) -> str:
        location = S3Uri.parse(uri)
        return (f"{CONSOLE}/{quote(location.bucket, safe='')}?region={quote(self.region, safe='')}"
                f"&bucketType=general&prefix={quote(location.key, safe='')}")
