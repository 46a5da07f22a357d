"""Typed settings: `include/settings.toml`, a project-root `.env` and the environment, on pydantic-settings.

Top-level keys are overridden by ``SCONES_<KEY>``, section keys by ``SCONES_<SECTION>__<KEY>`` (lists and
tables as JSON); the environment wins over `.env`, which wins over the file. A wrong or missing value
raises :class:`SettingsError` naming the setting and its variable; so does a ``SCONES_*`` variable that
is no setting (naming the closest one), unless it is one of :data:`NOT_SETTINGS`.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings.sources.utils import parse_env_vars

from include.settings_consistency import consistency_problems

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = Path(__file__).with_name("settings.toml")
DOTENV_FILE = PROJECT_ROOT / ".env"
ENV_PREFIX = "SCONES_"
ENV_FILE_VARIABLE = "SCONES_ENV_FILE"
NOT_SETTINGS: dict[str, str] = {
    ENV_FILE_VARIABLE: "the .env file the settings read (default: .env at the project root; empty: none)",
    "SCONES_AIRFLOW_IMAGE": "the Airflow image docker compose builds and runs",
    "SCONES_ANALYZER_SHARD_BYTES": "the drift analyzer's shard size",
    "SCONES_ANALYZER_WORKERS": "the drift analyzer's worker processes",
    "SCONES_LOCAL_HOME": "the local environment's marker: which Airflow home a process belongs to (devtools.processes)",
    "SCONES_MESSAGE_PATH": "where the analyzer and evaluation programs write their completion message",
    "SCONES_METRICS_DIR": "where the drift analyzer writes its CloudWatch metrics",
    "SCONES_MODEL_SERVER_FAULTS": "a test and soak facility: the control file of the local model server's planned "
                                  "error answers (include/runtime/local/model_server_faults.py; unset by default)",
    "SCONES_PRETRAINED_WEIGHTS": "the training program's pretrained ResNet-18 weights file",
    "SCONES_PY312": "the Python 3.12 the tests import the MWAA bundle with",
}
"""``SCONES_*`` variables that are not settings, each with what reads it."""


class SettingsError(ValueError):
    """A setting is missing or invalid."""


def _schedule_or_none(value: Any) -> Any:
    return None if isinstance(value, str) and value.strip().lower() in ("", "none", "null", "off") else value


Schedule = Annotated[str | None, BeforeValidator(_schedule_or_none)]
"""A cron expression or preset such as ``@daily``; ``"none"`` switches the schedule off."""


class _Section(BaseModel):
    # allow_inf_nan=False: an infinite cooldown or threshold loads today and crashes a task later.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


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
    not_a_vehicle: str
    inference: str
    health: str
    routed: str
    dead_letter: str

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
    threads: int = Field(ge=0)
    warm_start: bool
    new_data_share: float = Field(ge=0, lt=1)
    low_light: float = Field(ge=0, le=1)
    warm_start_learning_rate: float = Field(ge=0)
    warm_start_patience: int = Field(ge=0)

    def hyperparameters(self) -> dict[str, Any]:
        """The training program's hyperparameters, named as it reads them."""
        return {
            "epochs": self.epochs, "batch-size": self.batch_size, "learning-rate": self.learning_rate,
            "weight-decay": self.weight_decay, "dropout": self.dropout, "width": self.width,
            "augment": self.augment, "patience": self.patience, "seed": self.seed, "backbone": self.backbone,
            "threads": self.threads, "new-data-share": self.new_data_share, "low-light": self.low_light,
            "warm-start-learning-rate": self.warm_start_learning_rate, "warm-start-patience": self.warm_start_patience,
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
    approval_timeout_hours: float = Field(gt=0)
    watch_schedule: Schedule


class Review(_Section):
    queue_order: Literal["oldest_first", "newest_first", "lowest_margin", "lowest_margin_balanced"]
    page_size: int = Field(ge=1, le=200)
    thumbnail_pixels: int = Field(ge=32, le=1024)
    window_days: int = Field(ge=1)


class Retention(_Section):
    schedule: Schedule
    incoming_photos_days: int = Field(ge=1)
    review_days: int = Field(ge=1)
    labelled_days: int = Field(ge=1)
    not_a_vehicle_days: int = Field(ge=1)
    capture_days: int = Field(ge=1)
    dataset_days: int = Field(ge=1)
    monitoring_days: int = Field(ge=1)
    photo_versions_days: int = Field(ge=1)
    other_versions_days: int = Field(ge=1)


class Health(_Section):
    timeline_intervals: int = Field(ge=1, le=1000)
    registry_versions: int = Field(ge=1, le=100)
    routing_intervals: int = Field(ge=1, le=1000)


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
    traffic_routing: Literal["ALL_AT_ONCE", "CANARY", "LINEAR"]
    traffic_step_percent: int = Field(ge=1, le=50)
    bake_minutes: float = Field(ge=0, le=60)
    termination_wait_minutes: float = Field(ge=0, le=60)
    error_alarm_threshold: int = Field(ge=1)
    latency_alarm_milliseconds: float = Field(gt=0)
    autoscaling: bool
    autoscaling_min_instances: int = Field(ge=1)
    autoscaling_max_instances: int = Field(ge=1)
    autoscaling_invocations_per_instance: int = Field(ge=1)
    local_server_port: int = Field(ge=0, le=65535)


class Inference(_Section):
    schedule: Schedule
    state_machine_arn: str = Field(pattern=r"^arn:aws[a-z\-]*:states:")
    photos_per_execution: int = Field(ge=1)
    max_concurrency: int = Field(ge=1, le=10000)
    tolerated_failure_percentage: int = Field(ge=0, le=100)
    inline_limit_bytes: int = Field(ge=0, le=250000)
    max_image_bytes: int = Field(ge=1)
    deadline_minutes: int = Field(ge=0)


class Events(_Section):
    enabled: bool
    queue_url: str = Field(pattern=r"^https?://[^\s/]+/\d{12}/[A-Za-z0-9_-]{1,80}$")
    wait_seconds: int = Field(ge=0, le=20)
    max_messages: int = Field(ge=1, le=10)
    batches: int = Field(ge=1, le=100)
    poll_seconds: float = Field(gt=0, le=60)
    visibility_seconds: float = Field(gt=0, le=43200)


class Monitor(_Section):
    schedule: Schedule
    use_model_monitor: bool
    comparison_threshold: float = Field(gt=0, le=1)
    categorical_comparison_threshold: float = Field(gt=0, le=1)
    ks_alpha: float = Field(gt=0, lt=1)
    min_estimated_accuracy: float = Field(gt=0, lt=1)
    embedding_drift: bool
    mmd_alpha: float = Field(gt=0, lt=1)
    mmd_permutations: int = Field(ge=1, le=10_000)
    mmd_min_records: int = Field(ge=2)
    mmd_window_records: int = Field(ge=2, le=10_000)
    mmd_baseline_records: int = Field(ge=2, le=10_000)
    mmd_seed: int = Field(ge=0)
    min_violations: int = Field(ge=1)
    retrain_cooldown_hours: float = Field(ge=0)
    retrain_on_backfill: bool
    actions: dict[str, Literal["ignore", "alert", "retrain"]]

    def action_for(self, check_type: str, feature: str) -> str:
        """The configured action for a violation: per feature first, then per check type, else alert."""
        return self.actions.get(f"{check_type}:{feature}", self.actions.get(check_type, "alert"))


class Dags(_Section):
    retries: int = Field(ge=0, le=10)
    task_timeout_minutes: int = Field(ge=1)
    job_timeout_margin_minutes: int = Field(ge=0)
    deployment_timeout_minutes: int = Field(ge=1)
    max_consecutive_failed_runs: int = Field(ge=1)
    run_timeout_minutes: dict[str, int]

    @field_validator("run_timeout_minutes")
    @classmethod
    def _default_and_positive(cls, value: dict[str, int]) -> dict[str, int]:
        if "default" not in value:
            raise ValueError("needs a 'default' entry for DAGs not listed")
        if any(minutes < 1 for minutes in value.values()):
            raise ValueError(f"every timeout must be at least 1 minute, got {value}")
        return value

    def run_timeout(self, dag_id: str) -> timedelta:
        """The DAG's ``dagrun_timeout``."""
        return timedelta(minutes=self.run_timeout_minutes.get(dag_id, self.run_timeout_minutes["default"]))


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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, env_prefix=ENV_PREFIX, env_nested_delimiter="__",
        case_sensitive=False, env_file=DOTENV_FILE, dotenv_filtering="only_existing", toml_file=SETTINGS_FILE,
    )

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
    review: Review
    retention: Retention
    health: Health
    deploy: Deploy
    inference: Inference
    events: Events
    monitor: Monitor
    dags: Dags
    mwaa: Mwaa
    local: LocalEnvironment = LocalEnvironment()

    @field_validator("data_root", mode="before")
    @classmethod
    def _data_root_given(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty (it would make the project folder the object store): "
                             "give a folder, or unset the variable for the default .data")
        return value

    @field_validator("data_root")
    @classmethod
    def _absolute_data_root(cls, value: Path) -> Path:
        return value if value.is_absolute() else (PROJECT_ROOT / value).resolve()

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """``Settings()`` reads what :func:`get_settings` reads, in the same order (prefer :func:`load_settings`)."""
        return init_settings, env_settings, dotenv_settings, TomlConfigSettingsSource(settings_cls)

    def s3_uri(self, *parts: str) -> str:
        """``s3://bucket/part/part...`` with duplicate slashes removed."""
        key = "/".join(p.strip("/") for p in parts if p and p.strip("/"))
        return f"s3://{self.bucket}/{key}"


