"""Offline data generator: a synthetic CIFAR-100 archive and synthetic courier photos."""

from devtools.synthetic.archive import ARCHIVE_NAME, write_cifar_archive
from devtools.synthetic.drifts import CAPTURE_DRIFTS, DRIFTS, SCENE_DRIFTS, SEVERITY, UnknownDriftError
from devtools.synthetic.photos import COURIER_CLASSES, LABELS_FILE, write_courier_photos

__all__ = [
    "ARCHIVE_NAME",
    "CAPTURE_DRIFTS",
    "COURIER_CLASSES",
    "DRIFTS",
    "LABELS_FILE",
    "SCENE_DRIFTS",
    "SEVERITY",
    "UnknownDriftError",
    "write_cifar_archive",
    "write_courier_photos",
]
