"""Ingest: verified CIFAR-100 archive + labelled photos -> a bicycle/motorcycle dataset partition.

Runs as a SageMaker Processing job (``python3 /opt/ml/processing/code/ingest.py ARGS``) or locally
with the same arguments. Writes only into ``--output-dir``; the same inputs give the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path
from typing import Any

from cifar_archive import ARCHIVE_NAME, read_batch_files, verify_archive
from cifar_batches import CLASS_NAMES, check_meta, select_vehicles
from ingest_errors import IngestError
from labelled_photos import scan_labelled
from partition_writer import PartitionWriter, prepare_output_dir
from photo_resize import encode_png
from PIL import Image
from safe_unpickle import load_plain_data
from split_rule import cifar_train_split, labelled_split

MANIFEST_VERSION = 1
CODE_DIR = Path(__file__).resolve().parent


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 < value < 0.5:
        raise argparse.ArgumentTypeError(f"{value} is not in (0, 0.5): validation and test each take it")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be > 0")
    return value


def _md5(text: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F]{32}", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a 32-digit hex MD5")
    return text.lower()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive-dir", type=Path, default=Path("/opt/ml/processing/input/cifar"))
    parser.add_argument("--archive-md5", type=_md5, required=True)
    parser.add_argument("--labelled-dir", type=Path, default=Path("/opt/ml/processing/input/labelled"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/output/partition"))
    parser.add_argument("--run-key", required=True)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--validation-fraction", type=_fraction, default=0.1)
    parser.add_argument("--max-image-pixels", type=_positive, default=40_000_000)
    parser.add_argument("--max-image-bytes", type=_positive, default=20_000_000)
    return parser.parse_args(argv)


def code_version(directory: Path = CODE_DIR) -> str:
    """sha256 over this program's own ``.py`` sources (names and bytes, sorted by name)."""
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.py")):
        digest.update(path.name.encode() + b"\x00" + path.read_bytes() + b"\x00")
    return digest.hexdigest()


def _say(message: str) -> None:
    print(f"[ingest] {message}", flush=True)


def _ingest_cifar(archive_path: Path, args: argparse.Namespace, writer: PartitionWriter) -> dict[str, int]:
    batches = read_batch_files(archive_path)
    check_meta(load_plain_data(batches["meta"], f"{ARCHIVE_NAME}:meta"), f"{ARCHIVE_NAME}:meta")
    rows = {}
    for batch_name in ("train", "test"):
        source = f"{ARCHIVE_NAME}:{batch_name}"
        batch = load_plain_data(batches.pop(batch_name), source)
        kept, rows[batch_name] = select_vehicles(batch, batch_name, source)
        for image in kept:
            split = ("test" if batch_name == "test"
                     else cifar_train_split(image.filename, args.seed, args.validation_fraction))
            name = f"cifar-{batch_name}-{image.row:05d}-{Path(image.filename).stem}.png"
            writer.add_image(split, image.class_index, name, encode_png(Image.fromarray(image.pixels, "RGB")))
        _say(f"{source}: {rows[batch_name]} rows, kept {len(kept)} bicycle/motorcycle images")
    return rows


def _ingest_labelled(args: argparse.Namespace, writer: PartitionWriter) -> tuple[list[dict], list[dict]]:
    accepted, quarantined = scan_labelled(args.labelled_dir, max_pixels=args.max_image_pixels,
                                          max_bytes=args.max_image_bytes)
    records = []
    for photo in accepted:
        split = labelled_split(photo.sha256, args.seed, args.validation_fraction)
        stem = photo.sha256[:24]
        image = writer.add_image(split, photo.class_index, f"labelled-{stem}.png", photo.png)
        original = writer.add_original(photo.class_index, f"{stem}.{photo.extension}", photo.path)
        records.append({"source": photo.source, "sha256": photo.sha256, "split": split,
                        "class": CLASS_NAMES[photo.class_index], "image": image, "original": original})
    for entry in quarantined:
        _say(f"quarantined {entry.path}: {entry.reason}")
    _say(f"labelled photos: {len(accepted)} accepted, {len(quarantined)} quarantined")
    return records, [{"path": q.path, "reason": q.reason} for q in quarantined]


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build the partition in ``args.output_dir`` and return the manifest."""
    archive_path = verify_archive(args.archive_dir, args.archive_md5)
    _say(f"verified {ARCHIVE_NAME} md5 {args.archive_md5}")
    prepare_output_dir(args.output_dir)
    writer = PartitionWriter(args.output_dir)
    rows = _ingest_cifar(archive_path, args, writer)
    labelled, quarantine = _ingest_labelled(args, writer)
    writer.write_lists()
    return writer.write_manifest({
        "manifest_version": MANIFEST_VERSION,
        "run_key": args.run_key,
        "code_version": code_version(),
        "classes": list(CLASS_NAMES),
        "seed": args.seed,
        "validation_fraction": args.validation_fraction,
        "limits": {"max_image_pixels": args.max_image_pixels, "max_image_bytes": args.max_image_bytes},
        "source": {
            "archive": {"name": ARCHIVE_NAME, "md5": args.archive_md5, "train_rows": rows["train"],
                        "test_rows": rows["test"]},
            "labelled_photos": len(labelled) + len(quarantine),
            "labelled_accepted": len(labelled),
        },
        "labelled": labelled,
        "quarantine": quarantine,
    })


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        manifest = run(args)
    except IngestError as exc:
        message = f"{type(exc).__name__}: {exc}"
        print(message, file=sys.stderr, flush=True)
        _say(f"failed: {message}")
        return 1
    counts = manifest["counts"]
    summary = ", ".join(f"{split} " + "/".join(str(counts[split][name]) for name in CLASS_NAMES)
                        for split in counts)
    _say(f"done: run {args.run_key}: {summary} (bicycle/motorcycle); {len(manifest['files'])} files, "
         f"{len(manifest['quarantine'])} quarantined")
    return 0


if __name__ == "__main__":
    sys.exit(main())
