"""Typed settings: `include/settings.toml` with environment overrides.

Top-level keys are overridden by ``SCONES_<KEY>``, section keys by ``SCONES_<SECTION>__<KEY>``.
A wrong or missing value raises :class:`SettingsError` naming the setting and its variable.
"""

from __future__ import annotations

import functools
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = Path(__file__).with_name("settings.toml")
ENV_PREFIX = "SCONES_"


class SettingsError(ValueError):
    """A setting is missing or invalid."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Prefixes(_Section):
    raw: str
    incoming_labelled: str
    incoming_photos: str
    datasets: str
    staging: str
    code: str
    jobs: str
    models: str
    registry: str
    capture: str
    monitoring: str
    routing: str
    review: str

    @field_validator("*")
    @classmethod
    def _relative_key(cls, value: str) -> str:
        if not value or value.startswith("/") or ".." in value.split("/"):
            raise ValueError(f"must be a relative S3 key prefix without '..', got {value!r}")
        return value.strip("/")


class Cifar(_Section):
    source: str = Field(min_length=1)
    md5: str = Field(pattern=r"^[0-9a-f]{32}$")


class Ingest(_Section):
    schedule: str | None
    seed: int
    validation_fraction: float = Field(gt=0, lt=1)
    max_image_pixels: int = Field(gt=0)
    max_image_bytes: int = Field(gt=0)


class Images(_Section):
    framework: str
    framework_version: str
    py_version: str
    processing_uri: str
    training_uri: str
    inference_uri: str
    monitor_uri: str


class Instances(_Section):
    processing_type: str = Field(pattern=r"^ml\.")
    processing_volume_gb: int = Field(ge=1, le=16384)
    training_type: str = Field(pattern=r"^ml\.")
    training_volume_gb: int = Field(ge=1, le=16384)
    max_runtime_seconds: int = Field(ge=1, le=432000)


class Settings(_Section):
    runtime: Literal["local", "aws"]
    data_root: Path
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    aws_conn_id: str
    sagemaker_role_arn: str = Field(pattern=r"^arn:aws[a-z\-]*:iam::\d{12}:role/.+$")
    owner: str = Field(min_length=1)
    alerts_topic_arn: str
    sagemaker_pool: str = Field(min_length=1)
    sagemaker_pool_slots: int = Field(ge=1)
    poll_interval_seconds: int = Field(ge=1)
    confidence_threshold: float = Field(gt=0, lt=1)
    prefixes: Prefixes
    cifar: Cifar
    ingest: Ingest
    images: Images
    instances: Instances

    @field_validator("data_root")
    @classmethod
    def _absolute_data_root(cls, value: Path) -> Path:
        return value if value.is_absolute() else (PROJECT_ROOT / value).resolve()

    def s3_uri(self, *parts: str) -> str:
        """``s3://bucket/part/part...`` with duplicate slashes removed."""
        key = "/".join(p.strip("/") for p in parts if p and p.strip("/"))
        return f"s3://{self.bucket}/{key}"


def _coerce(raw: str) -> Any:
    """Environment values stay strings; pydantic converts them to the field's type."""
    return None if raw.lower() in ("none", "null") else raw


def _apply_env_overrides(values: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in values.items()}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        if len(path) == 1 and path[0] in merged and not isinstance(merged[path[0]], dict):
            merged[path[0]] = _coerce(raw)
        elif len(path) == 2 and isinstance(merged.get(path[0]), dict) and path[1] in merged[path[0]]:
            merged[path[0]][path[1]] = _coerce(raw)
    return merged


def _env_name(location: tuple[Any, ...]) -> str:
    return ENV_PREFIX + "__".join(str(p).upper() for p in location)


def load_settings(path: Path = SETTINGS_FILE, environ: dict[str, str] | None = None) -> Settings:
    """Read the settings file, apply environment overrides and validate."""
    try:
        values = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise SettingsError(f"settings file {path} not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"settings file {path} is not valid TOML: {exc}") from exc
    merged = _apply_env_overrides(values, dict(os.environ if environ is None else environ))
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"setting '{'.'.join(str(p) for p in err['loc'])}' (env {_env_name(err['loc'])}): {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"invalid settings in {path}: {problems}") from exc


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings (read once; tests call ``get_settings.cache_clear()``)."""
    return load_settings()
