"""checkov, the AWS community's IaC scanner, over template.yaml: no finding goes unexplained.

Every check checkov runs on the template either passes or is skipped inline, on the resource,
with the reason it does not apply to a serverless memory service::

    Metadata:
      checkov:
        skip:
          - id: CKV_AWS_117
            comment: No VPC: ...

A new resource or property that trips a check fails here until it is fixed or explained the same
way. checkov runs from its own venv (.venv-checkov, installed on first use: it pins boto3 and
other libraries at versions the project does not use), offline (``--skip-download``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.local import stack

REPO_ROOT = Path(__file__).resolve().parents[2]

# What the template does about the checks that apply: the customer-managed key option on the
# table, the queues and the logs, and the ops function's concurrency cap.
FIXED = {
    ("CKV_AWS_119", "AWS::DynamoDB::Table.MemoryTable"),
    ("CKV_AWS_27", "AWS::SQS::Queue.JobsQueue"),
    ("CKV_AWS_27", "AWS::SQS::Queue.JobsDLQ"),
    ("CKV_AWS_27", "AWS::SQS::Queue.MemoryOpsFailures"),
    ("CKV_AWS_158", "AWS::Logs::LogGroup.ApiAccessLogs"),
    ("CKV_AWS_158", "AWS::Logs::LogGroup.ApiFunctionLogs"),
    ("CKV_AWS_158", "AWS::Logs::LogGroup.MemoryOpsFunctionLogs"),
    ("CKV_AWS_158", "AWS::Logs::LogGroup.WorkerFunctionLogs"),
    ("CKV_AWS_115", "AWS::Serverless::Function.MemoryOpsFunction"),
}
# checkov's comment when a skip gives none.
NO_COMMENT = "No comment provided"


@pytest.fixture(scope="module")
def scan() -> dict[str, list[dict[str, Any]]]:
    checkov = stack.ensure_checkov()
    result = subprocess.run(
        [str(checkov), "--file", "template.yaml", "--framework", "cloudformation", "--output", "json", "--skip-download"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
        check=False,
    )
    # Exit status 1 means findings, which the tests below report one by one.
    assert result.returncode in (0, 1), result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["summary"]["parsing_errors"] == 0, report["summary"]
    return report["results"]


def _findings(checks: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(check["check_id"], check["resource"]) for check in checks}


@pytest.mark.checkov
def test_checkov_finds_nothing_the_template_does_not_fix_or_explain(scan: dict[str, list[dict[str, Any]]]) -> None:
    failed = [f"{check['check_id']} on {check['resource']}: {check['check_name']}" for check in scan["failed_checks"]]
    assert failed == [], "\n".join(failed)


@pytest.mark.checkov
def test_every_skipped_check_says_why_it_does_not_apply(scan: dict[str, list[dict[str, Any]]]) -> None:
    assert scan["skipped_checks"], "no skips read: has checkov stopped reading Metadata/checkov?"
    for check in scan["skipped_checks"]:
        comment = check["check_result"].get("suppress_comment") or NO_COMMENT
        assert comment != NO_COMMENT and len(comment.split()) >= 8, (check["check_id"], check["resource"], comment)


@pytest.mark.checkov
def test_the_checks_that_apply_pass_rather_than_being_skipped(scan: dict[str, list[dict[str, Any]]]) -> None:
    assert FIXED <= _findings(scan["passed_checks"])
    assert not FIXED & _findings(scan["skipped_checks"])
