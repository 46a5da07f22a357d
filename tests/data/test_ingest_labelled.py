"""Labelled photos: resized to 32x32, originals kept, bad files quarantined, splits stable."""

from __future__ import annotations

import json
from pathlib import Path

from photo_resize import centre_square
from PIL import Image


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def test_odd_sized_jpeg_and_png_become_32x32_rgb(run_ingest, labelled_photos: Path, tmp_path: Path) -> None:
    assert run_ingest(tmp_path / "out", labelled_photos) == 0
    records = _manifest(tmp_path / "out")["labelled"]
    assert sorted(r["source"] for r in records) == ["bicycle/tall.jpg", "bicycle/wide.png",
                                                    "motorcycle/small.png", "motorcycle/square.jpeg"]
    for record in records:
        with Image.open(tmp_path / "out" / record["image"]) as image:
            assert (image.format, image.mode, image.size) == ("PNG", "RGB", (32, 32))
        assert record["image"].startswith(f"{record['split']}/{record['class']}/")


def test_originals_are_kept_byte_for_byte(run_ingest, labelled_photos: Path, tmp_path: Path) -> None:
    run_ingest(tmp_path / "out", labelled_photos)
    for record in _manifest(tmp_path / "out")["labelled"]:
        assert record["original"].startswith(f"originals/{record['class']}/")
        original = (tmp_path / "out" / record["original"]).read_bytes()
        assert original == (labelled_photos / record["source"]).read_bytes()


def test_labelled_photos_appear_in_the_lst_of_their_split(run_ingest, labelled_photos: Path,
                                                          tmp_path: Path) -> None:
    run_ingest(tmp_path / "out", labelled_photos)
    for record in _manifest(tmp_path / "out")["labelled"]:
        within_split = record["image"].split("/", 1)[1]
        label = ("bicycle", "motorcycle").index(record["class"])
        assert f"\t{label}\t{within_split}\n" in (tmp_path / "out" / f"{record['split']}.lst").read_text()


def test_transparent_png_is_laid_over_white(run_ingest, make_photo, tmp_path: Path) -> None:
    make_photo(tmp_path / "lab" / "bicycle" / "clear.png", (60, 60), "PNG", (0, 0, 0, 0), "RGBA")
    run_ingest(tmp_path / "out", tmp_path / "lab")
    (record,) = _manifest(tmp_path / "out")["labelled"]
    with Image.open(tmp_path / "out" / record["image"]) as image:
        assert image.getpixel((16, 16)) == (255, 255, 255)


def test_centre_square_keeps_the_middle_of_a_wide_photo() -> None:
    wide = Image.new("RGB", (300, 100), (255, 0, 0))
    wide.paste((0, 0, 255), (100, 0, 200, 100))
    square = centre_square(wide)
    assert square.size == (32, 32) and square.getpixel((16, 16)) == (0, 0, 255)
    assert square.getpixel((0, 16))[2] > 200


def test_bad_entries_are_quarantined_with_reasons(run_ingest, make_photo, tmp_path: Path, capsys) -> None:
    root = tmp_path / "lab"
    make_photo(root / "bicycle" / "good.jpg", (64, 48), "JPEG")
    (root / "bicycle" / "notes.txt").write_text("not a photo")
    make_photo(root / "bicycle" / "huge.png", (300, 300), "PNG")
    make_photo(root / "car" / "sedan.jpg", (64, 64), "JPEG")
    make_photo(root / "stray.png", (64, 64), "PNG")
    assert run_ingest(tmp_path / "out", root, "--max-image-pixels", "50000") == 0
    quarantine = {q["path"]: q["reason"] for q in _manifest(tmp_path / "out")["quarantine"]}
    assert set(quarantine) == {"bicycle/notes.txt", "bicycle/huge.png", "car/sedan.jpg", "stray.png"}
    assert "not a JPEG or PNG" in quarantine["bicycle/notes.txt"]
    assert "decompression bomb" in quarantine["bicycle/huge.png"]
    assert "unknown label folder 'car'" in quarantine["car/sedan.jpg"]
    assert "not inside a label folder" in quarantine["stray.png"]
    out = capsys.readouterr().out
    assert all(f"quarantined {path}:" in out for path in quarantine)
    assert [r["source"] for r in _manifest(tmp_path / "out")["labelled"]] == ["bicycle/good.jpg"]


def test_photo_over_the_byte_limit_is_quarantined(run_ingest, make_photo, tmp_path: Path) -> None:
    make_photo(tmp_path / "lab" / "motorcycle" / "big.png", (200, 200), "PNG")
    run_ingest(tmp_path / "out", tmp_path / "lab", "--max-image-bytes", "100")
    (entry,) = _manifest(tmp_path / "out")["quarantine"]
    assert entry["path"] == "motorcycle/big.png" and "over --max-image-bytes 100" in entry["reason"]


def test_truncated_jpeg_is_quarantined(run_ingest, make_photo, tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "lab" / "bicycle" / "cut.jpg", (400, 300), "JPEG")
    photo.write_bytes(photo.read_bytes()[:300])
    run_ingest(tmp_path / "out", tmp_path / "lab")
    (entry,) = _manifest(tmp_path / "out")["quarantine"]
    assert entry["path"] == "bicycle/cut.jpg" and "unreadable image" in entry["reason"]


def test_same_photo_under_both_labels_is_quarantined(run_ingest, make_photo, tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "lab" / "bicycle" / "a.png", (40, 40), "PNG")
    (tmp_path / "lab" / "motorcycle").mkdir()
    (tmp_path / "lab" / "motorcycle" / "b.png").write_bytes(photo.read_bytes())
    run_ingest(tmp_path / "out", tmp_path / "lab")
    manifest = _manifest(tmp_path / "out")
    assert manifest["labelled"] == []
    assert [q["path"] for q in manifest["quarantine"]] == ["bicycle/a.png", "motorcycle/b.png"]


def test_missing_labelled_folder_means_cifar_only(run_ingest, tmp_path: Path) -> None:
    assert run_ingest(tmp_path / "out", tmp_path / "absent") == 0
    source = _manifest(tmp_path / "out")["source"]
    assert (source["labelled_photos"], source["labelled_accepted"]) == (0, 0)


def test_new_photos_leave_earlier_photos_in_their_split(run_ingest, make_photo, tmp_path: Path) -> None:
    root = tmp_path / "lab"
    for index in range(12):
        make_photo(root / "bicycle" / f"first-{index}.png", (40, 40), "PNG", (index * 20, 10, 10))
    run_ingest(tmp_path / "before", root)
    for index in range(12):
        make_photo(root / "motorcycle" / f"later-{index}.png", (40, 40), "PNG", (10, index * 20, 10))
    run_ingest(tmp_path / "after", root)
    before = {r["source"]: r["split"] for r in _manifest(tmp_path / "before")["labelled"]}
    after = {r["source"]: r["split"] for r in _manifest(tmp_path / "after")["labelled"]}
    assert len(before) == 12 and len(after) == 24
    assert {source: after[source] for source in before} == before
