"""A fast stand-in for train.py that reports what the training container gave it.

It writes ``probe.json`` (argv, SM_* environment, cwd, channel and checkpoint listings) to
SM_OUTPUT_DATA_DIR, a model file to SM_MODEL_DIR and a checkpoint to SM_CHECKPOINT_DIR,
and logs metric lines whose validation accuracy is its ``--score`` (default: the learning rate).
``--fail true`` makes it write /opt/ml/output/failure and exit 2; ``--signal N`` makes it kill itself with signal N.
"""

from __future__ import annotations

import io
import tarfile

PROBE_PROGRAM = r'''
import json, os, pathlib, sys
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
if args.get("--signal"):
    os.kill(os.getpid(), int(args["--signal"]))
def listing(folder):
    root = pathlib.Path(folder)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.is_dir() else None
channels = json.loads(os.environ["SM_CHANNELS"])
report = {
    "argv": sys.argv[1:],
    "env": {k: v for k, v in os.environ.items() if k.startswith("SM_")},
    "cwd": os.getcwd(),
    "channels": {name: listing(os.environ["SM_CHANNEL_" + name.upper()]) for name in channels},
    "checkpoints_before": listing(os.environ.get("SM_CHECKPOINT_DIR", "/nonexistent")),
}
output = pathlib.Path(os.environ["SM_OUTPUT_DATA_DIR"])
output.mkdir(parents=True, exist_ok=True)
(output / "probe.json").write_text(json.dumps(report))
if os.environ.get("SM_CHECKPOINT_DIR"):
    checkpoints = pathlib.Path(os.environ["SM_CHECKPOINT_DIR"])
    checkpoints.mkdir(parents=True, exist_ok=True)
    (checkpoints / "epoch-2.ckpt").write_text("state")
print("epoch=1 train_loss=0.9000 validation_accuracy=0.1000", flush=True)
if args.get("--fail", "").lower() == "true":
    pathlib.Path(os.environ["SM_OUTPUT_DIR"], "failure").write_text("ProbeError: asked to fail\n")
    sys.exit(2)
score = float(args.get("--score", args.get("--learning-rate", "0.5")))
print(f"epoch=2 train_loss=0.4000 validation_accuracy={score:.4f}", flush=True)
model = pathlib.Path(os.environ["SM_MODEL_DIR"])
(model / "code").mkdir(parents=True, exist_ok=True)
(model / "weights.bin").write_bytes(b"w")
(model / "code" / "inference.py").write_text("# serving code\n")
'''


def probe_tarball(program: str = PROBE_PROGRAM, extra: dict[str, bytes] | None = None) -> bytes:
    """A ``sourcedir.tar.gz`` with the probe as ``train.py`` (plus any ``extra`` members, unchecked)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in {"train.py": program.encode(), **(extra or {})}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
