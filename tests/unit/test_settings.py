from pathlib import Path

import pytest

from include.settings import (
    DOTENV_FILE,
    ENV_FILE_VARIABLE,
    NOT_SETTINGS,
    SETTINGS_FILE,
    SettingsError,
    dotenv_file,
    export_dotenv_aws_variables,
    get_settings,
    load_settings,
)


def test_defaults_load_with_local_runtime():
    settings = load_settings(environ={})
    assert settings.runtime == "local"
    assert settings.data_root.is_absolute()
    assert settings.confidence_threshold == 0.93


def test_top_level_and_section_overrides_come_from_environment(tmp_path: Path):
    settings = load_settings(environ={"SCONES_RUNTIME": "aws", "SCONES_DATA_ROOT": str(tmp_path),
                                      "SCONES_INGEST__SEED": "7"})
    assert settings.runtime == "aws"
    assert settings.data_root == tmp_path
    assert settings.ingest.seed == 7


def test_invalid_value_names_setting_and_variable():
    with pytest.raises(SettingsError) as error:
        load_settings(environ={"SCONES_RUNTIME": "cloud"})
    assert "setting 'runtime'" in str(error.value)
    assert "SCONES_RUNTIME" in str(error.value)


def test_invalid_section_value_names_nested_variable():
    with pytest.raises(SettingsError, match="SCONES_INGEST__VALIDATION_FRACTION"):
        load_settings(environ={"SCONES_INGEST__VALIDATION_FRACTION": "1.5"})


def test_missing_value_is_reported(tmp_path: Path):
    broken = tmp_path / "settings.toml"
    broken.write_text(SETTINGS_FILE.read_text().replace('bucket = "scones-mlops"', ""))
    with pytest.raises(SettingsError, match="setting 'bucket'"):
        load_settings(broken, environ={})


def test_prefix_that_leaves_the_bucket_is_refused():
    with pytest.raises(SettingsError, match=r"prefixes\.datasets"):
        load_settings(environ={"SCONES_PREFIXES__DATASETS": "../elsewhere"})


def test_schedule_can_be_switched_off():
    assert load_settings(environ={"SCONES_INGEST__SCHEDULE": "none"}).ingest.schedule is None


