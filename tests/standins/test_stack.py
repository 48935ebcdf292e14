"""The local service launcher itself: the services answer, and failures say where to look."""

from __future__ import annotations

import os
import sys
import time

import boto3
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from infra.local import stack


@pytest.mark.dynamodb
def test_dynamodb_local_answers_at_the_exported_endpoint(dynamodb_endpoint: str) -> None:
    # Given the session's DynamoDB Local, reached only through the exported env var
    client = boto3.client("dynamodb")
    assert client.meta.endpoint_url == dynamodb_endpoint

    # When a table is created
    client.create_table(
        TableName="stack-probe",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        # Then ListTables sees it, whatever region another client uses (-sharedDb)
        other_region = boto3.client("dynamodb", region_name="eu-west-1")
        assert "stack-probe" in other_region.list_tables()["TableNames"]
    finally:
        client.delete_table(TableName="stack-probe")


@pytest.mark.redis
def test_redis_survives_an_outage_on_the_same_port(redis_server: stack.Service) -> None:
    # Given a running redis-server holding a key
    # No client retries: the outage must show at once, not after redis-py's backoff.
    client = redis.Redis(port=redis_server.port, socket_timeout=2, retry=Retry(NoBackoff(), 0))
    assert client.ping()
    client.set("stack-probe", "1")
    port = redis_server.port

    # When it is stopped, it refuses connections
    with redis_server.stopped():
        assert not redis_server.running
        with pytest.raises(redis.ConnectionError):
            client.ping()

    # Then it is back on the same port, empty (no persistence)
    assert redis_server.port == port
    assert client.ping()
    assert client.get("stack-probe") is None


@pytest.mark.sqs
def test_moto_creates_and_serves_an_sqs_queue(sqs_endpoint: str) -> None:
    # Given moto's server, reached through the exported env var
    sqs = boto3.client("sqs")
    assert sqs.meta.endpoint_url == sqs_endpoint

    # When a queue is created and used
    queue_url = sqs.create_queue(QueueName="stack-probe")["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="hello")

    # Then the message comes back
    received = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"]
    assert [message["Body"] for message in received] == ["hello"]
    sqs.delete_queue(QueueUrl=queue_url)


def test_the_session_runs_with_dummy_aws_credentials() -> None:
    assert os.environ["AWS_ACCESS_KEY_ID"] == stack.LOCAL_AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"] == "local"
    assert os.environ["AWS_REGION"] == "us-east-1"
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        assert name not in os.environ


def test_wait_until_names_what_it_waited_for() -> None:
    with pytest.raises(TimeoutError, match="the thing on port 1"):
        stack.wait_until(lambda: False, timeout=0.1, what="the thing on port 1")


def test_a_service_that_dies_at_startup_fails_fast_with_its_log() -> None:
    # Given a server that exits at once, printing why
    doomed = stack.Service(
        name="doomed-probe",
        argv=[sys.executable, "-c", "print('no such config'); raise SystemExit(3)"],
        port=stack.free_port(),
        url="",
        startup_timeout=30,
    )

    # When it is started, the error comes long before the timeout and quotes the log
    started = time.monotonic()
    with pytest.raises(stack.StackError) as failure:
        doomed.start()
    assert time.monotonic() - started < 10
    message = str(failure.value)
    assert "exited with code 3" in message
    assert "no such config" in message
    assert str(doomed.log_path) in message


def test_stop_ends_the_whole_process_group() -> None:
    # Given a service whose process forks a helper that would outlive it
    script = (
        "import socket, subprocess, sys, time\n"
        "helper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
        "print(helper.pid, flush=True)\n"
        "server = socket.create_server(('127.0.0.1', int(sys.argv[1])))\n"
        "time.sleep(300)\n"
    )
    port = stack.free_port()
    service = stack.Service(name="forking-probe", argv=[sys.executable, "-c", script, str(port)], port=port, url="")
    service.start()
    assert service.log_path is not None
    stack.wait_until(lambda: service.log_path.read_text().strip() != "", 10, "the helper's pid")
    helper_pid = int(service.log_path.read_text().split()[0])

    # When the service is stopped
    service.stop()

    # Then the helper is gone too
    stack.wait_until(lambda: not _alive(helper_pid), 10, f"helper {helper_pid} to exit")
    assert not stack.accepts_connections(port)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(") ", 1)[1][0]
    except FileNotFoundError:
        return False
    # A killed process whose parent is gone stays a zombie until init reaps it.
    return state != "Z"
