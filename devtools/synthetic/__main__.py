"""CLI: ``python -m devtools.synthetic archive|photos ...``."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

from devtools.synthetic import DRIFTS, SCENE_DRIFTS, write_cifar_archive, write_courier_photos


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devtools.synthetic", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    archive = commands.add_parser("archive", help="write a synthetic cifar-100-python.tar.gz")
    archive.add_argument("--out", required=True, help="archive file path")
    archive.add_argument("--seed", type=int, default=0)
    archive.add_argument("--train-per-class", type=int, default=500)
    archive.add_argument("--test-per-class", type=int, default=100)
    archive.add_argument("--drift", choices=SCENE_DRIFTS)
    photos = commands.add_parser("photos", help="write synthetic courier photos and labels.json")
    photos.add_argument("--out", required=True, help="output folder")
    photos.add_argument("--count", type=int, required=True)
    photos.add_argument("--seed", type=int, default=0)
    photos.add_argument("--drift", choices=DRIFTS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    started = time.perf_counter()
    if args.command == "archive":
        md5 = write_cifar_archive(args.out, seed=args.seed, train_per_class=args.train_per_class,
                                  test_per_class=args.test_per_class, drift=args.drift)
        print(f"{args.out} {md5}")
    else:
        written = write_courier_photos(args.out, count=args.count, seed=args.seed, drift=args.drift)
        counts = Counter(kind for _, kind in written)
        summary = ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))
        print(f"{args.out} {len(written)} photos ({summary})")
    print(f"took {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
