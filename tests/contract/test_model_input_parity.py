"""Ingest and serving turn the same photo into the same model input, each from the code it is shipped with.

The ingest job's code (uploaded by ``code_bundle.upload_program``) and the training source archive (whose
files ``train.py`` packs into model.tar.gz's ``code/``) are unpacked into separate folders and run in separate
processes: ingest writes the 32x32 PNG a training job reads, serving decodes the original photo, and the
two images must be equal pixel for pixel.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from include.code_bundle import PROGRAM_DIRS, PROGRAMS_ROOT, source_tarball, upload_program
from include.runtime.local.store import LocalObjectStore
from tests.support import hostile_photos

SHARED_MODULE = PROGRAMS_ROOT / "shared" / "photo_square.py"
PHOTOS = {
    "striped-97x61.png": hostile_photos.striped_png(97, 61),
    "thin-300x6000.png": hostile_photos.striped_png(300, 6000),
    "small-20x20.png": hostile_photos.striped_png(20, 20),
    "grey16.png": hostile_photos.sixteen_bit_png(50, 70, 40000),
    "rgb16.png": hostile_photos.sixteen_bit_png(64, 48, 12345, colour_type=2),
    "palette-transparent.png": hostile_photos.transparent_palette_png(),
    "clear-rgba.png": hostile_photos.clear_rgba_png(),
    "grey-alpha.png": hostile_photos.half_clear_grey_alpha_png(),
    "rotated.jpg": hostile_photos.rotated_jpeg(),
}
INGEST = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from photo_resize import decode_photo, encode_png
folder = Path(sys.argv[2])
for name in json.loads(sys.argv[3]):
    image, _ = decode_photo((folder / name).read_bytes(), max_pixels=40_000_000)
    (folder / (name + ".ingested.png")).write_bytes(encode_png(image))
"""
SERVE = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from preprocessing import decode_image
folder = Path(sys.argv[2])
for name in json.loads(sys.argv[3]):
    served = decode_image((folder / name).read_bytes()).tobytes()
    trained = decode_image((folder / (name + ".ingested.png")).read_bytes(), source=name).tobytes()
    differing = sum(a != b for a, b in zip(served, trained))
    print(json.dumps({"photo": name, "equal": served == trained, "differing": differing}))
"""


def run_isolated(script: str, code_dir: Path, photos: Path) -> str:
    command = [sys.executable, "-I", "-c", script, str(code_dir), str(photos), json.dumps(sorted(PHOTOS))]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture
def shipped_ingest(settings, tmp_path: Path) -> Path:
    store = LocalObjectStore(settings.data_root)
    prefix = upload_program(settings, store, "ingest")
    code_dir = tmp_path / "ingest-code"
    for name in [path.name for path in PROGRAM_DIRS["ingest"].glob("*.py")]:
        store.download_file(prefix + name, code_dir / name)
    return code_dir


@pytest.fixture
def shipped_model(tmp_path: Path) -> Path:
    code_dir = tmp_path / "model-code"
    with tarfile.open(fileobj=io.BytesIO(source_tarball(PROGRAM_DIRS["model"]))) as archive:
        archive.extractall(code_dir, filter="data")
    return code_dir


def test_both_programs_ship_the_shared_module_as_a_file_of_their_own(shipped_ingest: Path, shipped_model: Path):
    for code_dir in (shipped_ingest, shipped_model):
        shipped = code_dir / "photo_square.py"
        assert not shipped.is_symlink() and shipped.read_bytes() == SHARED_MODULE.read_bytes()


def test_program_folders_link_to_the_one_shared_file():
    for program in ("ingest", "model"):
        assert (PROGRAM_DIRS[program] / "photo_square.py").resolve() == SHARED_MODULE.resolve()


def test_ingested_training_image_equals_the_served_model_input(shipped_ingest: Path, shipped_model: Path,
                                                               tmp_path: Path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name, data in PHOTOS.items():
        (photos / name).write_bytes(data)
    run_isolated(INGEST, shipped_ingest, photos)
    results = [json.loads(line) for line in run_isolated(SERVE, shipped_model, photos).splitlines()]
    assert [r["photo"] for r in results] == sorted(PHOTOS)
    assert [r for r in results if not r["equal"]] == []