@pytest.mark.parametrize(("environ", "first", "second"), [
    ({"SCONES_MONITOR__USE_MODEL_MONITOR": "true", "SCONES_DEPLOY__SERVERLESS": "true"},
     "SCONES_MONITOR__USE_MODEL_MONITOR", "SCONES_DEPLOY__SERVERLESS"),
    ({"SCONES_INSTANCES__SPOT_TRAINING": "true", "SCONES_INSTANCES__MAX_WAIT_SECONDS": "600",
      "SCONES_INSTANCES__MAX_RUNTIME_SECONDS": "3600"},
     "SCONES_INSTANCES__MAX_WAIT_SECONDS", "SCONES_INSTANCES__MAX_RUNTIME_SECONDS"),
    ({"SCONES_TUNING__STRATEGY": "Grid"}, "SCONES_TUNING__STRATEGY", "SCONES_TUNING__CONTINUOUS"),
    ({"SCONES_TUNING__MAX_PARALLEL_JOBS": "9", "SCONES_TUNING__MAX_JOBS": "3"},
     "SCONES_TUNING__MAX_PARALLEL_JOBS", "SCONES_TUNING__MAX_JOBS"),
    ({"SCONES_PREFIXES__NOT_A_VEHICLE": "incoming/labelled/not-a-vehicle"},
     "SCONES_PREFIXES__NOT_A_VEHICLE", "SCONES_PREFIXES__INCOMING_LABELLED"),
    ({"SCONES_PREFIXES__NOT_A_VEHICLE": "review"}, "SCONES_PREFIXES__NOT_A_VEHICLE", "SCONES_PREFIXES__REVIEW"),
    ({"SCONES_DEPLOY__SERVERLESS": "true", "SCONES_DEPLOY__TRAFFIC_ROUTING": "CANARY"},
     "SCONES_DEPLOY__TRAFFIC_ROUTING", "SCONES_DEPLOY__SERVERLESS"),
    ({"SCONES_DEPLOY__SERVERLESS": "true", "SCONES_DEPLOY__AUTOSCALING": "true"},
     "SCONES_DEPLOY__AUTOSCALING", "SCONES_DEPLOY__SERVERLESS"),
    ({"SCONES_DEPLOY__TRAFFIC_ROUTING": "LINEAR", "SCONES_DEPLOY__TRAFFIC_STEP_PERCENT": "5",
      "SCONES_DEPLOY__INITIAL_INSTANCE_COUNT": "4"},
     "SCONES_DEPLOY__TRAFFIC_STEP_PERCENT", "SCONES_DEPLOY__TRAFFIC_ROUTING"),
    ({"SCONES_DEPLOY__TRAFFIC_ROUTING": "CANARY"}, "SCONES_DEPLOY__TRAFFIC_ROUTING",
     "SCONES_DEPLOY__INITIAL_INSTANCE_COUNT"),
    ({"SCONES_DEPLOY__TRAFFIC_ROUTING": "CANARY", "SCONES_DEPLOY__INITIAL_INSTANCE_COUNT": "2",
      "SCONES_DEPLOY__ROLLBACK_ALARMS": "[]"}, "SCONES_DEPLOY__TRAFFIC_ROUTING", "SCONES_DEPLOY__ROLLBACK_ALARMS"),
    ({"SCONES_DEPLOY__TRAFFIC_ROUTING": "LINEAR", "SCONES_DEPLOY__INITIAL_INSTANCE_COUNT": "4",
      "SCONES_DEPLOY__BAKE_MINUTES": "60"}, "SCONES_DEPLOY__BAKE_MINUTES", "SCONES_DEPLOY__TRAFFIC_STEP_PERCENT"),
    ({"SCONES_DEPLOY__TRAFFIC_ROUTING": "LINEAR", "SCONES_DEPLOY__INITIAL_INSTANCE_COUNT": "4",
      "SCONES_DEPLOY__TRAFFIC_STEP_PERCENT": "20", "SCONES_DEPLOY__BAKE_MINUTES": "60"},
     "SCONES_DEPLOY__BAKE_MINUTES", "SCONES_DAGS__DEPLOYMENT_TIMEOUT_MINUTES"),
    ({"SCONES_DEPLOY__AUTOSCALING": "true", "SCONES_DEPLOY__AUTOSCALING_MIN_INSTANCES": "5"},
     "SCONES_DEPLOY__AUTOSCALING_MIN_INSTANCES", "SCONES_DEPLOY__AUTOSCALING_MAX_INSTANCES"),
    ({"SCONES_RETENTION__REVIEW_DAYS": "30", "SCONES_REVIEW__WINDOW_DAYS": "30"},
     "SCONES_RETENTION__REVIEW_DAYS", "SCONES_REVIEW__WINDOW_DAYS"),
    ({"SCONES_INFERENCE__MAX_IMAGE_BYTES": "6291457"},
     "SCONES_INFERENCE__MAX_IMAGE_BYTES", "SCONES_DEPLOY__SERVERLESS"),
    ({"SCONES_INFERENCE__MAX_IMAGE_BYTES": "5000000", "SCONES_DEPLOY__SERVERLESS": "true"},
     "SCONES_INFERENCE__MAX_IMAGE_BYTES", "SCONES_DEPLOY__SERVERLESS"),
])
def test_impossible_combinations_are_refused_naming_both_settings(environ, first, second):
    with pytest.raises(SettingsError, match="can't work together") as error:
        load_settings(environ=environ)
    assert first in str(error.value) and second in str(error.value)


def test_each_half_of_an_impossible_combination_loads_alone():
    assert load_settings(environ={"SCONES_DEPLOY__SERVERLESS": "true"}).deploy.serverless
    assert load_settings(environ={"SCONES_MONITOR__USE_MODEL_MONITOR": "true"}).monitor.use_model_monitor
    grid = load_settings(environ={"SCONES_TUNING__STRATEGY": "Grid", "SCONES_TUNING__CONTINUOUS": "[]",
                                  "SCONES_TUNING__INTEGER": "[]"})
    assert grid.tuning.strategy == "Grid"
    canary = load_settings(environ={"SCONES_DEPLOY__TRAFFIC_ROUTING": "CANARY",
                                    "SCONES_DEPLOY__INITIAL_INSTANCE_COUNT": "2"})
    assert canary.deploy.traffic_routing == "CANARY"


