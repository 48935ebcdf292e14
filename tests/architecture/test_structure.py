"""The structure issue 12 asks of the library, checked statically over ``layers/memkit``.

Each rule of the issue that today's tree breaks is a strict xfail naming what breaks it: the
suite stays green while the restructuring is planned (docs/architecture.md), and the marker must
go in the change that makes the rule hold, because a strict xfail that passes fails the run.
``tests/architecture/test_checker.py`` shows each check failing and passing on small packages.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.architecture.structure import (
    Finding,
    Package,
    describe_cycles,
    environment_reads,
    factory_imports,
    import_cycles,
    imports_into,
    load_package,
    long_modules,
    report,
)

SOURCE_ROOT = Path(__file__).resolve().parents[2] / "layers"
MAX_MODULE_LINES = 800
SETTINGS = "memkit.settings"
#: the one place that builds adapters from settings (issue 12)
COMPOSITION_ROOT = "memkit.runtime"
#: the package root re-exports a few names lazily for library users, factories among them
PUBLIC_EXPORTS = "memkit"
#: functions of memkit.settings that read the process environment when called without arguments
SETTINGS_ENVIRONMENT_READERS = {SETTINGS: {"get_settings", "from_env", "in_lambda"}}


def broken_until_issue_12(what_breaks_it: str) -> pytest.MarkDecorator:
    """Strict: once the rule holds, the passing test fails the run until the marker goes."""
    return pytest.mark.xfail(strict=True, raises=pytest.fail.Exception, reason=f"issue 12: {what_breaks_it}")


def require_none(findings: list[Finding], what: str) -> None:
    if findings:
        pytest.fail(report(findings, what), pytrace=False)


@pytest.fixture(scope="module")
def memkit() -> Package:
    return load_package(SOURCE_ROOT, "memkit")


def test_every_dynamic_import_in_the_library_names_the_modules_it_imports(memkit: Package) -> None:
    # The cycle check follows importlib.import_module through literals and registries; an import
    # it cannot follow could close a cycle unseen.
    require_none(memkit.unresolved, "dynamic import(s) the checks cannot follow")


@broken_until_issue_12(
    "jobs.handlers loads titles and recall.indexing (HANDLER_MODULES), which import it; "
    "titles -> llm.factory -> llm.local -> titles"
)
def test_no_import_cycle_among_library_modules(memkit: Package) -> None:
    cycles = import_cycles(memkit)
    if cycles:
        pytest.fail(describe_cycles(cycles), pytrace=False)


@broken_until_issue_12(
    "storage/dynamodb.py reads AWS_REGION/AWS_ENDPOINT_URL_*; api/auth.py and cache/factory.py "
    "call in_lambda(); jobs/handlers.py calls get_settings()"
)
def test_only_settings_reads_the_environment(memkit: Package) -> None:
    findings = environment_reads(
        memkit,
        allowed={SETTINGS},
        settings_readers=SETTINGS_ENVIRONMENT_READERS,
        may_read_settings={COMPOSITION_ROOT},
    )
    require_none(findings, f"environment read(s) outside {SETTINGS}")


def test_nothing_outside_the_http_api_imports_it(memkit: Package) -> None:
    findings = imports_into(memkit, "memkit.api")
    require_none(findings, "import(s) of memkit.api from outside it")


def test_no_module_is_over_800_lines(memkit: Package) -> None:
    findings = long_modules(memkit, MAX_MODULE_LINES)
    require_none(findings, f"module(s) over {MAX_MODULE_LINES} lines")


@broken_until_issue_12(
    "Memory builds a store from a URL, composite.create_store calls the storage factory, "
    "titles picks its language model through llm.factory"
)
def test_only_the_composition_root_calls_the_adapter_factories(memkit: Package) -> None:
    # Adapter factories live in ``<port>/factory.py``: importing one is the only way to call it.
    findings = factory_imports(memkit, allowed={COMPOSITION_ROOT, SETTINGS, PUBLIC_EXPORTS})
    require_none(findings, f"import(s) of an adapter factory outside {COMPOSITION_ROOT}")
