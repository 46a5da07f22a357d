"""The synthetic CIFAR-100 archive: reproducible, and shaped exactly like the real one."""

from __future__ import annotations

import hashlib
import pickle
import pickletools
import tarfile
from pathlib import Path

import numpy as np
import pytest

from devtools.synthetic import UnknownDriftError, write_cifar_archive
from devtools.synthetic.__main__ import main as synthetic_cli
from devtools.synthetic.archive import _cifar_row
from devtools.synthetic.scenes import supersampled_thumbnail


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isreg()}


def _batch(path: Path, name: str) -> dict:
    return pickle.loads(_members(path)[f"cifar-100-python/{name}"], encoding="bytes")


def test_same_arguments_give_byte_identical_archives(tmp_path: Path) -> None:
    first = write_cifar_archive(tmp_path / "a" / "x.tar.gz", seed=5, train_per_class=3, test_per_class=2)
    second = write_cifar_archive(tmp_path / "b" / "y.tar.gz", seed=5, train_per_class=3, test_per_class=2)
    assert (tmp_path / "a" / "x.tar.gz").read_bytes() == (tmp_path / "b" / "y.tar.gz").read_bytes()
    assert first == second == hashlib.md5((tmp_path / "a" / "x.tar.gz").read_bytes()).hexdigest()


def test_another_seed_gives_another_archive(tmp_path: Path) -> None:
    assert write_cifar_archive(tmp_path / "a.tar.gz", seed=1, train_per_class=2, test_per_class=1) != \
        write_cifar_archive(tmp_path / "b.tar.gz", seed=2, train_per_class=2, test_per_class=1)


def test_tar_holds_top_folder_with_train_test_meta(small_archive: tuple[Path, str]) -> None:
    with tarfile.open(small_archive[0], "r:gz") as tar:
        listing = [(m.name, m.isdir(), m.isreg()) for m in tar]
    assert listing == [("cifar-100-python", True, False), ("cifar-100-python/meta", False, True),
                       ("cifar-100-python/test", False, True), ("cifar-100-python/train", False, True)]


def test_train_batch_unpickles_like_real_cifar(small_archive: tuple[Path, str]) -> None:
    train = _batch(small_archive[0], "train")
    assert set(train) == {b"data", b"fine_labels", b"coarse_labels", b"filenames", b"batch_label"}
    assert train[b"data"].dtype == np.uint8 and train[b"data"].shape == (5 * 40, 3072)
    assert sorted(set(train[b"fine_labels"])) == [8, 13, 48, 58, 89]
    assert all(train[b"fine_labels"].count(label) == 40 for label in (8, 48))
    labels = zip(train[b"fine_labels"], train[b"coarse_labels"], strict=True)
    assert {coarse for fine, coarse in labels if fine in (8, 48)} == {18}
    assert all(isinstance(name, bytes) for name in train[b"filenames"])
    assert len(set(train[b"filenames"])) == len(train[b"filenames"])
    assert b"synthetic" in train[b"batch_label"]


def test_test_batch_has_test_per_class_images(small_archive: tuple[Path, str]) -> None:
    test = _batch(small_archive[0], "test")
    assert test[b"data"].shape == (5 * 10, 3072)
    assert test[b"batch_label"] == b"synthetic testing batch 1 of 1"


def test_meta_names_bicycle_8_motorcycle_48_under_vehicles_1(small_archive: tuple[Path, str]) -> None:
    meta = _batch(small_archive[0], "meta")
    fine, coarse = meta[b"fine_label_names"], meta[b"coarse_label_names"]
    assert len(fine) == 100 and len(coarse) == 20
    assert (fine[0], fine[8], fine[48], fine[99]) == (b"apple", b"bicycle", b"motorcycle", b"worm")
    assert coarse[18] == b"vehicles_1"


def test_pickles_name_only_numpy_array_globals(small_archive: tuple[Path, str]) -> None:
    for payload in _members(small_archive[0]).values():
        globals_used = {arg for op, arg, _ in pickletools.genops(payload) if op.name == "GLOBAL"}
        assert globals_used <= {"numpy.core.multiarray _reconstruct", "numpy ndarray", "numpy dtype"}
        opcodes = {op.name for op, _, _ in pickletools.genops(payload)}
        assert not opcodes & {"BINUNICODE", "SHORT_BINUNICODE"}


def test_rows_are_red_then_green_then_blue_planes() -> None:
    image = np.zeros((32, 32, 3), np.uint8)
    image[0, 1] = (10, 20, 30)
    row = _cifar_row(image)
    assert (row[1], row[1024 + 1], row[2048 + 1]) == (10, 20, 30)


def test_night_drift_is_darker_than_daylight() -> None:
    def mean_brightness(drift: str | None) -> float:
        images = [supersampled_thumbnail(np.random.default_rng(i), "bicycle", drift=drift) for i in range(20)]
        return float(np.mean([np.asarray(image) for image in images]))

    assert mean_brightness("night") < 0.6 * mean_brightness(None)


def test_unknown_drift_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnknownDriftError, match="fog"):
        write_cifar_archive(tmp_path / "a.tar.gz", drift="fog")


def test_cli_prints_path_and_md5(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli.tar.gz"
    synthetic_cli(["archive", "--out", str(out), "--train-per-class", "2", "--test-per-class", "1"])
    assert capsys.readouterr().out.split() == [str(out), hashlib.md5(out.read_bytes()).hexdigest()]


def test_capture_drifts_are_refused_for_an_archive(tmp_path: Path) -> None:
    with pytest.raises(UnknownDriftError, match="class_mix"):
        write_cifar_archive(tmp_path / "a.tar.gz", drift="class_mix")
