"""The model registry's interface: SageMaker Model Registry, or the same records on disk, below the seam.

Both implementations (``include/runtime/aws/registry.py``, ``include/runtime/local/registry.py``) take a
CreateModelPackage request and answer with DescribeModelPackage-shaped records, so the training and
deployment workflows never know which one they use. Registration is idempotent by run: a run that
registered already gets its existing version back.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

APPROVED = "Approved"
REJECTED = "Rejected"
PENDING = "PendingManualApproval"
APPROVAL_STATUSES = (APPROVED, REJECTED, PENDING)
MODEL_PACKAGE_TAG = "scones:model-package-arn"
"""The tag a deployment puts on the SageMaker model and endpoint config it creates: the version they serve."""


@runtime_checkable
class ModelRegistry(Protocol):
    def register(self, request: dict) -> dict: ...
    def find_by_run_key(self, run_key: str) -> dict | None: ...
    def latest_approved(self) -> dict | None: ...
    def describe(self, arn: str) -> dict: ...

    def recent_versions(self, limit: int) -> list[dict]:
        """The newest ``limit`` versions of the group, newest first, each as DescribeModelPackage answers."""
        ...

    # Approval decisions (the human-in-the-loop step): an UpdateModelPackage request, see
    # include.builders.registry.approval_update_request.
    def update_approval(self, request: dict) -> dict:
        """Apply an approval update (status, who decided, when, why); returns the updated version record."""
        ...


class ModelVersionNotFoundError(LookupError):
    """No registered model version matches."""


def model_data_url(record: dict) -> str:
    return record["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
