"""template.yaml as data: CloudFormation's short tags, and its Rules evaluated for given parameters.

The same reading serves the template tests and ``make deploy-check``, so what the check says about
parameters is what CloudFormation will say, only before anything is built or uploaded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

TEMPLATE_PATH = Path(__file__).resolve().parents[1] / "template.yaml"


class CloudFormationLoader(yaml.SafeLoader):
    """PyYAML's safe loader plus CloudFormation's short tags (``!Ref x`` -> ``{"Ref": "x"}``)."""


def _construct_short_tag(loader: CloudFormationLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    return {f"Fn::{tag_suffix}": value}


CloudFormationLoader.add_multi_constructor("!", _construct_short_tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=CloudFormationLoader)  # noqa: S506 (a SafeLoader subclass)


def parameter_values(template: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    """Every parameter's value as CloudFormation would take it: the given one, else the default."""
    values = {}
    for name, spec in template["Parameters"].items():
        if name in given:
            values[name] = given[name]
        elif "Default" in spec:
            values[name] = str(spec["Default"])
    return values


def parameter_problems(template: Mapping[str, Any], given: Mapping[str, str]) -> list[str]:
    """What CloudFormation would refuse about these parameters: unknown names, missing values,
    values outside AllowedValues or AllowedPattern, and failed Rules assertions."""
    problems = [f"{name} is not a parameter of template.yaml" for name in given if name not in template["Parameters"]]
    values = parameter_values(template, given)
    for name, spec in template["Parameters"].items():
        if name not in values:
            problems.append(f"{name} has no default: give it a value")
            continue
        value = values[name]
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in [str(a) for a in allowed]:
            problems.append(f"{name}={value!r} is not one of {', '.join(str(a) for a in allowed)}")
        pattern = spec.get("AllowedPattern")
        if pattern is not None and not re.fullmatch(pattern, value):
            problems.append(f"{name}={value!r}: {spec.get('ConstraintDescription') or 'does not match ' + pattern}")
    for rule in (template.get("Rules") or {}).values():
        if "RuleCondition" in rule and not _evaluate(rule["RuleCondition"], values):
            continue
        for assertion in rule["Assertions"]:
            if not _evaluate(assertion["Assert"], values):
                problems.append(assertion.get("AssertDescription", "a template rule fails"))
    return problems


def _evaluate(expression: Any, values: Mapping[str, str]) -> Any:
    """The rule functions CloudFormation allows in Rules, over parameter values."""
    if not isinstance(expression, dict):
        return expression
    (function, argument), = expression.items()
    if function == "Ref":
        return values.get(argument, "")
    if function == "Fn::Equals":
        left, right = (_evaluate(a, values) for a in argument)
        return str(left) == str(right)
    if function == "Fn::Not":
        return not _evaluate(argument[0], values)
    if function == "Fn::And":
        return all(_evaluate(a, values) for a in argument)
    if function == "Fn::Or":
        return any(_evaluate(a, values) for a in argument)
    if function == "Fn::Contains":
        # Contains [list, value]: a comma-delimited parameter is a list of its entries.
        haystack, needle = (_evaluate(a, values) for a in argument)
        items = haystack.split(",") if isinstance(haystack, str) else haystack
        return str(needle) in [str(item) for item in items]
    raise ValueError(f"template.yaml Rules use {function}, which make deploy-check does not evaluate")
