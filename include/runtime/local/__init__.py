"""The ``local`` runtime: the same requests executed on this machine, one implementation per capability.

Besides the capabilities it keeps the emulators they stand on: container processes for jobs, the model
server, the S3 endpoint and the state machine interpreter.
"""

from __future__ import annotations

from include.runtime.capabilities import Runtime, lazy

RUNTIME = Runtime(
    name="local",
    jobs=lazy("include.runtime.local.jobs:LocalJobs"),
    endpoints=lazy("include.runtime.local.serving:LocalEndpoints"),
    served_models=lazy("include.runtime.local.serving:LocalServedModels"),
    executions=lazy("include.runtime.local.serving:LocalExecutions"),
    interval_analysis=lazy("include.runtime.local.interval_analysis:LocalIntervalAnalysis"),
    registry=lazy("include.runtime.local.registry:LocalModelRegistry"),
    object_store=lazy("include.runtime.local.store:local_object_store"),
    object_links=lazy("include.runtime.local.object_links:LocalObjectLinks"),
    alerts=lazy("include.runtime.local.alerts:FileAlerts"),
    teardown=lazy("include.runtime.local.teardown:LocalTeardown"),
    retention=lazy("include.runtime.local.retention:LocalRetention"),
)
