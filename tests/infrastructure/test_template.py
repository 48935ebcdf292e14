"""template.yaml checked where cfn-lint is blind, and kept in step with the code it deploys.

cfn-lint does not check enum values on ``AWS::Serverless::*`` resources (a bad Runtime or
FunctionResponseTypes passes), knows nothing about which env vars memkit reads, and cannot
know that the store's table and the template's must be the same. These tests parse the
template (with CloudFormation's short tags) and compare it with the library itself. The
``sam`` tests run the real `sam validate --lint` and `sam build`.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.cfn_template import load_template
from infra.local import stack
from memkit.api.auth import Authenticator
from memkit.settings import Settings
from memkit.storage.dynamodb import table as dynamodb

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
SETTINGS_SOURCE = REPO_ROOT / "layers" / "memkit" / "settings.py"
DYNAMODB_SOURCES = [
    *(REPO_ROOT / "layers" / "memkit" / "storage" / "dynamodb").glob("*.py"),
    *(REPO_ROOT / "layers" / "memkit" / "storage" / "memory" / "dynamodb").glob("*.py"),
]

FUNCTIONS = ("ApiFunction", "MemoryOpsFunction", "WorkerFunction")
ENQUEUERS = {"ApiFunction", "MemoryOpsFunction"}
TABLE_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    # Transactions are authorised per item action; this one backs their condition checks.
    "dynamodb:ConditionCheckItem",
}
TABLE_RESOURCES = [{"Fn::GetAtt": ["MemoryTable", "Arn"]}, {"Fn::Sub": "${MemoryTable.Arn}/index/*"}]
SECRET_PARAMETERS = {"ApiKeySecretArn", "UpstashTokenSecretArn", "PineconeApiKeySecretArn"}
# Environment variables memkit does not read itself: Powertools and pydantic read these.
LIBRARY_VARIABLES = {
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "PYDANTIC_DISABLE_PLUGINS",
}


# ---------------------------------------------------------------------- loading the template


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in template["Resources"].items() if body["Type"] == resource_type}


def _function_property(template: dict[str, Any], function: str, name: str) -> Any:
    """A function's property as SAM sees it: its own, else the Globals one."""
    own = template["Resources"][function]["Properties"]
    return own[name] if name in own else template["Globals"]["Function"][name]


