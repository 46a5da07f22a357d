"""Model handler loading, as the SageMaker PyTorch inference toolkit does it, and the requests it serves.

``model.tar.gz`` is extracted to a version folder; its ``code/`` folder goes first on ``sys.path`` and
``inference`` is imported; ``model_fn`` loads the model and ``input_fn``/``predict_fn``/``output_fn`` (or
``transform_fn``) serve each request. A handler's refusal becomes the 4xx the container contract answers
(its ``status_code`` if it sets one, 406 from ``output_fn``, 415 when the message is about the content
type, 400 otherwise); any other failure is a 500.

Isolation of models in one process: two artifacts ship modules with the same names
(``inference``, ``net``, ...). Each load runs under a global import lock, with the artifact's
top-level module names removed from ``sys.modules`` before the import and removed again (with
``code/`` taken off ``sys.path``) once ``model_fn`` and a smoke prediction have run. The loaded
handler keeps references to its own module objects, so its functions resolve their siblings through
their module globals, never through ``sys.modules``. This keeps one copy of torch in memory instead
of a worker process per model; the price is that handler code must import its sibling modules at
import time (the usual style), not lazily inside a request.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import shutil
import struct
import sys
import tarfile
import threading
import traceback
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

LOG = logging.getLogger("scones.model_server")

DEFAULT_ACCEPT = "application/json"
DEFAULT_CONTENT_TYPE = "application/json"
HANDLER_MODULE = "inference"
_CONTENT_TYPE_WORDS = ("content type", "content-type", "media type")


class ModelLoadError(RuntimeError):
    """A model artifact that could not be extracted, imported, loaded or smoke-tested."""


@dataclass(frozen=True)
class InvocationError(Exception):
    """A failed invocation with the HTTP status the container contract answers."""

    status: int
    error_type: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Inference:
    """A handler's response: body bytes and their content type."""

    body: bytes
    content_type: str


_IMPORT_LOCK = threading.Lock()


def _code_module_names(code_dir: Path) -> set[str]:
    """Top-level module names the ``code/`` folder provides (``x.py`` files and packages)."""
    names = {path.stem for path in code_dir.glob("*.py")}
    names |= {path.parent.name for path in code_dir.glob("*/__init__.py")}
    return names


@contextlib.contextmanager
def isolated_code_imports(code_dir: Path) -> Iterator[None]:
    """Make ``code_dir``'s modules importable by their plain names, then forget them again."""
    names = _code_module_names(code_dir) - set(sys.stdlib_module_names)

    def owned(module_name: str) -> bool:
        return module_name.split(".", 1)[0] in names

    with _IMPORT_LOCK:
        shadowed = {name: module for name, module in sys.modules.items() if owned(name)}
        for name in shadowed:
            del sys.modules[name]
        sys.path.insert(0, str(code_dir))
        importlib.invalidate_caches()
        try:
            yield
        finally:
            sys.path.remove(str(code_dir))
            for name in [name for name in sys.modules if owned(name)]:
                del sys.modules[name]
            sys.modules.update(shadowed)


def _default_input_fn(body: bytes, content_type: str) -> Any:
    if content_type.split(";", 1)[0].strip() == "application/json":
        return json.loads(body)
    raise InvocationError(415, "UnsupportedContentType", f"content type {content_type!r} is not supported")


def _default_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    if hasattr(prediction, "tolist"):
        prediction = prediction.tolist()
    return json.dumps(prediction).encode("utf-8"), "application/json"


def _client_error(error: BaseException, stage: str) -> InvocationError:
    """A handler's refusal as 4xx: its ``status_code`` if set, else 406 from output_fn (the Accept
    type), 415 when the message is about the content type, 400 otherwise."""
    status = getattr(error, "status_code", None)
    if not (isinstance(status, int) and 400 <= status < 500):
        message = str(error).lower()
        if stage == "output_fn":
            status = 406
        elif any(word in message for word in _CONTENT_TYPE_WORDS):
            status = 415
        else:
            status = 400
    return InvocationError(status, type(error).__name__, str(error))


def _server_error(error: BaseException, stage: str) -> InvocationError:
    LOG.error("%s failed:\n%s", stage, traceback.format_exc())
    return InvocationError(500, type(error).__name__, f"{stage} failed: {error!r}")


