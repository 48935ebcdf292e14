"""The structure of the library, checked statically over ``layers/memkit`` (the rules and why:
``docs/architecture.md``). ``tests/architecture/test_checker.py`` shows each check failing and
passing on small packages.
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
#: where adapters are built from settings: the runtime, and the composition module it shares
#: with ``Memory(url)`` (which must not import the runtime, since the runtime imports Memory)
COMPOSITION_ROOT = {"memkit.runtime", "memkit.composition"}
#: the package root re-exports a few names lazily for library users, factories among them
PUBLIC_EXPORTS = "memkit"
#: functions of memkit.settings that read the process environment when called without arguments
SETTINGS_ENVIRONMENT_READERS = {SETTINGS: {"get_settings", "from_env"}}


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


def test_no_import_cycle_among_library_modules(memkit: Package) -> None:
    cycles = import_cycles(memkit)
    if cycles:
        pytest.fail(describe_cycles(cycles), pytrace=False)


def test_only_settings_reads_the_environment(memkit: Package) -> None:
    findings = environment_reads(
        memkit,
        allowed={SETTINGS},
        settings_readers=SETTINGS_ENVIRONMENT_READERS,
        may_read_settings=COMPOSITION_ROOT,
    )
    require_none(findings, f"environment read(s) outside {SETTINGS}")


def test_nothing_outside_the_http_api_imports_it(memkit: Package) -> None:
    findings = imports_into(memkit, "memkit.api")
    require_none(findings, "import(s) of memkit.api from outside it")


def test_no_module_is_over_800_lines(memkit: Package) -> None:
    findings = long_modules(memkit, MAX_MODULE_LINES)
    require_none(findings, f"module(s) over {MAX_MODULE_LINES} lines")


def test_only_the_composition_root_calls_the_adapter_factories(memkit: Package) -> None:
    # Adapter factories live in ``<port>/factory.py``: importing one is the only way to call it.
    findings = factory_imports(memkit, allowed={*COMPOSITION_ROOT, SETTINGS, PUBLIC_EXPORTS})
    require_none(findings, f"import(s) of an adapter factory outside {sorted(COMPOSITION_ROOT)}")
