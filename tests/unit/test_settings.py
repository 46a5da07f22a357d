from pathlib import Path

import pytest

from include.settings import SETTINGS_FILE, SettingsError, load_settings


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


@pytest.mark.parametrize(("serverless", "largest"), [("false", 6291456), ("true", 4194304)])
def test_photo_byte_limit_may_reach_the_endpoint_payload_limit(serverless: str, largest: int):
    settings = load_settings(environ={"SCONES_DEPLOY__SERVERLESS": serverless,
                                      "SCONES_INFERENCE__MAX_IMAGE_BYTES": str(largest)})
    assert settings.inference.max_image_bytes == largest
