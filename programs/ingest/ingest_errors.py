"""Errors of the ingest program. Fatal ones stop the job; a rejected photo is only quarantined."""

from __future__ import annotations


class IngestError(Exception):
    """A fatal ingest problem; the message names the thing at fault and the fix."""


class ArchiveMissingError(IngestError):
    """The CIFAR archive is not where the job expects it."""


class ArchiveChecksumError(IngestError):
    """The archive's MD5 differs from the expected one."""


class UnsafeArchiveError(IngestError):
    """The tar holds links, devices, unexpected folders or paths that leave its top folder."""


class UnsafePickleError(IngestError):
    """A pickle in the archive names a global other than numpy's array reconstruction."""


class CorruptArchiveError(IngestError):
    """The archive cannot be read, or its batches do not have CIFAR-100's shapes and labels."""


class OutputDirError(IngestError):
    """The output folder holds files that this program did not write."""


class PhotoRejected(Exception):
    """A labelled photo that goes to quarantine; ``reason`` says why and what to do."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
