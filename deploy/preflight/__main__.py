"""``python -m deploy.preflight``: one line per check, with the fix; exit 1 when any fails.

The settings load as for any command (``include/settings.toml``, ``.env``, the environment); the AWS
credentials and profile too (``.env``'s ``AWS_*`` variables when the shell has none).
"""

from __future__ import annotations

import sys

from deploy.cloudformation.stack_parameters import StackParameterError
from deploy.preflight.checks import Clients, run_checks
from include.settings import SettingsError, export_dotenv_aws_variables, get_settings


def clients_for(region: str) -> Clients:
    import boto3

    session = boto3.session.Session(region_name=region)
    return Clients(sts=session.client("sts"), s3=session.client("s3"), iam=session.client("iam"),
                   stepfunctions=session.client("stepfunctions"), lambda_=session.client("lambda"),
                   ecr=session.client("ecr"), mwaa=session.client("mwaa"))


def main(argv: list[str] | None = None) -> int:
    export_dotenv_aws_variables()
    try:
        settings = get_settings()
        checks = run_checks(settings, clients_for(settings.region))
    except (SettingsError, StackParameterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for check in checks:
        print(check.line())
    failed = [c for c in checks if not c.ok]
    print(f"{len(checks) - len(failed)} of {len(checks)} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
