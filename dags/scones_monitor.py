"""
### Monitor: captured traffic is checked for drift against the serving model's baseline

Hourly, one run at a time. Finds the drift baseline of the model version the endpoint serves
(read from the endpoint, so after a rolled-back update it is the version still serving; before
the first deployment the run is skipped, not failed), then analyses the interval's Data Capture
with the project's drift analyzer, which writes Model Monitor's report files:

- a scheduled AWS run with `monitor.use_model_monitor` reads the hourly Model Monitor schedule's
  execution for its hour (the schedule is created or updated first);
- every other run — local, AWS without Model Monitor, backfills, manual runs — runs the analyzer
  over the window as a Processing job (an hour without capture files is "no traffic", no job).

The analyzer checks distances to the baseline, KS shift tests (Bonferroni-corrected,
`monitor.ks_alpha`) and a label-free accuracy estimate against `monitor.min_estimated_accuracy`,
all reported as Model Monitor violations. Each interval gets a report
(`monitoring/<endpoint>/<run key>/report/index.html`: every check with its test, threshold and
result, estimated accuracy and class share over time, the most-shifted photos, confidence
histogram, feature CDFs against the baseline). Violations map to ignore / alert / retrain
(`[monitor] actions`); a retrain triggers `scones_train` with the reason and violations in its
conf, at most once per `monitor.retrain_cooldown_hours` of data-interval time, claimed with a
conditional write so concurrent runs retrain once. Backfilled intervals report drift without
retraining (`monitor.retrain_on_backfill`). An incident alerts once, not every hour it lasts. No
traffic is reported as such, never as drift.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, PokeReturnValue, TriggerRule, dag, task
from airflow.sdk.exceptions import AirflowSkipException

from include import runtime
from include.dag_defaults import START_DATE, TAGS, default_args, rebuild_param, run_timeout
from include.deployed_model import NoModelDeployedError
from include.intervals import interval_schedule, window
from include.run_keys import is_backfill, job_name, run_key_from_context
from include.runtime.capabilities import ANALYZER_JOB, MODEL_MONITOR
from include.settings import get_settings
from include.web.task_links import DriftReportLink, with_links
from include.workflows.monitoring import analysis, announce, baseline, decision, report, results, retraining
from include.xcoms import optional_upstream_value

settings = get_settings()

FIRST_TASK_OF_PATH = {MODEL_MONITOR: "ensure_schedule", ANALYZER_JOB: "list_capture_hours"}
EXECUTION_POKE_SECONDS = settings.poll_interval_seconds * 10
EXECUTION_TIMEOUT_SECONDS = 2 * 3600
WINDOW_PARAMS = {
    name: Param(None, type=["null", "string"], format="date-time",
                description=f"manual runs: analyse this window instead of the data interval ({name})")
    for name in ("window_start", "window_end")
}


@dag(
    schedule=interval_schedule(settings.monitor.schedule),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=run_timeout(settings, "scones_monitor"),
    max_consecutive_failed_dag_runs=settings.dags.max_consecutive_failed_runs,
    default_args=default_args(settings),
    params={**WINDOW_PARAMS, **rebuild_param()},
    tags=[*TAGS, "monitoring"],
    doc_md=__doc__,
)
def scones_monitor():
    @task
    def find_baseline() -> str:
        try:
            return baseline.baseline_for_serving_model(settings, runtime.served_models(settings),
                                                       runtime.model_registry(settings), runtime.object_store(settings))
        except NoModelDeployedError as nothing_serves:
            raise AirflowSkipException(f"nothing to monitor: {nothing_serves}") from nothing_serves

    @task.branch
    def choose_monitoring_path(**context) -> str:
        path = runtime.interval_analysis(settings).choose_path(context["dag_run"], datetime.now(UTC))
        print(f"analysing the window with: {path}")
        return FIRST_TASK_OF_PATH[path]

    def embedding_inputs(baseline_uri: str) -> baseline.EmbeddingInputs | None:
        return baseline.embedding_inputs(settings, runtime.served_models(settings), runtime.model_registry(settings),
                                         runtime.object_store(settings), baseline_uri)

    @task
    def ensure_schedule(baseline_uri: str) -> dict:
        request = analysis.build_schedule_request(settings, baseline_uri, embedding_inputs(baseline_uri))
        return runtime.interval_analysis(settings).ensure_schedule(request)

    @task.sensor(mode="reschedule", poke_interval=EXECUTION_POKE_SECONDS, timeout=EXECUTION_TIMEOUT_SECONDS)
    def wait_for_interval_execution(schedule: dict, **context) -> PokeReturnValue:
        start, end = window(context)
        outcome = runtime.interval_analysis(settings).poll_interval_execution(schedule, start, end)
        return PokeReturnValue(is_done=outcome is not None, xcom_value=outcome)

    @task
    def list_capture_hours(**context) -> list[str]:
        start, end = window(context)
        return analysis.capture_hour_prefixes(settings, runtime.object_store(settings), start, end)

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def window_has_capture(capture_hours: list[str]) -> bool:
        if not capture_hours:
            print("no capture files in or next to the window: no traffic, no analysis job")
        return bool(capture_hours)

    @task
    def build_analysis_request(capture_hours: list[str], baseline_uri: str, **context) -> dict:
        key = run_key_from_context(context)
        start, end = window(context)
        return analysis.build_analysis_request(
            settings, runtime.object_store(settings), run_key=key, job_name=job_name("monitor", key),
            capture_uris=capture_hours, baseline_uri=baseline_uri, start=start, end=end,
            embedding=embedding_inputs(baseline_uri))

    @task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def read_interval_result(**context) -> dict:
        # One path ran and the others were skipped: read each as optional.
        ti = context["ti"]
        return results.interval_result(runtime.object_store(settings),
                                       execution=optional_upstream_value(ti, "wait_for_interval_execution"),
                                       analysis_job=optional_upstream_value(ti, "analyze_window"),
                                       capture_hours=optional_upstream_value(ti, "list_capture_hours"))

    @task
    def write_monitoring_report(result: dict, baseline_uri: str, **context) -> str:
        start, _ = window(context)
        return report.write_report(settings, runtime.object_store(settings),
                                   run_key=run_key_from_context(context), result_uri=result["output_uri"],
                                   baseline_uri=baseline_uri, interval_start=start)

    @task(multiple_outputs=True)
    def decide_action(result: dict, **context) -> dict:
        """Decide, and claim the retrain in the same step (a conditional write), so concurrent runs retrain once."""
        key = run_key_from_context(context)
        _, end = window(context)
        verdict = retraining.decide_and_claim(settings, runtime.object_store(settings), result, run_key=key,
                                              interval_end=end, backfill=is_backfill(context["dag_run"]))
        return {**verdict.as_dict(), "retrain_conf": decision.retrain_conf(verdict, key)}

    @task
    def announce_decision(verdict: dict, report_uri: str, **context) -> str:
        start, end = window(context)
        return announce.announce_interval(settings, runtime.object_store(settings), runtime.alerts(settings),
                                          verdict, run_key=run_key_from_context(context), report_uri=report_uri,
                                          start=start, end=end)

    @task
    def publish_model_health() -> str:
        """The static model-health page in the bucket, for where the UI's model-health view is not served."""
        from include.health.publish import publish_health_page  # Jinja and the page: at run time, not parse time

        return publish_health_page(settings, runtime.object_store(settings), runtime.model_registry(settings),
                                   runtime.served_models(settings), runtime.object_links(settings))

    @task.short_circuit
    def retrain_decided(verdict: dict) -> bool:
        return verdict["action"] == "retrain"

    baseline_uri = find_baseline()
    path = choose_monitoring_path()
    baseline_uri >> path

    schedule = ensure_schedule(baseline_uri)
    execution = wait_for_interval_execution(schedule)

    capture_hours = list_capture_hours()
    path >> [schedule, capture_hours]
    request = build_analysis_request(capture_hours, baseline_uri)
    window_has_capture(capture_hours) >> request
    analysis_job = runtime.processing_job(task_id="analyze_window", config=request)

    result = read_interval_result()
    [execution, analysis_job, capture_hours] >> result
    report_uri = with_links(write_monitoring_report(result, baseline_uri), DriftReportLink())
    verdict = decide_action(result)
    announce_decision(verdict, report_uri) >> publish_model_health()

    trigger_retraining = TriggerDagRunOperator(
        task_id="trigger_retraining",
        trigger_dag_id="scones_train",
        trigger_run_id="monitor__{{ run_id }}",
        logical_date=None,  # keyed by this run id: a retried trigger finds the same scones_train run
        conf=verdict["retrain_conf"],
        wait_for_completion=False,
        skip_when_already_exists=True,
    )
    retrain_decided(verdict) >> trigger_retraining


scones_monitor()
