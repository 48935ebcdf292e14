"""``make deploy-check``: what ``sam build`` and ``sam deploy`` need, checked before anything is
built or uploaded, one line per finding.

- the runtime's interpreter on PATH (``sam build`` for ``python3.13`` looks for ``python3.13``);
- the stack parameters (``samconfig.toml``'s ``parameter_overrides`` for the chosen config
  environment, then ``Name=value`` arguments on top) against template.yaml's allowed values,
  patterns and Rules: accepting ``sam deploy --guided``'s defaults (AuthMode api-key without
  ApiKeySecretArn) would otherwise fail only at CloudFormation's rule check, after the upload;
- ``sam validate --lint`` with the project's SAM CLI (installed into .venv-sam on first use).

Usage: ``python -m infra.deploy_check [--config-env NAME] [Name=value ...]``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from infra.cfn_template import TEMPLATE_PATH, load_template, parameter_problems
from infra.local import stack

REPO_ROOT = TEMPLATE_PATH.parent
SAMCONFIG_PATH = REPO_ROOT / "samconfig.toml"


def configured_parameters(config_env: str, samconfig: Path = SAMCONFIG_PATH) -> dict[str, str]:
    """``parameter_overrides`` of ``config_env``'s deploy section (what ``--guided`` saved)."""
    if not samconfig.is_file():
        return {}
    config = tomllib.loads(samconfig.read_text())
    deploy = config.get(config_env, {}).get("deploy", {}).get("parameters", {})
    return parse_overrides(deploy.get("parameter_overrides", ""))


def parse_overrides(overrides: str | list[str]) -> dict[str, str]:
    """``Key="value" Other=value`` (samconfig's string form) or a list of such items."""
    items = shlex.split(overrides) if isinstance(overrides, str) else [i for o in overrides for i in shlex.split(o)]
    parsed = {}
    for item in items:
        name, separator, value = item.partition("=")
        if not separator:
            raise SystemExit(f"deploy-check: parameter {item!r} is not Name=value")
        parsed[name] = value
    return parsed


def interpreter_problems(runtime: str, path: str) -> list[str]:
    if shutil.which(runtime, path=path):
        return []
    return [
        f"{runtime} is not on PATH: sam build needs it for the functions' runtime "
        f"(install it, e.g. `pyenv install 3.13` and put it on PATH; make deploy adds .venv-sam/bin, which has one)"
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make deploy-check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config-env", default="default", help="samconfig.toml environment (default: default)")
    parser.add_argument("--skip-lint", action="store_true", help="do not run sam validate --lint")
    parser.add_argument("parameters", nargs="*", help="Name=value parameter overrides")
    args = parser.parse_args(argv)

    template = load_template()
    runtime = str(template["Globals"]["Function"]["Runtime"])
    given = {**configured_parameters(args.config_env), **parse_overrides(args.parameters)}
    problems = parameter_problems(template, given)
    path = os.environ.get("PATH", "")
    sam = None if args.skip_lint else stack.ensure_sam()
    if sam is not None:
        # make deploy runs sam with its venv first on PATH, and that venv has an interpreter.
        path = f"{sam.parent}{os.pathsep}{path}"
    problems = interpreter_problems(runtime, path) + problems
    if sam is not None and not problems:
        lint = subprocess.run(
            [str(sam), "validate", "--lint", "--template-file", str(TEMPLATE_PATH)],
            capture_output=True, text=True, check=False, cwd=REPO_ROOT,
        )
        if lint.returncode != 0:
            problems.append("sam validate --lint failed:\n" + (lint.stdout + lint.stderr).strip())
    for problem in problems:
        print(f"deploy-check: {problem}", file=sys.stderr)
    if problems:
        return 1
    shown = ", ".join(f"{k}={v}" for k, v in sorted(given.items())) or "the template's defaults"
    print(f"deploy-check: ok ({runtime} found; parameters: {shown})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
