"""``make deploy-check`` refuses, before anything is built or uploaded, what sam build or
CloudFormation would refuse later, and says what to change in one line each."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra import deploy_check
from infra.cfn_template import load_template

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:memkit-api-key-AbCdEf"


def run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, list[str]]:
    code = deploy_check.main(["--skip-lint", *arguments])
    captured = capsys.readouterr()
    return code, (captured.out + captured.err).strip().splitlines()


def test_the_guided_defaults_are_refused_for_the_missing_api_key_secret(capsys: pytest.CaptureFixture[str]) -> None:
    # samconfig.toml's defaults: AuthMode api-key, no secret (what accepting --guided's prompts gives)
    code, lines = run(capsys)
    assert code == 1
    assert lines == ["deploy-check: AuthMode api-key needs ApiKeySecretArn."]


def test_a_complete_api_key_deployment_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = run(capsys, f"ApiKeySecretArn={SECRET_ARN}")
    assert code == 0, lines
    assert lines[0].startswith("deploy-check: ok (python3.13 found")


@pytest.mark.parametrize(
    ("parameters", "problem"),
    [
        (["AuthMode=jwt", "JwtIssuer=https://issuer.example"], "AuthMode jwt needs JwtAudience (no empty entries)."),
        (["AuthMode=none"], "AuthMode none leaves the API open; set ForceNoAuth=true only if something in front authenticates."),
        (["AuthMode=cookie"], "AuthMode='cookie' is not one of api-key, jwt, none"),
        ([f"ApiKeySecretArn={SECRET_ARN}", "UpstashRestUrl=https://x.upstash.io"], "Set both UpstashRestUrl and UpstashTokenSecretArn, or neither."),
        (["ApiKeySecretArn=my-secret"], "ApiKeySecretArn='my-secret': the full ARN of a Secrets Manager secret"),
        ([f"ApiKeySecretArn={SECRET_ARN}", "AuthMod=jwt"], "AuthMod is not a parameter of template.yaml"),
    ],
)
def test_a_parameter_cloudformation_would_refuse_is_named(
    capsys: pytest.CaptureFixture[str], parameters: list[str], problem: str
) -> None:
    code, lines = run(capsys, *parameters)
    assert code == 1
    assert any(line.startswith(f"deploy-check: {problem}") for line in lines), lines


def test_parameters_saved_by_guided_for_another_environment_are_read(tmp_path: Path) -> None:
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text(
        'version = 0.1\n[dev.deploy.parameters]\nparameter_overrides = "AuthMode=\\"jwt\\" JwtAudience=\\"a,b\\""\n'
    )
    assert deploy_check.configured_parameters("dev", samconfig) == {"AuthMode": "jwt", "JwtAudience": "a,b"}
    assert deploy_check.configured_parameters("prod", samconfig) == {}


def test_a_missing_runtime_interpreter_is_named_with_the_fix(tmp_path: Path) -> None:
    [problem] = deploy_check.interpreter_problems("python3.13", str(tmp_path))
    assert problem.startswith("python3.13 is not on PATH: sam build needs it")


def test_every_template_parameter_explains_itself() -> None:
    # sam deploy --guided shows only names: the descriptions are what docs/deploy.md and the
    # console show a person choosing values.
    template = load_template()
    undescribed = [name for name, spec in template["Parameters"].items() if not spec.get("Description")]
    assert undescribed == []


@pytest.mark.sam
def test_deploy_check_passes_sam_validate_lint_with_the_projects_sam_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Nothing on PATH but the SAM venv that make deploy puts first: its python3.13 counts.
    monkeypatch.setenv("PATH", str(tmp_path))
    code = deploy_check.main([f"ApiKeySecretArn={SECRET_ARN}"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert out.out.startswith("deploy-check: ok (python3.13 found")