def _environment(template: dict[str, Any], function: str) -> dict[str, Any]:
    """A function's variables after SAM merges Globals in (the function's own win)."""
    merged = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    merged.update(template["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {}))
    return merged


@dataclass(frozen=True)
class Grant:
    """One IAM statement of a function, with the condition that includes it (None: always)."""

    condition: str | None
    actions: tuple[str, ...]
    resources: tuple[Any, ...]


def _grants(template: dict[str, Any], function: str) -> list[Grant]:
    grants = []
    for policy in template["Resources"][function]["Properties"].get("Policies", []):
        condition = None
        if isinstance(policy, dict) and "Fn::If" in policy:
            condition, policy, otherwise = policy["Fn::If"]
            assert otherwise == {"Ref": "AWS::NoValue"}, f"{function}: a conditional policy must add nothing when off"
        # SAM policy templates and managed policy names (strings) hide what they grant.
        assert isinstance(policy, dict) and set(policy) == {"Statement"}, (
            f"{function}: policies must be inline statements, got {policy!r}"
        )
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            grants.append(Grant(condition, tuple(actions), tuple(resources)))
    return grants


def _walk(node: Any, conditions: tuple[str, ...] = ()) -> Iterator[tuple[Any, tuple[str, ...]]]:
    """Every value in ``node``, with the Fn::If conditions under which it is used."""
    yield node, conditions
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            condition, when_true, when_false = node["Fn::If"]
            yield from _walk(when_true, (*conditions, condition))
            yield from _walk(when_false, (*conditions, f"!{condition}"))
            return
        for value in node.values():
            yield from _walk(value, conditions)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value, conditions)


def _referenced_names(node: Any) -> set[str]:
    """Parameters and resources a single Ref or Sub names."""
    if isinstance(node, dict) and set(node) == {"Ref"}:
        return {node["Ref"]}
    if isinstance(node, dict) and set(node) == {"Fn::Sub"}:
        text = node["Fn::Sub"] if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"][0]
        return {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
    return set()


# ---------------------------------------------------------------------- functions and layer


def test_every_function_runs_python313_on_arm64_with_the_memkit_layer(template: dict[str, Any]) -> None:
    assert set(_resources_of_type(template, "AWS::Serverless::Function")) == set(FUNCTIONS)
    for function in FUNCTIONS:
        assert _function_property(template, function, "Runtime") == "python3.13", function
        assert _function_property(template, function, "Architectures") == ["arm64"], function
        assert _function_property(template, function, "Layers") == [{"Ref": "MemkitLayer"}], function

    layer = template["Resources"]["MemkitLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "layers/"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    # The build recipe SAM runs for a makefile layer must exist under that exact target name.
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert re.search(r"^build-MemkitLayer:", (REPO_ROOT / "layers" / "Makefile").read_text(), re.MULTILINE)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_handler_path_names_a_handler_function(template: dict[str, Any], function: str) -> None:
    # Given the handler SAM will package, e.g. functions/api/ + app.handler
    properties = template["Resources"][function]["Properties"]
    code_dir = REPO_ROOT / properties["CodeUri"]
    module, attribute = properties["Handler"].rsplit(".", 1)

    # Then sam build finds a requirements file, and the module defines the handler
    assert (code_dir / "requirements.txt").is_file(), f"{code_dir}/requirements.txt is missing (sam build needs it)"
    source = code_dir / f"{module.replace('.', '/')}.py"
    assert source.is_file(), f"{function}: {source.relative_to(REPO_ROOT)} does not exist"
    defined = set()
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):
            defined.update(target.id for target in node.targets if isinstance(target, ast.Name))
    assert attribute in defined, f"{function}: {source.relative_to(REPO_ROOT)} defines no {attribute!r}"


def test_the_worker_reports_partial_batch_failures_from_the_jobs_queue(template: dict[str, Any]) -> None:
    events = template["Resources"]["WorkerFunction"]["Properties"]["Events"]
    assert [event["Type"] for event in events.values()] == ["SQS"]
    (sqs,) = (event["Properties"] for event in events.values())
    assert sqs["Queue"] == {"Fn::GetAtt": ["JobsQueue", "Arn"]}
    # Exactly this list: without it one failed job retries the whole batch.
    assert sqs["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert sqs["BatchSize"] == {"Ref": "WorkerBatchSize"}
    assert sqs["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "WorkerMaxConcurrency"}}
    parameters = template["Parameters"]
    assert 1 <= parameters["WorkerBatchSize"]["Default"] <= 10
    # Lambda's allowed range for MaximumConcurrency.
    assert parameters["WorkerMaxConcurrency"]["MinValue"] >= 2
    assert parameters["WorkerMaxConcurrency"]["MaxValue"] <= 1000


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_deploy_reaches_the_invoked_code(template: dict[str, Any], function: str) -> None:
    # SAM's auto-published versions ignore layer-only and parameter-only changes, so an alias
    # would keep serving the old library and settings (docs/deploy.md, "Why no SnapStart").
    properties = template["Resources"][function]["Properties"]
    assert "AutoPublishAlias" not in properties and "AutoPublishAlias" not in template["Globals"]["Function"]


def test_the_ops_function_has_no_trigger(template: dict[str, Any]) -> None:
    assert "Events" not in template["Resources"]["MemoryOpsFunction"]["Properties"]


# ---------------------------------------------------------------------- the table


def _normalised_table(definition: dict[str, Any]) -> dict[str, Any]:
    """The parts of a table that must match, in a form where list order does not count."""

    def keys(schema: list[dict[str, str]]) -> dict[str, str]:
        return {key["KeyType"]: key["AttributeName"] for key in schema}

    return {
        "BillingMode": definition.get("BillingMode", "PROVISIONED"),
        "AttributeDefinitions": {
            attribute["AttributeName"]: attribute["AttributeType"] for attribute in definition["AttributeDefinitions"]
        },
        "KeySchema": keys(definition["KeySchema"]),
        "GlobalSecondaryIndexes": {
            index["IndexName"]: {"KeySchema": keys(index["KeySchema"]), "Projection": index["Projection"]}
            for index in definition.get("GlobalSecondaryIndexes", [])
        },
        "LocalSecondaryIndexes": {
            index["IndexName"]: {"KeySchema": keys(index["KeySchema"]), "Projection": index["Projection"]}
            for index in definition.get("LocalSecondaryIndexes", [])
        },
    }


def test_the_template_table_is_the_table_the_store_creates(template: dict[str, Any]) -> None:
    deployed = template["Resources"]["MemoryTable"]["Properties"]
    created = dynamodb.table_definition("memkit-template-test")
    assert _normalised_table(deployed) == _normalised_table(created)
    assert deployed["TimeToLiveSpecification"] == {"AttributeName": dynamodb.TTL_ATTRIBUTE, "Enabled": True}


def test_every_index_the_store_names_exists_in_the_template(template: dict[str, Any]) -> None:
    # Given every index name written in the adapter's source (queries and index models alike)
    named = {
        node.value
        for source in DYNAMODB_SOURCES
        for node in ast.walk(ast.parse(source.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"GSI\d+", node.value)
    }
    assert named, "found no GSI names in the DynamoDB adapter: has the naming changed?"
    # Then the deployed table has each of them
    deployed = {index["IndexName"] for index in template["Resources"]["MemoryTable"]["Properties"]["GlobalSecondaryIndexes"]}
    assert named <= deployed


def test_the_table_keeps_its_data(template: dict[str, Any]) -> None:
    table = template["Resources"]["MemoryTable"]
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    properties = table["Properties"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert "TableName" not in properties, "a fixed name would block replacement and a second stack per account"


# ---------------------------------------------------------------------- queues


def test_jobs_dead_letter_after_three_receives_and_the_dlq_keeps_them_two_weeks(template: dict[str, Any]) -> None:
    jobs = template["Resources"]["JobsQueue"]["Properties"]
    dlq = template["Resources"]["JobsDLQ"]["Properties"]
    assert jobs["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": ["JobsDLQ", "Arn"]}, "maxReceiveCount": 3}
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    # Only the jobs queue may dead-letter into the DLQ: its ARN, built from its name.
    assert dlq["RedriveAllowPolicy"]["redrivePermission"] == "byQueue"
    (source_arn,) = dlq["RedriveAllowPolicy"]["sourceQueueArns"]
    assert source_arn["Fn::Sub"].endswith(":" + jobs["QueueName"]["Fn::Sub"])


def test_the_visibility_timeout_is_six_worker_timeouts_for_every_allowed_timeout(template: dict[str, Any]) -> None:
    worker_timeout = template["Parameters"]["WorkerTimeout"]
    visibility = template["Mappings"]["WorkerTimeouts"]
    assert template["Resources"]["WorkerFunction"]["Properties"]["Timeout"] == {"Ref": "WorkerTimeout"}
    assert template["Resources"]["JobsQueue"]["Properties"]["VisibilityTimeout"] == {
        "Fn::FindInMap": ["WorkerTimeouts", {"Ref": "WorkerTimeout"}, "VisibilityTimeout"]
    }
    assert worker_timeout["Default"] in worker_timeout["AllowedValues"]
    assert {int(seconds) for seconds in visibility} == set(worker_timeout["AllowedValues"])
    for seconds, entry in visibility.items():
        assert entry == {"VisibilityTimeout": 6 * int(seconds)}, f"WorkerTimeout {seconds}"
    # Lambda's and SQS's ceilings.
    assert max(worker_timeout["AllowedValues"]) <= 900
    assert max(entry["VisibilityTimeout"] for entry in visibility.values()) <= 12 * 3600


@pytest.mark.parametrize(("alarm_name", "queue"), [("JobsDLQAlarm", "JobsDLQ"), ("MemoryOpsFailuresAlarm", "MemoryOpsFailures")])
def test_a_failed_message_raises_an_alarm(template: dict[str, Any], alarm_name: str, queue: str) -> None:
    alarm = template["Resources"][alarm_name]["Properties"]
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["AlarmActions"] == {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}


def test_async_memory_operations_that_keep_failing_are_kept(template: dict[str, Any]) -> None:
    # An EventBridge event whose operation fails server-side is raised for Lambda to retry;
    # after the retries it must land somewhere, not vanish.
    config = template["Resources"]["MemoryOpsFunction"]["Properties"]["EventInvokeConfig"]
    assert config["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["MemoryOpsFailures", "Arn"]},
    }
    failures = template["Resources"]["MemoryOpsFailures"]["Properties"]
    assert failures["MessageRetentionPeriod"] == 14 * 24 * 3600


# ---------------------------------------------------------------------- IAM


@pytest.mark.parametrize("function", FUNCTIONS)
def test_table_access_is_item_level_and_scoped_to_the_table(template: dict[str, Any], function: str) -> None:
    table_grants = [grant for grant in _grants(template, function) if any(a.startswith("dynamodb:") for a in grant.actions)]
    assert len(table_grants) == 1, f"{function}: expected one unconditional table statement"
    (grant,) = table_grants
    assert grant.condition is None
    # No Scan, no table management (the stack owns the table), no wildcards.
    assert set(grant.actions) == TABLE_ACTIONS
    assert list(grant.resources) == TABLE_RESOURCES


@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_statement_grants_every_resource_or_every_action(template: dict[str, Any], function: str) -> None:
    for grant in _grants(template, function):
        for resource in grant.resources:
            assert resource != "*" and not (isinstance(resource, str) and resource.endswith(":*")), (function, grant)
        for action in grant.actions:
            assert "*" not in action, (function, grant)


def test_only_the_api_and_ops_functions_enqueue_jobs(template: dict[str, Any]) -> None:
    for function in FUNCTIONS:
        sqs_grants = [grant for grant in _grants(template, function) if any(a.startswith("sqs:") for a in grant.actions)]
        if function in ENQUEUERS:
            assert [(g.condition, g.actions, g.resources) for g in sqs_grants] == [
                (None, ("sqs:SendMessage",), ({"Fn::GetAtt": ["JobsQueue", "Arn"]},))
            ], function
        else:
            # The worker consumes through its event source mapping, which SAM grants.
            assert sqs_grants == [], function


@pytest.mark.parametrize("function", FUNCTIONS)
def test_secrets_are_readable_only_when_configured_and_only_those(template: dict[str, Any], function: str) -> None:
    # Given the secret references in the function's environment (and their conditions)
    referenced = set()
    for value, conditions in _walk(_environment(template, function)):
        if isinstance(value, dict) and "Fn::Sub" in value and str(value["Fn::Sub"]).startswith("secretsmanager:"):
            (parameter,) = _referenced_names(value)
            referenced.add((parameter, conditions[-1] if conditions else None))

    # Then it may read exactly those secrets, under the same conditions, and nothing else
    granted = set()
    for grant in _grants(template, function):
        if any(action.startswith("secretsmanager:") for action in grant.actions):
            assert grant.actions == ("secretsmanager:GetSecretValue",), grant
            (resource,) = grant.resources
            assert set(resource) == {"Ref"} and resource["Ref"] in SECRET_PARAMETERS, grant
            granted.add((resource["Ref"], grant.condition))
    assert granted == referenced
    assert all(condition is not None for _, condition in granted), "a secret grant must be conditional"


def test_bedrock_is_invoked_only_on_the_configured_models(template: dict[str, Any]) -> None:
    def model_grants(function: str) -> set[tuple[str | None, str]]:
        found = set()
        for grant in _grants(template, function):
            if any(action.startswith("bedrock:") for action in grant.actions):
                assert grant.actions == ("bedrock:InvokeModel",), grant
                (resource,) = grant.resources
                assert resource["Fn::Sub"].startswith("arn:${AWS::Partition}:bedrock:${AWS::Region}::foundation-model/")
                (parameter,) = _referenced_names(resource) - {"AWS::Partition", "AWS::Region"}
                found.add((grant.condition, parameter))
        return found

    # Recall embeds queries in the request path; only the worker writes titles.
    embedding = ("HasPinecone", "EmbeddingModelId")
    assert model_grants("ApiFunction") == {embedding}
    assert model_grants("MemoryOpsFunction") == {embedding}
    assert model_grants("WorkerFunction") == {embedding, ("HasTitleModel", "TitleModelId")}


def test_the_models_the_functions_are_told_to_use_are_the_models_they_may_invoke(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["MEMKIT_TITLE_MODEL"] == {
        "Fn::If": ["HasTitleModel", {"Fn::Sub": "bedrock/${TitleModelId}"}, "local"]
    }
    assert variables["MEMKIT_EMBEDDER"] == {
        "Fn::If": ["HasPinecone", {"Fn::Sub": "bedrock/${EmbeddingModelId}"}, {"Ref": "AWS::NoValue"}]
    }
    # Titan Text Embeddings v2 offers 256, 512 or 1024 dimensions.
    assert template["Parameters"]["EmbeddingModelId"]["Default"] == "amazon.titan-embed-text-v2:0"
    assert template["Parameters"]["EmbeddingDimension"]["Default"] in (256, 512, 1024)


# ---------------------------------------------------------------------- configuration


def _variables_settings_reads() -> set[str]:
    """Every string constant in settings.py shaped like an env var name."""
    return {
        node.value
        for node in ast.walk(ast.parse(SETTINGS_SOURCE.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"[A-Z][A-Z0-9_]+", node.value)
    }


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_variable_the_template_sets_is_one_memkit_reads(template: dict[str, Any], function: str) -> None:
    unknown = set(_environment(template, function)) - _variables_settings_reads() - LIBRARY_VARIABLES
    assert not unknown, f"{function} sets variables nothing reads: {sorted(unknown)}"


def test_the_functions_store_in_the_stack_table_and_never_create_tables(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["MEMKIT_STORAGE_URL"] == {"Fn::Sub": "dynamodb://${MemoryTable}"}
    assert variables["MEMKIT_CREATE_TABLES"] == "0"
    assert variables["MEMKIT_JOBS"] == "sqs"
    assert variables["MEMKIT_QUEUE_URL"] == {"Ref": "JobsQueue"}
    assert variables["POWERTOOLS_SERVICE_NAME"] == "memkit"
    assert variables["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}


def test_the_api_auth_mode_is_the_parameter_and_none_must_be_forced(template: dict[str, Any]) -> None:
    variables = _environment(template, "ApiFunction")
    assert template["Parameters"]["AuthMode"]["AllowedValues"] == ["api-key", "jwt", "none"]
    assert variables["MEMKIT_AUTH"] == {"Ref": "AuthMode"}
    assert variables["MEMKIT_AUTH_FORCE_NONE"] == {"Fn::If": ["IsNoAuth", "1", {"Ref": "AWS::NoValue"}]}
    rule = template["Rules"]["NoAuthMustBeForced"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "AuthMode"}, "none"]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "ForceNoAuth"}, "true"]}


SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:memkit/{}-AbCdEf"
KMS_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
DEPLOYMENTS = {
    "defaults": {"ApiKeySecretArn": SECRET_ARN.format("api-key")},
    "jwt-with-every-option": {
        "AuthMode": "jwt",
        "JwtIssuer": "https://issuer.example.com/",
        "JwtAudience": "agents",
        "UpstashRestUrl": "https://memkit.upstash.io",
        "UpstashTokenSecretArn": SECRET_ARN.format("upstash"),
        "PineconeIndexHost": "memkit-abc.svc.example.pinecone.io",
        "PineconeApiKeySecretArn": SECRET_ARN.format("pinecone"),
        "AgentsConfig": "/opt/python/memkit.toml",
        "TitleModelId": "",
        "EnableTracing": "true",
        "KmsKeyArn": KMS_KEY_ARN,
    },
    "forced-no-auth": {"AuthMode": "none", "ForceNoAuth": "true"},
}


def _parameter_values(template: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    values = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}
    values.update(overrides)
    return values


def _resolve(node: Any, template: dict[str, Any], parameters: dict[str, Any]) -> Any:
    """Evaluate the intrinsics the template's conditions and variables use, as CloudFormation would.

    Resources resolve to placeholders; AWS::NoValue to None (the caller drops it)."""
    if isinstance(node, list):
        return [_resolve(value, template, parameters) for value in node]
    if not isinstance(node, dict):
        return node
    ((function, argument),) = node.items()
    if function == "Ref":
        if argument == "AWS::NoValue":
            return None
        return parameters.get(argument, f"<{argument}>")
    if function == "Condition":
        return _resolve(template["Conditions"][argument], template, parameters)
    if function == "Fn::If":
        condition, when_true, when_false = argument
        chosen = when_true if _resolve(template["Conditions"][condition], template, parameters) else when_false
        return _resolve(chosen, template, parameters)
    if function == "Fn::Equals":
        left, right = (_resolve(value, template, parameters) for value in argument)
        return left == right
    if function == "Fn::Not":
        return not _resolve(argument[0], template, parameters)
    if function == "Fn::And":
        return all(_resolve(value, template, parameters) for value in argument)
    if function == "Fn::Or":
        return any(_resolve(value, template, parameters) for value in argument)
    if function == "Fn::Sub":
        return re.sub(r"\$\{([^}]+)\}", lambda match: str(parameters.get(match.group(1), f"<{match.group(1)}>")), argument)
    raise AssertionError(f"unexpected intrinsic {function} in {node}")


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_starts_with_the_settings_the_template_gives_it(
    template: dict[str, Any], deployment: str, function: str
) -> None:
    # Given the environment CloudFormation would give the function in this deployment
    parameters = _parameter_values(template, DEPLOYMENTS[deployment])
    environment = {
        name: str(value)
        for name, value in ((name, _resolve(raw, template, parameters)) for name, raw in _environment(template, function).items())
        if value is not None
    }
    environment["AWS_LAMBDA_FUNCTION_NAME"] = function

    # Then memkit's settings accept it (this is what fails a cold start otherwise)
    settings = Settings.from_env(environment)
    assert settings.storage_url == "dynamodb://<MemoryTable>"
    assert settings.create_tables is False
    assert (settings.jobs, settings.queue_url) == ("sqs", "<JobsQueue>")
    if function == "ApiFunction":
        assert settings.auth_mode == parameters["AuthMode"]
        # The API's own init check (the others serve no HTTP and have no auth settings).
        Authenticator(settings, lambda_runtime=True)
    else:
        assert "MEMKIT_AUTH" not in environment and "MEMKIT_API_KEY" not in environment
    if parameters["PineconeIndexHost"]:
        assert settings.vector_url == f"pinecone://{parameters['PineconeIndexHost']}"
        assert settings.embedder == f"bedrock/{parameters['EmbeddingModelId']}"
        assert settings.embedding_dimension == int(parameters["EmbeddingDimension"])
    else:
        assert settings.vector_url == "none"
    assert settings.cache == ("upstash" if parameters["UpstashRestUrl"] else "none")
    assert settings.tracing is (parameters["EnableTracing"] == "true")


# Optional parameters and the conditions that must guard every use of them, so that a
# feature left off adds no variable, grant or route.
GUARDS = {
    "ApiKeySecretArn": "IsApiKeyAuth",
    "JwtIssuer": "IsJwtAuth",
    "JwtAudience": "IsJwtAuth",
    "JwtResourceClaim": "IsJwtAuth",
    "UpstashRestUrl": "HasCache",
    "UpstashTokenSecretArn": "HasCache",
    "PineconeIndexHost": "HasPinecone",
    "PineconeApiKeySecretArn": "HasPinecone",
    "EmbeddingModelId": "HasPinecone",
    "EmbeddingDimension": "HasPinecone",
    "Indexing": "HasPinecone",
    "TitleModelId": "HasTitleModel",
    "AgentsConfig": "HasAgentsConfig",
    "AlarmTopicArn": "HasAlarmTopic",
    "KmsKeyArn": "HasKmsKey",
    "OpsMaxConcurrency": "HasOpsConcurrencyCap",
}


def test_optional_features_add_nothing_when_off(template: dict[str, Any]) -> None:
    unguarded = []
    for section in ("Globals", "Resources", "Outputs"):
        for value, conditions in _walk(template.get(section, {})):
            for name in _referenced_names(value) & set(GUARDS):
                if GUARDS[name] not in conditions:
                    unguarded.append(f"{section}: {name} used outside {GUARDS[name]}: {value}")
    assert not unguarded, "\n".join(unguarded)
    # And each guard is what its name says: on exactly when the parameters are set.
    conditions = template["Conditions"]
    assert conditions["HasCache"] == {
        "Fn::And": [
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "UpstashRestUrl"}, ""]}]},
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "UpstashTokenSecretArn"}, ""]}]},
        ]
    }
    assert conditions["HasPinecone"] == {
        "Fn::And": [
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "PineconeIndexHost"}, ""]}]},
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "PineconeApiKeySecretArn"}, ""]}]},
        ]
    }


