"""Ingest refuses tampered, truncated, unsafe or malformed archives before using them."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from ingest_errors import UnsafePickleError
from safe_unpickle import load_plain_data

from devtools.synthetic.archive import ARCHIVE_NAME, build_batch, build_meta, tar_gz_bytes
from devtools.synthetic.py2_pickle import dumps_like_python2


class _RunsShellCommand:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _archive_folder(tmp_path: Path, payload: bytes) -> tuple[Path, str]:
    folder = tmp_path / "tampered"
    folder.mkdir()
    (folder / ARCHIVE_NAME).write_bytes(payload)
    return folder, hashlib.md5(payload).hexdigest()


def _batches(train: bytes | None = None) -> dict[str, bytes]:
    return {"meta": dumps_like_python2(build_meta()),
            "test": dumps_like_python2(build_batch("test", 1, 0, None)),
            "train": train if train is not None else dumps_like_python2(build_batch("train", 1, 0, None))}


def test_md5_mismatch_stops_before_writing_anything(run_ingest, tmp_path: Path, capsys) -> None:
    assert run_ingest(tmp_path / "out", md5="0" * 32) == 1
    error = capsys.readouterr().err
    assert "ArchiveChecksumError" in error and "!= expected " + "0" * 32 in error and "re-download" in error
    assert not (tmp_path / "out").exists()


def test_truncated_archive_fails_its_checksum(run_ingest, small_archive, tmp_path: Path, capsys) -> None:
    folder, _ = _archive_folder(tmp_path, small_archive[0].read_bytes()[:50_000])
    assert run_ingest(tmp_path / "out", archive=folder) == 1
    assert "ArchiveChecksumError" in capsys.readouterr().err


def test_truncated_archive_with_matching_md5_is_corrupt(run_ingest, small_archive, tmp_path: Path,
                                                        capsys) -> None:
    folder, md5 = _archive_folder(tmp_path, small_archive[0].read_bytes()[:50_000])
    assert run_ingest(tmp_path / "out", archive=folder, md5=md5) == 1
    assert "CorruptArchiveError" in capsys.readouterr().err


def test_missing_archive_names_the_folder(run_ingest, tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert run_ingest(tmp_path / "out", archive=tmp_path / "empty") == 1
    expected = f"ArchiveMissingError: archive {tmp_path / 'empty' / ARCHIVE_NAME} not found"
    assert expected in capsys.readouterr().err


def test_malicious_pickle_is_refused_and_never_runs(run_ingest, tmp_path: Path, capsys) -> None:
    marker = tmp_path / "pwned"
    evil = pickle.dumps({b"data": _RunsShellCommand(marker)}, protocol=2)
    folder, md5 = _archive_folder(tmp_path, tar_gz_bytes(_batches(train=evil)))
    assert run_ingest(tmp_path / "out", archive=folder, md5=md5) == 1
    assert "UnsafePickleError" in capsys.readouterr().err
    assert not marker.exists()


def test_restricted_unpickler_names_the_refused_global(tmp_path: Path) -> None:
    with pytest.raises(UnsafePickleError, match=r"refers to (posix|os|nt)\.system"):
        load_plain_data(pickle.dumps(_RunsShellCommand(tmp_path / "x"), protocol=2), "test-source")


def test_restricted_unpickler_loads_numpy_arrays_from_python2_pickles() -> None:
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    loaded = load_plain_data(dumps_like_python2({b"data": array}), "test-source")
    assert np.array_equal(loaded[b"data"], array)


def test_member_escaping_the_top_folder_is_unsafe(run_ingest, tmp_path: Path, capsys) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        info = tarfile.TarInfo("cifar-100-python/../../evil")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    folder, md5 = _archive_folder(tmp_path, raw.getvalue())
    assert run_ingest(tmp_path / "out", archive=folder, md5=md5) == 1
    assert "UnsafeArchiveError" in capsys.readouterr().err


def test_symlink_member_is_unsafe(run_ingest, tmp_path: Path, capsys) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        info = tarfile.TarInfo("cifar-100-python/train")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    folder, md5 = _archive_folder(tmp_path, raw.getvalue())
    assert run_ingest(tmp_path / "out", archive=folder, md5=md5) == 1
    assert "UnsafeArchiveError" in capsys.readouterr().err


def test_batch_with_wrong_image_shape_is_corrupt(run_ingest, tmp_path: Path, capsys) -> None:
    batch = build_batch("train", 1, 0, None)
    batch[b"data"] = np.zeros((len(batch[b"fine_labels"]), 100), np.uint8)
    folder, md5 = _archive_folder(tmp_path, tar_gz_bytes(_batches(train=dumps_like_python2(batch))))
    assert run_ingest(tmp_path / "out", archive=folder, md5=md5) == 1
    assert "CorruptArchiveError" in capsys.readouterr().err


def test_label_out_of_range_is_corrupt(run_ingest, tmp_path: Path, capsys) -> None:
    batch = build_batch("train", 1, 0, None)
    batch[b"fine_labels"][0] = 100
    folder, md5 = _archive_folder(tmp_path, tar_gz_bytes(_batches(train=dumps_like_python2(batch))))
    assert run_ingest(tmp_path / "out", archive=folder, md5=md5) == 1
    assert "fine_labels holds values outside 0..99" in capsys.readouterr().err
