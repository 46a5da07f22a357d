"""Fixtures for the data tests: the flat ingest sources on sys.path, a small synthetic archive."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from PIL import Image

INGEST_DIR = Path(__file__).resolve().parents[2] / "programs" / "ingest"
if str(INGEST_DIR) not in sys.path:
    sys.path.insert(0, str(INGEST_DIR))

from devtools.synthetic import ARCHIVE_NAME, write_cifar_archive  # noqa: E402

TRAIN_PER_CLASS = 40
TEST_PER_CLASS = 10


@pytest.fixture(scope="session")
def small_archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A synthetic archive with 40 train and 10 test images per class, and its MD5."""
    path = tmp_path_factory.mktemp("archive") / ARCHIVE_NAME
    md5 = write_cifar_archive(path, seed=3, train_per_class=TRAIN_PER_CLASS, test_per_class=TEST_PER_CLASS)
    return path, md5


@pytest.fixture
def archive_dir(tmp_path: Path, small_archive: tuple[Path, str]) -> Path:
    folder = tmp_path / "cifar"
    folder.mkdir()
    shutil.copyfile(small_archive[0], folder / ARCHIVE_NAME)
    return folder


@pytest.fixture
def run_ingest(archive_dir: Path, small_archive: tuple[Path, str], tmp_path: Path):
    """Call ``ingest.main`` like the Processing job does; return its exit code."""
    import ingest

    def run(output_dir: Path, labelled_dir: Path | None = None, *extra: str, md5: str | None = None,
            archive: Path | None = None) -> int:
        argv = ["--archive-dir", str(archive or archive_dir), "--archive-md5", md5 or small_archive[1],
                "--labelled-dir", str(labelled_dir or tmp_path / "no-labelled"),
                "--output-dir", str(output_dir),
                "--run-key", "2024-05-01", *extra]
        return ingest.main(argv)

    return run


def _make_photo(path: Path, size: tuple[int, int], fmt: str, colour: tuple[int, ...] = (200, 30, 30),
               mode: str = "RGB") -> Path:
    """A plain photo of ``size`` saved as ``fmt`` (JPEG or PNG)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path, format=fmt)
    return path


@pytest.fixture
def labelled_photos(tmp_path: Path) -> Path:
    """A labelled folder with odd-sized JPEG and PNG photos of both classes."""
    root = tmp_path / "labelled"
    _make_photo(root / "bicycle" / "tall.jpg", (97, 301), "JPEG")
    _make_photo(root / "bicycle" / "wide.png", (640, 33), "PNG", (10, 200, 10, 128), "RGBA")
    _make_photo(root / "motorcycle" / "square.jpeg", (400, 400), "JPEG", (20, 20, 220))
    _make_photo(root / "motorcycle" / "small.png", (40, 50), "PNG", (90, 90, 90))
    return root


@pytest.fixture
def per_class() -> dict[str, int]:
    """Images per class in the small archive's train and test batches."""
    return {"train": TRAIN_PER_CLASS, "test": TEST_PER_CLASS}


@pytest.fixture
def make_photo():
    """``make_photo(path, size, fmt, colour=..., mode=...)`` writes a plain photo."""
    return _make_photo
