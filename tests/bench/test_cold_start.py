"""``make bench``'s cold-start section runs end to end: every child, including the one that
reads the API key from Secrets Manager as the template deploys it, must serve its first request
(a child whose request fails aborts the measurement). The numbers themselves are machine-
dependent and reported, not asserted."""

from __future__ import annotations

import pytest

from bench.cold_start import TARGET_RATIO, measure

pytestmark = [pytest.mark.dynamodb, pytest.mark.sqs, pytest.mark.slow]


def test_cold_start_measure_reports_every_case_and_both_verdicts(dynamodb_endpoint: str, sqs_endpoint: str) -> None:
    # moto's server (started for SQS) answers Secrets Manager too.
    rows = measure(runs=1, dynamodb_endpoint=dynamodb_endpoint, secrets_endpoint=sqs_endpoint)

    by_case = {row["case"]: row for row in rows}
    for case in (
        "python -c 'import boto3'",
        "API handler: import only",
        "API handler: import + first request (DynamoDB)",
        "same, API key read from Secrets Manager (template default)",
        "floor: the required parts alone, same request (no memkit)",
        "other first requests: list a thread's messages",
        "other first requests: save 2 messages",
    ):
        assert 0 < by_case[case]["to response ms"] <= by_case[case]["median ms"], case
    for case in ("handler, key given directly or jwt", "handler, key from Secrets Manager"):
        assert by_case[f"ratio {case} / boto3 (target <= {TARGET_RATIO})"]["verdict"] in ("meets target", "OVER TARGET")