def _evaluated(node: Any, template: dict[str, Any], parameters: dict[str, Any]) -> Any:
    """A resource's properties as deployed with ``parameters``: intrinsics resolved, values that
    resolve to AWS::NoValue left out."""
    if isinstance(node, dict) and len(node) == 1 and next(iter(node)) in ("Ref", "Fn::If", "Fn::Sub"):
        return _evaluated(_resolve(node, template, parameters), template, parameters)
    if isinstance(node, dict):
        evaluated = {key: _evaluated(value, template, parameters) for key, value in node.items()}
        return {key: value for key, value in evaluated.items() if value is not None}
    if isinstance(node, list):
        return [_evaluated(value, template, parameters) for value in node]
    return node


@pytest.mark.parametrize("key", ["", KMS_KEY_ARN], ids=["aws-managed-keys", "customer-key"])
def test_stored_data_is_encrypted_with_the_customer_key_when_one_is_given(template: dict[str, Any], key: str) -> None:
    # Given a deployment with or without KmsKeyArn
    parameters = _parameter_values(template, {"KmsKeyArn": key})

    def deployed(name: str) -> dict[str, Any]:
        return _evaluated(template["Resources"][name]["Properties"], template, parameters)

    # Then the table, every queue and every log group use that key, or the AWS-managed ones
    table = deployed("MemoryTable")["SSESpecification"]
    assert table == ({"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": key} if key else {"SSEEnabled": True})
    for queue in _resources_of_type(template, "AWS::SQS::Queue"):
        encryption = {name: value for name, value in deployed(queue).items() if name in ("SqsManagedSseEnabled", "KmsMasterKeyId")}
        assert encryption == ({"KmsMasterKeyId": key} if key else {"SqsManagedSseEnabled": True}), queue
    for log_group in _resources_of_type(template, "AWS::Logs::LogGroup"):
        assert deployed(log_group).get("KmsKeyId") == (key or None), log_group


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_function_may_use_the_key_only_when_given_and_only_through_dynamodb_and_sqs(
    template: dict[str, Any], function: str
) -> None:
    kms = [grant for grant in _grants(template, function) if any(action.startswith("kms:") for action in grant.actions)]
    assert [(grant.condition, grant.resources) for grant in kms] == [("HasKmsKey", ({"Ref": "KmsKeyArn"},))]
    assert set(kms[0].actions) == {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"}
    (statement,) = (
        statement
        for policy in template["Resources"][function]["Properties"]["Policies"]
        if isinstance(policy, dict) and "Fn::If" in policy and policy["Fn::If"][0] == "HasKmsKey"
        for statement in policy["Fn::If"][1]["Statement"]
    )
    assert statement["Condition"] == {
        "StringEquals": {
            "kms:ViaService": [
                {"Fn::Sub": "dynamodb.${AWS::Region}.amazonaws.com"},
                {"Fn::Sub": "sqs.${AWS::Region}.amazonaws.com"},
            ]
        }
    }


def test_the_ops_function_reserves_the_concurrency_the_parameter_caps_it_at(template: dict[str, Any]) -> None:
    properties = template["Resources"]["MemoryOpsFunction"]["Properties"]
    assert properties["ReservedConcurrentExecutions"] == {
        "Fn::If": ["HasOpsConcurrencyCap", {"Ref": "OpsMaxConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    cap = template["Parameters"]["OpsMaxConcurrency"]
    assert cap["Default"] > 0, "capped unless a deployment opts out"
    # 0 would disable the function outright, so it means "reserve nothing" instead.
    assert template["Conditions"]["HasOpsConcurrencyCap"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "OpsMaxConcurrency"}, "0"]}]}
    # The API and the worker are bounded elsewhere (API Gateway, the SQS event source).
    assert "ReservedConcurrentExecutions" not in template["Resources"]["ApiFunction"]["Properties"]
    assert "ReservedConcurrentExecutions" not in template["Resources"]["WorkerFunction"]["Properties"]


