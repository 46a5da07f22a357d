"""Ingest wall time for the default synthetic archive, through the local Processing contract."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from devtools.synthetic import write_cifar_archive
from include.builders.ingest import ingest_processing_request
from include.code_bundle import upload_program
from include.runtime.local.job_records import LocalJobRegistry
from include.runtime.local.processing import run_processing_job
from include.runtime.local.store import LocalObjectStore
from include.settings import load_settings


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = load_settings(environ={"SCONES_DATA_ROOT": str(root / "data")})
        store = LocalObjectStore(settings.data_root)
        started = time.perf_counter()
        archive = root / "cifar-100-python.tar.gz"
        md5 = write_cifar_archive(str(archive), seed=0)
        generated = time.perf_counter()
        archive_uri = settings.s3_uri("raw", "cifar", md5, archive.name)
        store.upload_file(archive, archive_uri)
        request = ingest_processing_request(
            settings, run_key="bench", job_name="scones-ingest-bench",
            code_uri=upload_program(settings, store, "ingest"),
            archive_uri=archive_uri, archive_md5=md5, staging_uri=settings.s3_uri("staging", "bench") + "/",
            include_labelled=False)
        staged = time.perf_counter()
        run_processing_job(request, store=store, registry=LocalJobRegistry(root / "work", "processing"),
                           log=lambda _line: None)
        done = time.perf_counter()
        manifest = json.loads(store.get_bytes(settings.s3_uri("staging", "bench", "manifest.json")))
        files = len(manifest["files"])
        archive_bytes = archive.stat().st_size
    print("Ingest of the default synthetic archive (5 classes x 600 images; bicycle and motorcycle kept)")
    print(f"  archive generation      {generated - started:7.2f} s  ({archive_bytes} bytes)")
    print(f"  local Processing job    {done - staged:7.2f} s  ({files} files in the partition)")
    print(f"  counts                  {json.dumps(manifest['counts'])}")


if __name__ == "__main__":
    main()