class _EnvironmentSource(EnvSettingsSource):
    """The ``SCONES_*`` variables of a given mapping (``os.environ`` unless a caller passes its own)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


def _section_model(field_name: str) -> type[BaseModel] | None:
    annotation = Settings.model_fields[field_name].annotation
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def env_name(dotted: str) -> str:
    """The variable of a setting: ``'training.epochs'`` -> ``SCONES_TRAINING__EPOCHS``."""
    return ENV_PREFIX + dotted.upper().replace(".", "__")


@functools.cache
def setting_variables() -> dict[str, str]:
    """Every settings variable and the setting it sets, e.g. ``{"SCONES_TRAINING__EPOCHS": "training.epochs"}``."""
    variables: dict[str, str] = {}
    for name in Settings.model_fields:
        section = _section_model(name)
        for dotted in [f"{name}.{key}" for key in section.model_fields] if section else [name]:
            variables[env_name(dotted)] = dotted
    return variables


def _takes_json(dotted: str) -> bool:
    section, _, key = dotted.partition(".")
    model = _section_model(section)
    field = model.model_fields[key] if model and key else Settings.model_fields[section]
    origin = getattr(field.annotation, "__origin__", field.annotation)
    return origin in (list, dict) or (isinstance(origin, type) and issubclass(origin, BaseModel))


def _closest_setting(name: str) -> str:
    known = setting_variables()
    closest = max(known, key=lambda candidate: difflib.SequenceMatcher(None, name, candidate).ratio())
    return f"{closest} (setting '{known[closest]}')"


def _variable_problems(variables: Mapping[str, tuple[str, str]]) -> list[str]:
    """Misspelt ``SCONES_*`` names and lists or tables that are not JSON; ``variables``: name -> (value, where)."""
    known = setting_variables()
    problems = []
    for name, (value, where) in sorted(variables.items()):
        if name in NOT_SETTINGS:
            continue
        if name not in known:
            problems.append(f"{name} ({where}) is not a setting: did you mean {_closest_setting(name)}?")
        elif _takes_json(known[name]):
            try:
                json.loads(value)
            except json.JSONDecodeError as exc:
                problems.append(f"setting '{known[name]}' (env {name}, {where}): {value!r} is not JSON ({exc}); "
                                'lists and tables are given as JSON, e.g. ["a", "b"] or {"key": "value"}')
    return problems


def _scones_variables(source: EnvSettingsSource, where: str) -> dict[str, tuple[str, str]]:
    return {name.upper(): (value or "", where) for name, value in source.env_vars.items()
            if name.upper().startswith(ENV_PREFIX)}


def _overlay(lower: dict[str, Any], higher: dict[str, Any]) -> dict[str, Any]:
    """``higher`` over ``lower``: a section merges key by key; any other value (a list, a table) is replaced whole."""
    merged = dict(lower)
    for name, value in higher.items():
        if name in Settings.model_fields and _section_model(name) and isinstance(merged.get(name), dict):
            merged[name] = {**merged[name], **value}
        else:
            merged[name] = value
    return merged


def _variable_of(location: tuple[Any, ...]) -> str:
    """The variable that sets the value at ``location``: a list item or table entry is set with its whole value."""
    depth = 2 if location and str(location[0]) in Settings.model_fields and _section_model(str(location[0])) else 1
    return env_name(".".join(str(part) for part in location[:depth]))


RETIRED_SETTINGS = {
    "inference.max_photos_per_interval": "inference.photos_per_execution (an interval's photos are never capped: "
                                         "beyond photos_per_execution they run as further executions)",
}
"""Settings that no longer exist, and what replaced them: refused with the replacement, not a guess."""


def _retired_problems(file_values: Mapping[str, Any], variables: Mapping[str, tuple[str, str]]) -> list[str]:
    problems = []
    for dotted, replacement in RETIRED_SETTINGS.items():
        section, key = dotted.split(".")
        variable = env_name(dotted)
        if key in (file_values.get(section) or {}) or variable in variables:
            problems.append(f"setting '{dotted}' (env {variable}) is retired: use {replacement}")
    return problems


def load_settings(path: Path = SETTINGS_FILE, environ: Mapping[str, str] | None = None,
                  env_file: Path | None = None) -> Settings:
    """Read the settings file, then ``env_file`` (a ``.env``) over it, then ``environ`` (default ``os.environ``) over
    that, and validate. Without ``env_file`` no ``.env`` is read: :func:`get_settings` passes the project's."""
    environment = _EnvironmentSource(Settings, dict(os.environ if environ is None else environ))
    if not path.is_file():
        raise SettingsError(f"settings file {path} not found")
    try:
        file_source = TomlConfigSettingsSource(Settings, toml_file=path)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"settings file {path} is not valid TOML: {exc}") from exc
    dotenv = DotEnvSettingsSource(Settings, env_file=env_file)
    variables = {**_scones_variables(dotenv, f"in {env_file}"), **_scones_variables(environment, "in the environment")}
    file_values = file_source()
    retired = _retired_problems(file_values, variables)
    if retired:
        raise SettingsError("; ".join(retired))
    problems = _variable_problems(variables)
    if problems:
        note = f" (SCONES_* variables are settings, apart from {', '.join(NOT_SETTINGS)})"
        raise SettingsError("; ".join(problems) + (note if "is not a setting" in "".join(problems) else ""))
    values = _overlay(_overlay(file_values, dotenv()), environment())
    try:
        # Settings(...) with prebuilt sources: model_validate would run BaseSettings' own default sources too.
        settings = Settings(_build_sources=((InitSettingsSource(Settings, init_kwargs=values),), {}))
    except ValidationError as exc:
        read = ", ".join(str(p) for p in (path, env_file) if p)
        problems = [
            f"setting '{'.'.join(str(p) for p in err['loc'])}' (env {_variable_of(err['loc'])}): {err['msg']}"
            for err in exc.errors()
        ]
        raise SettingsError(f"invalid settings in {read}: " + "; ".join(problems)) from exc
    conflicts = consistency_problems(settings)
    if conflicts:
        raise SettingsError(f"settings in {path} that can't work together: " + "; ".join(conflicts))
    return settings


