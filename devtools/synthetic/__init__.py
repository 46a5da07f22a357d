"""Offline data generator: a synthetic CIFAR-100 archive and synthetic courier photos."""

from devtools.synthetic.archive import ARCHIVE_NAME, write_cifar_archive
from devtools.synthetic.photos import COURIER_CLASSES, LABELS_FILE, write_courier_photos
from devtools.synthetic.scenes import DRIFTS, UnknownDriftError

__all__ = [
    "ARCHIVE_NAME",
    "COURIER_CLASSES",
    "DRIFTS",
    "LABELS_FILE",
    "UnknownDriftError",
    "write_cifar_archive",
    "write_courier_photos",
]
