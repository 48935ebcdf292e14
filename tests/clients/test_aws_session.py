"""Every AWS client memkit builds comes from one botocore session per process (``memkit.clients.aws``):
the table's (through pynamodb), the job queue's, and the Secrets Manager client Powertools
Parameters reads ``secretsmanager:`` settings with. A fresh interpreter counts the sessions
botocore makes while each client does real work on DynamoDB Local and moto."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import boto3
import pytest

pytestmark = pytest.mark.dynamodb

CHILD = r"""
import json, sys
import botocore.session

sessions = []
original_init = botocore.session.Session.__init__
def counting_init(self, *args, **kwargs):
    sessions.append(self)
    original_init(self, *args, **kwargs)
botocore.session.Session.__init__ = counting_init

from memkit.jobs.sqs import SqsQueue
from memkit.models import Thread
from memkit.clients.secrets import resolve_secret
from memkit.storage.memory.dynamodb.store import DynamoDBStore

table, queue_url, secret = sys.argv[1:4]
store = DynamoDBStore(table, create_table=True)
store.save_thread(Thread(id="t1", resourceId="r1", title="kept", createdAt="2026-01-01T00:00:00Z", updatedAt="2026-01-01T00:00:00Z"))
SqsQueue(queue_url).enqueue({"type": "noop"})
boto3_before_the_secret = "boto3" in sys.modules
print(json.dumps({
    "title": store.get_thread("t1").title,
    "key": resolve_secret("secretsmanager:" + secret),
    "sessions": len(sessions),
    "boto3 before the secret": boto3_before_the_secret,
}))
"""


def test_the_table_the_queue_and_secrets_share_one_botocore_session(dynamodb_endpoint: str, sqs_endpoint: str) -> None:
    queue_url = boto3.client("sqs").create_queue(QueueName=f"memkit-clients-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    secret = f"memkit/tests/{uuid.uuid4().hex[:8]}"
    # moto serves Secrets Manager next to SQS.
    boto3.client("secretsmanager", endpoint_url=sqs_endpoint).create_secret(Name=secret, SecretString="the-key")

    env = {**os.environ, "AWS_ENDPOINT_URL_SECRETS_MANAGER": sqs_endpoint}
    result = subprocess.run(
        [sys.executable, "-c", CHILD, f"memkit-clients-{uuid.uuid4().hex[:8]}", queue_url, secret],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])

    assert outcome["title"] == "kept"
    assert outcome["key"] == "the-key"
    assert outcome["sessions"] == 1
    # The table and the queue are plain botocore clients: boto3 is only imported by Powertools
    # Parameters, for the secret.
    assert outcome["boto3 before the secret"] is False
    received = boto3.client("sqs").receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])
    assert [json.loads(message["Body"])["type"] for message in received] == ["noop"]