def test_human_review_settings_load_with_their_defaults():
    settings = load_settings(environ={})
    assert (settings.review.queue_order, settings.review.page_size) == ("oldest_first", 24)
    assert settings.registry.approval_timeout_hours > 0 and settings.registry.watch_schedule
    assert settings.prefixes.not_a_vehicle == "incoming/not-a-vehicle"


@pytest.mark.parametrize("order", ["oldest_first", "newest_first", "lowest_margin", "lowest_margin_balanced"])
def test_the_review_queue_can_be_ordered_by_arrival_or_by_informativeness(order):
    assert load_settings(environ={"SCONES_REVIEW__QUEUE_ORDER": order}).review.queue_order == order


def test_an_unknown_queue_order_names_its_setting():
    with pytest.raises(SettingsError, match="SCONES_REVIEW__QUEUE_ORDER"):
        load_settings(environ={"SCONES_REVIEW__QUEUE_ORDER": "random"})


def dotenv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".env"
    path.write_text(text)
    return path


def test_dotenv_overrides_the_file_and_the_environment_overrides_dotenv(tmp_path: Path):
    env_file = dotenv(tmp_path, "SCONES_RUNTIME=aws\nSCONES_BUCKET=from-dotenv\n")
    settings = load_settings(environ={"SCONES_BUCKET": "from-the-shell"}, env_file=env_file)
    assert (settings.runtime, settings.bucket) == ("aws", "from-the-shell")


def test_unrelated_dotenv_entries_are_ignored(tmp_path: Path):
    env_file = dotenv(tmp_path, "# compose and the AWS CLI read these\nAIRFLOW_UID=1000\nAWS_PROFILE=dev\n"
                                "SCONES_TRAINING__EPOCHS=3\n")
    assert load_settings(environ={}, env_file=env_file).training.epochs == 3


@pytest.mark.parametrize(("where", "name", "closest"), [
    ("environment", "SCONES_TRAINING__EPOCH", "SCONES_TRAINING__EPOCHS"),
    ("environment", "SCONES_BUKET", "SCONES_BUCKET"),
    (".env", "SCONES_MONITOR__USE_MODEL_MONITORING", "SCONES_MONITOR__USE_MODEL_MONITOR"),
])
def test_misspelt_variable_is_refused_naming_the_closest_setting(tmp_path: Path, where, name, closest):
    environ, env_file = ({name: "1"}, None) if where == "environment" else ({}, dotenv(tmp_path, f"{name}=1\n"))
    with pytest.raises(SettingsError, match=f"{name} .* is not a setting: did you mean {closest} "):
        load_settings(environ=environ, env_file=env_file)


def test_scones_variables_that_are_not_settings_are_allowed():
    assert load_settings(environ=dict.fromkeys(NOT_SETTINGS, "x")).runtime == "local"


@pytest.mark.parametrize("environ", [
    {"SCONES_MONITOR__RETRAIN_COOLDOWN_HOURS": "inf"},
    {"SCONES_MONITOR__COMPARISON_THRESHOLD": "nan"},
    {"SCONES_TRAINING__LEARNING_RATE": "Infinity"},
])
def test_unbounded_numbers_are_refused(environ):
    (name,) = environ
    with pytest.raises(SettingsError, match=f"{name}\\): Input should be a finite number"):
        load_settings(environ=environ)


def test_infinite_cooldown_in_the_file_is_refused(tmp_path: Path):
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS_FILE.read_text().replace("retrain_cooldown_hours = 24", "retrain_cooldown_hours = inf"))
    with pytest.raises(SettingsError, match=r"monitor\.retrain_cooldown_hours"):
        load_settings(path, environ={})


