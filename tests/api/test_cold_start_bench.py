"""``make bench``'s cold-start section runs end to end (the numbers themselves are machine-
dependent and reported, not asserted)."""

from __future__ import annotations

import pytest

from bench.cold_start import TARGET_RATIO, measure

pytestmark = [pytest.mark.dynamodb, pytest.mark.slow]


def test_cold_start_measure_reports_medians_and_the_ratio(dynamodb_endpoint: str) -> None:
    rows = measure(runs=1, dynamodb_endpoint=dynamodb_endpoint)

    by_case = {row["case"]: row for row in rows}
    boto3 = by_case["python -c 'import boto3'"]
    handler = by_case["API handler: import + first request (DynamoDB)"]
    assert boto3["median ms"] > 0 and handler["median ms"] > 0
    assert 0 < handler["to response ms"] <= handler["median ms"] and handler["cpu ms"] > 0
    for case in (
        "floor: the required parts alone, same request (no memkit)",
        "other first requests: list a thread's messages",
        "other first requests: save 2 messages",
    ):
        assert 0 < by_case[case]["to response ms"] <= by_case[case]["median ms"], case
    ratio_row = by_case[f"ratio handler / boto3 (target <= {TARGET_RATIO})"]
    assert ratio_row["x boto3"] == f"{handler['median ms'] / boto3['median ms']:.2f}"
    assert ratio_row["x boto3 to response"] == f"{handler['to response ms'] / boto3['to response ms']:.2f}"
    assert ratio_row["verdict"] == ("meets target" if float(ratio_row["x boto3"]) <= TARGET_RATIO else "OVER TARGET")