@dataclass
class ModelHandler:
    """A loaded model and the SageMaker handler functions that serve it."""

    module: ModuleType
    model: Any
    model_dir: Path

    @classmethod
    def load(cls, model_dir: Path) -> ModelHandler:
        """Import ``code/inference.py`` and call its ``model_fn`` (caller holds the import isolation)."""
        try:
            module = importlib.import_module(HANDLER_MODULE)
        except Exception as error:
            raise ModelLoadError(f"importing code/{HANDLER_MODULE}.py failed: {error!r}") from error
        model_fn = getattr(module, "model_fn", None)
        if not callable(model_fn):
            raise ModelLoadError(f"code/{HANDLER_MODULE}.py defines no model_fn(model_dir): add one")
        try:
            model = model_fn(str(model_dir))
        except Exception as error:
            raise ModelLoadError(f"model_fn({str(model_dir)!r}) raised {error!r}") from error
        return cls(module=module, model=model, model_dir=model_dir)

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Inference:
        """Run one request through transform_fn, or input_fn → predict_fn → output_fn."""
        content_type = content_type or DEFAULT_CONTENT_TYPE
        accept = DEFAULT_ACCEPT if not accept or accept.strip() == "*/*" else accept
        transform_fn = getattr(self.module, "transform_fn", None)
        if callable(transform_fn):
            try:
                return _as_inference(transform_fn(self.model, body, content_type, accept), accept)
            except InvocationError:
                raise
            except ValueError as error:
                raise _client_error(error, "transform_fn") from error
            except Exception as error:
                raise _server_error(error, "transform_fn") from error
        input_fn = getattr(self.module, "input_fn", _default_input_fn)
        predict_fn = getattr(self.module, "predict_fn", lambda data, model: model(data))
        output_fn = getattr(self.module, "output_fn", _default_output_fn)
        try:
            data = input_fn(body, content_type)
        except InvocationError:
            raise
        except Exception as error:
            raise _client_error(error, "input_fn") from error
        try:
            prediction = predict_fn(data, self.model)
        except InvocationError:
            raise
        except Exception as error:
            raise _server_error(error, "predict_fn") from error
        try:
            return _as_inference(output_fn(prediction, accept), accept)
        except InvocationError:
            raise
        except ValueError as error:
            raise _client_error(error, "output_fn") from error
        except Exception as error:
            raise _server_error(error, "output_fn") from error


def _as_inference(result: Any, accept: str) -> Inference:
    """Accept both output_fn styles: ``(body, content_type)`` or just ``body``."""
    body, content_type = result if isinstance(result, tuple) and len(result) == 2 else (result, accept)
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not isinstance(body, bytes | bytearray | memoryview):
        raise InvocationError(
            500, "InvalidHandlerOutput", f"output_fn returned {type(body).__name__}: return bytes or str"
        )
    return Inference(body=bytes(body), content_type=str(content_type))



def extract_model_artifact(model_data: Path, model_dir: Path) -> None:
    """Extract a SageMaker ``model.tar.gz`` safely (no paths outside ``model_dir``)."""
    if not model_data.is_file():
        raise ModelLoadError(f"model_data {str(model_data)!r} is not a file: pass the path of a model.tar.gz")
    model_dir.mkdir(parents=True)
    try:
        with tarfile.open(model_data, "r:*") as archive:
            archive.extractall(model_dir, filter="data")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        raise ModelLoadError(
            f"model_data {str(model_data)!r} is not a readable tar.gz ({error}): re-create it with "
            "'tar -czf model.tar.gz -C MODEL_DIR .'"
        ) from error
    if not (model_dir / "code" / f"{HANDLER_MODULE}.py").is_file():
        raise ModelLoadError(
            f"model_data {str(model_data)!r} has no code/{HANDLER_MODULE}.py: package the serving "
            "handler under code/ in the archive"
        )


def smoke_png() -> bytes:
    """A 32x32 grey PNG, the default smoke-test input for an image classifier."""
    width = height = 32
    raw = b"".join(b"\x00" + b"\x80" * (width * 3) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def load_model_version(model_data: Path, version_dir: Path, smoke_body: bytes, smoke_content_type: str) -> ModelHandler:
    """Extract ``model_data`` into ``version_dir``, load its handler and check it answers a smoke request.

    Nothing is left behind on failure: the version folder is removed and :class:`ModelLoadError` raised.
    """
    try:
        extract_model_artifact(model_data, version_dir)
        with isolated_code_imports(version_dir / "code"):
            handler = ModelHandler.load(version_dir)
            try:
                handler.invoke(smoke_body, smoke_content_type, DEFAULT_ACCEPT)
            except InvocationError as error:
                raise ModelLoadError(f"smoke prediction failed ({error.status}): {error.message}") from error
    except BaseException:
        shutil.rmtree(version_dir, ignore_errors=True)
        raise
    return handler