@pytest.mark.parametrize("value", ["", "  "])
def test_empty_data_root_is_refused(value):
    with pytest.raises(SettingsError, match=r"setting 'data_root' \(env SCONES_DATA_ROOT\).*must not be empty"):
        load_settings(environ={"SCONES_DATA_ROOT": value})


def test_list_that_is_not_json_names_its_variable():
    with pytest.raises(SettingsError, match=r"setting 'deploy.rollback_alarms' \(env SCONES_DEPLOY__ROLLBACK_ALARMS"
                                            r".*'a,b' is not JSON"):
        load_settings(environ={"SCONES_DEPLOY__ROLLBACK_ALARMS": "a,b"})


def test_table_from_the_environment_replaces_the_files_table():
    settings = load_settings(environ={"SCONES_MONITOR__ACTIONS": '{"baseline_drift_check": "alert"}'})
    assert settings.monitor.actions == {"baseline_drift_check": "alert"}
    assert settings.monitor.schedule == "@hourly"


def test_invalid_list_item_names_the_lists_variable():
    with pytest.raises(SettingsError, match=r"setting 'tuning.continuous.0.max' \(env SCONES_TUNING__CONTINUOUS\)"):
        load_settings(environ={"SCONES_TUNING__CONTINUOUS": '[{"name": "dropout", "min": 0.1, "max": "high"}]'})


def test_process_settings_read_the_env_file_the_environment_names(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(ENV_FILE_VARIABLE, str(dotenv(tmp_path, "SCONES_BUCKET=from-dotenv\n")))
    get_settings.cache_clear()
    try:
        assert get_settings().bucket == "from-dotenv"
    finally:
        get_settings.cache_clear()


def test_env_file_variable_naming_no_file_is_refused(tmp_path: Path):
    with pytest.raises(SettingsError, match=f"{ENV_FILE_VARIABLE}=.* names no file"):
        dotenv_file({ENV_FILE_VARIABLE: str(tmp_path / "missing.env")})


def test_project_dotenv_is_the_default_and_an_empty_variable_reads_none():
    assert dotenv_file({ENV_FILE_VARIABLE: ""}) is None
    assert dotenv_file({}) in (DOTENV_FILE, None)


def test_dotenv_aws_variables_reach_boto3(tmp_path: Path, monkeypatch):
    import boto3

    config = tmp_path / "aws-config"
    config.write_text("[profile dev]\nregion = eu-west-1\n")
    monkeypatch.setenv(ENV_FILE_VARIABLE, str(dotenv(tmp_path, f"AWS_PROFILE=dev\nAWS_CONFIG_FILE={config}\n")))
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.setenv(name, "")  # recorded, so the export below is undone after the test
        monkeypatch.delenv(name)

    assert export_dotenv_aws_variables() == {"AWS_PROFILE": "dev", "AWS_CONFIG_FILE": str(config)}
    session = boto3.session.Session()
    assert (session.profile_name, session.region_name) == ("dev", "eu-west-1")


def test_the_shells_aws_variables_win_over_dotenv(tmp_path: Path):
    environ = {ENV_FILE_VARIABLE: str(dotenv(tmp_path, "AWS_PROFILE=dev\nAWS_DEFAULT_REGION=eu-west-1\n")),
               "AWS_PROFILE": "ops"}
    assert export_dotenv_aws_variables(environ) == {"AWS_DEFAULT_REGION": "eu-west-1"}
    assert environ["AWS_PROFILE"] == "ops"


def test_the_env_example_loads_as_a_dotenv():
    example = DOTENV_FILE.with_name(".env.example")
    assert load_settings(environ={}, env_file=example).runtime == "local"


@pytest.mark.parametrize(("serverless", "largest"), [("false", 6291456), ("true", 4194304)])
def test_photo_byte_limit_may_reach_the_endpoint_payload_limit(serverless: str, largest: int):
    settings = load_settings(environ={"SCONES_DEPLOY__SERVERLESS": serverless,
                                      "SCONES_INFERENCE__MAX_IMAGE_BYTES": str(largest)})
    assert settings.inference.max_image_bytes == largest
