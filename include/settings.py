"""Typed settings: `include/settings.toml` with environment overrides.

Top-level keys are overridden by ``SCONES_<KEY>``, section keys by ``SCONES_<SECTION>__<KEY>``.
A wrong or missing value raises :class:`SettingsError` naming the setting and its variable.
"""

from __future__ import annotations

import functools
import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from include.settings_consistency import consistency_problems

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = Path(__file__).with_name("settings.toml")
ENV_PREFIX = "SCONES_"


class SettingsError(ValueError):
    """A setting is missing or invalid."""


def _schedule_or_none(value: Any) -> Any:
    return None if isinstance(value, str) and value.strip().lower() in ("", "none", "off") else value


Schedule = Annotated[str | None, BeforeValidator(_schedule_or_none)]
"""A cron expression or preset such as ``@daily``; ``"none"`` switches the schedule off."""


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
    schedule: Schedule
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
    spot_training: bool
    max_wait_seconds: int = Field(ge=1, le=432000)


class Training(_Section):
    schedule_on_dataset: bool
    epochs: int = Field(ge=1, le=500)
    batch_size: int = Field(ge=1)
    learning_rate: float = Field(gt=0)
    weight_decay: float = Field(ge=0)
    dropout: float = Field(ge=0, lt=1)
    width: int = Field(ge=1, le=8)
    augment: bool
    patience: int = Field(ge=1)
    seed: int
    backbone: Literal["scratch", "pretrained-resnet18"]

    def hyperparameters(self) -> dict[str, Any]:
        """The training program's hyperparameters, named as it reads them."""
        return {
            "epochs": self.epochs, "batch-size": self.batch_size, "learning-rate": self.learning_rate,
            "weight-decay": self.weight_decay, "dropout": self.dropout, "width": self.width,
            "augment": self.augment, "patience": self.patience, "seed": self.seed, "backbone": self.backbone,
        }


class ContinuousRange(_Section):
    name: str
    min: float
    max: float
    scaling: Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"] = "Auto"


class IntegerRange(_Section):
    name: str
    min: int
    max: int
    scaling: Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"] = "Auto"


class CategoricalRange(_Section):
    name: str
    values: list[str] = Field(min_length=1)


class Tuning(_Section):
    schedule: Schedule
    strategy: Literal["Bayesian", "Random", "Hyperband", "Grid"]
    objective_metric: str
    max_jobs: int = Field(ge=1, le=500)
    max_parallel_jobs: int = Field(ge=1, le=100)
    epochs: int = Field(ge=1)
    continuous: list[ContinuousRange]
    integer: list[IntegerRange]
    categorical: list[CategoricalRange]


class Gate(_Section):
    min_accuracy: float = Field(ge=0, le=1)
    max_regression: float = Field(ge=0, le=1)


class Registry(_Section):
    model_package_group: str = Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    approval_status: Literal["Approved", "PendingManualApproval"]


class Deploy(_Section):
    endpoint_name: str = Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    variant_name: str
    instance_type: str = Field(pattern=r"^ml\.")
    initial_instance_count: int = Field(ge=1)
    serverless: bool
    serverless_memory_mb: int = Field(ge=1024, le=6144)
    serverless_max_concurrency: int = Field(ge=1, le=200)
    capture_sampling_percentage: int = Field(ge=0, le=100)
    rollback_alarms: list[str]
    bake_minutes: int = Field(ge=0)
    local_server_port: int = Field(ge=0, le=65535)


class Inference(_Section):
    schedule: Schedule
    state_machine_arn: str = Field(pattern=r"^arn:aws[a-z\-]*:states:")
    max_photos_per_interval: int = Field(ge=1)
    inline_limit_bytes: int = Field(ge=0, le=250000)
    max_image_bytes: int = Field(ge=1)


class Monitor(_Section):
    schedule: Schedule
    use_model_monitor: bool
    comparison_threshold: float = Field(gt=0, le=1)
    categorical_comparison_threshold: float = Field(gt=0, le=1)
    min_violations: int = Field(ge=1)
    retrain_cooldown_hours: float = Field(ge=0)
    actions: dict[str, Literal["ignore", "alert", "retrain"]]

    def action_for(self, check_type: str, feature: str) -> str:
        """The configured action for a violation: per feature first, then per check type, else alert."""
        return self.actions.get(f"{check_type}:{feature}", self.actions.get(check_type, "alert"))


class Mwaa(_Section):
    airflow_version: str
    python_version: str
    environment_name: str
    dags_prefix: str


class LocalEnvironment(_Section):
    """The local environment (``make demo``, ``make airflow``): where its servers listen, how much runs at once."""

    bind_host: str = "127.0.0.1"
    parallelism: int = Field(default=0, ge=0)

    @field_validator("bind_host")
    @classmethod
    def _ip_address(cls, value: str) -> str:
        import ipaddress

        try:
            ipaddress.ip_address(value)
        except ValueError as exc:
            raise ValueError(f"must be an IP address such as 127.0.0.1 (or 0.0.0.0 for every interface), "
                             f"got {value!r}") from exc
        return value


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
    training: Training
    tuning: Tuning
    gate: Gate
    registry: Registry
    deploy: Deploy
    inference: Inference
    monitor: Monitor
    mwaa: Mwaa
    local: LocalEnvironment = LocalEnvironment()

    @field_validator("data_root")
    @classmethod
    def _absolute_data_root(cls, value: Path) -> Path:
        return value if value.is_absolute() else (PROJECT_ROOT / value).resolve()

    def s3_uri(self, *parts: str) -> str:
        """``s3://bucket/part/part...`` with duplicate slashes removed."""
        key = "/".join(p.strip("/") for p in parts if p and p.strip("/"))
        return f"s3://{self.bucket}/{key}"


def _coerce(raw: str) -> Any:
    """Environment values stay strings (pydantic converts them); JSON lists and tables are parsed."""
    if raw.lower() in ("none", "null"):
        return None
    if raw.lstrip().startswith(("[", "{")):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"environment value {raw!r} looks like JSON but does not parse: {exc}") from exc
    return raw


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
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"setting '{'.'.join(str(p) for p in err['loc'])}' (env {_env_name(err['loc'])}): {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"invalid settings in {path}: {problems}") from exc
    conflicts = consistency_problems(settings)
    if conflicts:
        raise SettingsError(f"settings in {path} that can't work together: " + "; ".join(conflicts))
    return settings


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings (read once; tests call ``get_settings.cache_clear()``)."""
    return load_settings()
