"""Both training workflows end in the same approval: after the baseline, a reviewer when approval is manual."""

from __future__ import annotations

from datetime import timedelta

import pytest

from include.settings import PROJECT_ROOT, get_settings
from include.workflows.approval import ModelApprovalRequest


@pytest.fixture(scope="module")
def training_dags():
    from airflow.dag_processing.dagbag import DagBag

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCONES_REGISTRY__APPROVAL_TIMEOUT_HOURS", "6")
        get_settings.cache_clear()
        bag = DagBag(str(PROJECT_ROOT / "dags"))
    get_settings.cache_clear()
    assert bag.import_errors == {}
    return {dag_id: bag.dags[dag_id] for dag_id in ("scones_train", "scones_tune")}


@pytest.mark.parametrize("dag_id", ["scones_train", "scones_tune"])
def test_the_review_waits_as_long_as_the_setting_says(training_dags, dag_id):
    review = training_dags[dag_id].get_task("promote.review_model_version")
    assert isinstance(review, ModelApprovalRequest)
    assert review.response_timeout == timedelta(hours=6)
    assert review.options == ["Approve", "Reject"] and list(review.params) == ["note"]


@pytest.mark.parametrize("dag_id", ["scones_train", "scones_tune"])
def test_the_approval_follows_the_baseline_and_precedes_the_announcement(training_dags, dag_id):
    dag = training_dags[dag_id]
    assert dag.get_task("promote.baseline").downstream_task_ids == {"promote.choose_approval_path"}
    assert dag.get_task("promote.choose_approval_path").downstream_task_ids == {
        "promote.approved_at_registration", "promote.describe_for_review"}
    assert dag.get_task("promote.announce_approved_model").upstream_task_ids == {
        "promote.register_model", "promote.approved_at_registration", "promote.approved_by_reviewer"}
