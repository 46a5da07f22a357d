"""The ``aws`` runtime: the Amazon provider's operators and AWS clients, one per capability."""

from __future__ import annotations

from include.runtime.capabilities import Runtime, lazy

RUNTIME = Runtime(
    name="aws",
    jobs=lazy("include.runtime.aws.jobs:AwsJobs"),
    endpoints=lazy("include.runtime.aws.serving:AwsEndpoints"),
    served_models=lazy("include.runtime.aws.serving:SageMakerServedModels"),
    executions=lazy("include.runtime.aws.serving:AwsExecutions"),
    interval_analysis=lazy("include.runtime.aws.interval_analysis:ModelMonitorAnalysis"),
    registry=lazy("include.runtime.aws.registry:SageMakerModelRegistry"),
    object_store=lazy("include.runtime.aws.store:s3_object_store"),
    object_links=lazy("include.runtime.aws.object_links:S3ConsoleLinks"),
    alerts=lazy("include.runtime.aws.alerts:SnsAlerts"),
    teardown=lazy("include.runtime.aws.teardown:SageMakerTeardown"),
    retention=lazy("include.runtime.aws.retention:LifecycleRetention"),
)