# ---------------------------------------------------------------------- HTTP API


def test_every_api_route_is_declared_with_the_optional_jwt_authorizer(template: dict[str, Any]) -> None:
    # Given the routes the ApiFunction serves and the API's own route declarations
    events = template["Resources"]["ApiFunction"]["Properties"]["Events"]
    routes = {(event["Properties"]["Path"], event["Properties"]["Method"].lower()) for event in events.values()}
    assert all(event["Type"] == "HttpApi" and event["Properties"]["ApiId"] == {"Ref": "HttpApi"} for event in events.values())
    assert routes == {("/api/{proxy+}", "any"), ("/health", "get"), ("/openapi.json", "get")}
    body = template["Resources"]["HttpApi"]["Properties"]["DefinitionBody"]

    # Then each is declared (SAM would add an undeclared one without the authorizer), and the
    # memory routes carry the JWT authorizer exactly when AuthMode is jwt
    for path, method in routes:
        operation = "x-amazon-apigateway-any-method" if method == "any" else method
        assert operation in body["paths"][path], (path, method)
    memory_routes = body["paths"]["/api/{proxy+}"]["x-amazon-apigateway-any-method"]
    assert memory_routes["security"] == {"Fn::If": ["IsJwtAuth", [{"JwtAuthorizer": []}], {"Ref": "AWS::NoValue"}]}
    assert "security" not in body["paths"]["/health"]["get"]

    condition, components, otherwise = body["components"]["Fn::If"]
    assert (condition, otherwise) == ("IsJwtAuth", {"Ref": "AWS::NoValue"})
    authorizer = components["securitySchemes"]["JwtAuthorizer"]["x-amazon-apigateway-authorizer"]
    assert authorizer == {
        "type": "jwt",
        "identitySource": "$request.header.Authorization",
        "jwtConfiguration": {"issuer": {"Ref": "JwtIssuer"}, "audience": {"Ref": "JwtAudience"}},
    }