def dotenv_file(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The ``.env`` a process reads: ``SCONES_ENV_FILE`` when set (empty: none), else ``.env`` at the project root."""
    configured = environ.get(ENV_FILE_VARIABLE)
    if configured is None:
        return DOTENV_FILE if DOTENV_FILE.is_file() else None
    if not configured.strip():
        return None
    chosen = Path(configured).expanduser()
    if not chosen.is_file():
        raise SettingsError(f"{ENV_FILE_VARIABLE}={configured} names no file: point it at a .env, or set it empty")
    return chosen


def export_dotenv_aws_variables(environ: os._Environ[str] | dict[str, str] = os.environ) -> dict[str, str]:
    """Put the ``.env``'s ``AWS_*`` variables (``AWS_PROFILE``, ``AWS_DEFAULT_REGION``, ...) into ``environ`` where
    it has none, so the boto3 sessions a command creates use them; returns the variables set."""
    from dotenv import dotenv_values  # python-dotenv, which pydantic-settings reads .env files with

    env_file = dotenv_file(environ)
    if env_file is None:
        return {}
    exported = {name: value for name, value in dotenv_values(env_file).items()
                if name.startswith("AWS_") and value is not None and name not in environ}
    environ.update(exported)
    return exported


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings: the file, the project's ``.env`` and the environment (read once; tests call
    ``get_settings.cache_clear()``)."""
    return load_settings(environ=os.environ, env_file=dotenv_file())
