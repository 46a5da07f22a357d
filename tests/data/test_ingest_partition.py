"""Ingest end to end on a small synthetic archive: counts, .lst files, manifest, reproducibility."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from PIL import Image

LST_LINE = re.compile(r"^(\d+)\t([01])\t((bicycle|motorcycle)/[^\t/]+\.png)$")


def _all_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_counts_cover_every_bicycle_and_motorcycle(run_ingest, per_class, tmp_path: Path) -> None:
    assert run_ingest(tmp_path / "out") == 0
    counts = json.loads((tmp_path / "out" / "manifest.json").read_text())["counts"]
    for name in ("bicycle", "motorcycle"):
        assert counts["train"][name] + counts["validation"][name] == per_class["train"]
        assert counts["validation"][name] > 0
        assert counts["test"][name] == per_class["test"]


def test_only_bicycles_and_motorcycles_are_written(run_ingest, tmp_path: Path) -> None:
    run_ingest(tmp_path / "out")
    out = tmp_path / "out"
    folders = {p.relative_to(out).as_posix() for p in out.glob("*/*") if p.is_dir()}
    assert folders == {f"{s}/{c}" for s in ("train", "validation", "test") for c in ("bicycle", "motorcycle")}


def test_lst_lines_are_index_label_path_with_unique_indices(run_ingest, per_class, tmp_path: Path) -> None:
    run_ingest(tmp_path / "out")
    indices = []
    for split in ("train", "validation", "test"):
        for line in (tmp_path / "out" / f"{split}.lst").read_text().splitlines():
            match = LST_LINE.match(line)
            assert match, line
            index, label, relative, folder = match.groups()
            assert int(label) == ("bicycle", "motorcycle").index(folder)
            assert (tmp_path / "out" / split / relative).is_file()
            indices.append(int(index))
    assert len(indices) == len(set(indices)) == 2 * (per_class["train"] + per_class["test"])


def test_images_are_32x32_rgb_png(run_ingest, tmp_path: Path) -> None:
    run_ingest(tmp_path / "out")
    for path in (tmp_path / "out").glob("*/*/*.png"):
        with Image.open(path) as image:
            assert (image.format, image.mode, image.size) == ("PNG", "RGB", (32, 32))


def test_manifest_hashes_every_file_it_sits_beside(run_ingest, tmp_path: Path) -> None:
    run_ingest(tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    on_disk = {k: hashlib.sha256(v).hexdigest() for k, v in _all_bytes(tmp_path / "out").items()
               if k != "manifest.json"}
    assert manifest["files"] == on_disk


def test_manifest_records_run_source_and_code_without_paths(run_ingest, small_archive, per_class,
                                                            tmp_path: Path) -> None:
    run_ingest(tmp_path / "out")
    text = (tmp_path / "out" / "manifest.json").read_text()
    manifest = json.loads(text)
    assert manifest["run_key"] == "2024-05-01"
    assert manifest["source"]["archive"] == {"name": "cifar-100-python.tar.gz", "md5": small_archive[1],
                                             "train_rows": 5 * per_class["train"],
                                             "test_rows": 5 * per_class["test"]}
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["code_version"])
    assert str(tmp_path) not in text


def test_two_runs_write_byte_identical_partitions(run_ingest, tmp_path: Path, labelled_photos: Path) -> None:
    assert run_ingest(tmp_path / "one", labelled_photos) == 0
    assert run_ingest(tmp_path / "two", labelled_photos) == 0
    assert _all_bytes(tmp_path / "one") == _all_bytes(tmp_path / "two")


def test_rerun_into_the_same_folder_replaces_its_outputs(run_ingest, tmp_path: Path) -> None:
    run_ingest(tmp_path / "out")
    first = _all_bytes(tmp_path / "out")
    (tmp_path / "out" / "train" / "bicycle" / "stale.png").write_bytes(b"old")
    assert run_ingest(tmp_path / "out") == 0
    assert _all_bytes(tmp_path / "out") == first


def test_foreign_files_in_output_dir_stop_the_run(run_ingest, tmp_path: Path, capsys) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep-me.txt").write_text("not ours")
    assert run_ingest(tmp_path / "out") == 1
    assert "OutputDirError" in capsys.readouterr().err
    assert (tmp_path / "out" / "keep-me.txt").read_text() == "not ours"


def test_summary_line_prints_counts(run_ingest, per_class, tmp_path: Path, capsys) -> None:
    run_ingest(tmp_path / "out")
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("[ingest] done: run 2024-05-01:")
    assert f"test {per_class['test']}/{per_class['test']}" in last


def _manifest(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())


def test_ingests_of_the_same_data_on_two_dates_have_one_content_digest(run_ingest, tmp_path: Path,
                                                                       labelled_photos: Path) -> None:
    """The digest covers images and labels, not the run: "nothing new" is recognisable across dates."""
    assert run_ingest(tmp_path / "one", labelled_photos, "--run-key", "20260101T0000") == 0
    assert run_ingest(tmp_path / "two", labelled_photos, "--run-key", "20260102T0000") == 0
    one, two = _manifest(tmp_path / "one"), _manifest(tmp_path / "two")
    assert (tmp_path / "one" / "manifest.json").read_bytes() != (tmp_path / "two" / "manifest.json").read_bytes()
    assert one["content_sha256"] == two["content_sha256"]


def test_a_new_labelled_photo_changes_the_content_digest(run_ingest, tmp_path: Path, labelled_photos: Path,
                                                         make_photo) -> None:
    assert run_ingest(tmp_path / "before", labelled_photos) == 0
    make_photo(labelled_photos / "bicycle" / "new.png", (64, 48), "PNG", (5, 120, 240))
    assert run_ingest(tmp_path / "after", labelled_photos) == 0
    assert _manifest(tmp_path / "before")["content_sha256"] != _manifest(tmp_path / "after")["content_sha256"]