def test_api_access_logs_and_function_logs_expire(template: dict[str, Any]) -> None:
    api = template["Resources"]["HttpApi"]["Properties"]
    assert api["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]}
    log_groups = _resources_of_type(template, "AWS::Logs::LogGroup")
    assert all(group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"} for group in log_groups.values())
    for function in FUNCTIONS:
        log_group = template["Resources"][function]["Properties"]["LoggingConfig"]["LogGroup"]
        assert log_group["Ref"] in log_groups, function


def test_tracing_is_off_unless_asked_for(template: dict[str, Any]) -> None:
    function_globals = template["Globals"]["Function"]
    assert template["Parameters"]["EnableTracing"]["Default"] == "false"
    assert template["Conditions"]["TracingOn"] == {"Fn::Equals": [{"Ref": "EnableTracing"}, "true"]}
    assert function_globals["Tracing"] == {"Fn::If": ["TracingOn", "Active", "PassThrough"]}
    assert function_globals["Environment"]["Variables"]["MEMKIT_TRACING"] == {"Fn::If": ["TracingOn", "1", "0"]}


def test_the_outputs_name_what_a_deployment_needs(template: dict[str, Any]) -> None:
    assert {"ApiUrl", "TableName", "JobsQueueUrl", "JobsDLQUrl", "JobsDLQArn", "LayerArn", "MemoryOpsFailuresUrl"} <= set(
        template["Outputs"]
    )


# ---------------------------------------------------------------------- the SAM CLI


def _sam_environment() -> dict[str, str]:
    # sam build looks for the runtime's interpreter (python3.13) on PATH.
    python_bin = str(Path(stack.base_python()).parent)
    return {**os.environ, "PATH": os.pathsep.join([python_bin, os.environ.get("PATH", "")]), "SAM_CLI_TELEMETRY": "0"}


def _run_sam(sam: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(sam), *args],
        cwd=REPO_ROOT,
        env=_sam_environment(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )


@pytest.mark.sam
def test_sam_validate_with_lint_accepts_the_template(sam_cli: Path) -> None:
    result = _run_sam(sam_cli, "validate", "--lint", "--template-file", str(TEMPLATE_PATH), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@dataclass(frozen=True)
class SamBuild:
    artifacts: Path
    seconds: float


@pytest.fixture(scope="module")
def sam_build(sam_cli: Path, tmp_path_factory: pytest.TempPathFactory) -> SamBuild:
    scratch = tmp_path_factory.mktemp("sam-build")
    started = time.monotonic()
    result = _run_sam(
        sam_cli,
        "build",
        "--template-file", str(TEMPLATE_PATH),
        "--build-dir", str(scratch / "build"),
        # A fresh cache: a cached layer would hide a broken build recipe.
        "--cache-dir", str(scratch / "cache"),
        timeout=600,
    )
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    return SamBuild(artifacts=scratch / "build", seconds=seconds)


@pytest.mark.sam
def test_sam_build_packages_the_library_and_its_dependencies_in_the_layer(sam_build: SamBuild) -> None:
    site = sam_build.artifacts / "MemkitLayer" / "python"
    assert (site / "memkit" / "__init__.py").is_file()
    assert (site / "pydantic").is_dir()
    # Powertools Tracer needs it when EnableTracing is on (imported only then).
    assert (site / "aws_xray_sdk").is_dir()
    # Native wheels for Lambda's arm64, not the build machine's.
    (core,) = (site / "pydantic_core").glob("_pydantic_core.*.so")
    assert "aarch64" in core.name


@pytest.mark.sam
def test_sam_build_ships_a_botocore_trimmed_to_the_services_memkit_calls(sam_build: SamBuild) -> None:
    site = sam_build.artifacts / "MemkitLayer" / "python"
    # Its own boto3 with it: the runtime's boto3 must not run over another version's botocore.
    assert (site / "boto3").is_dir() and (site / "s3transfer").is_dir()
    data = site / "botocore" / "data"
    kept = sorted(path.name for path in data.iterdir() if path.is_dir())
    assert kept == sorted(["dynamodb", "sqs", "bedrock-runtime", "ssm", "secretsmanager", "sts"])


@pytest.mark.sam
def test_sam_build_ships_bytecode_valid_without_timestamps(sam_build: SamBuild) -> None:
    # /opt is read-only in Lambda: without .pyc files every cold start compiles every import.
    compiled = sam_build.artifacts / "MemkitLayer" / "python" / "memkit" / "__pycache__" / "settings.cpython-313.pyc"
    header = compiled.read_bytes()[:16]
    flags = int.from_bytes(header[4:8], "little")
    # PEP 552: bit 0 set = hash-based, bit 1 clear = not checked against the source.
    assert flags == 0b01


@pytest.mark.sam
def test_sam_build_packages_each_handler(sam_build: SamBuild, template: dict[str, Any]) -> None:
    for function in FUNCTIONS:
        handler_module = template["Resources"][function]["Properties"]["Handler"].rsplit(".", 1)[0]
        assert (sam_build.artifacts / function / f"{handler_module}.py").is_file(), function
    assert sam_build.seconds < 300, f"sam build took {sam_build.seconds:.0f}s"


def test_the_cold_start_bench_runs_the_api_function_with_the_templates_literal_variables(
    template: dict[str, Any],
) -> None:
    from bench.cold_start import _lambda_env

    bench_env = _lambda_env("http://127.0.0.1:1", create_tables=False)
    literal = {name: value for name, value in _environment(template, "ApiFunction").items() if isinstance(value, str)}
    assert "PYDANTIC_DISABLE_PLUGINS" in literal  # the scan below compares something
    assert {name: bench_env.get(name) for name in literal} == literal
