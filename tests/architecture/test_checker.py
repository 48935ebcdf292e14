"""The structure checks on small packages written for each case: what they report, and what
they must not (so that ``test_structure.py`` fails exactly when the library breaks a rule)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.architecture.structure import (
    Package,
    describe_cycles,
    environment_reads,
    factory_imports,
    import_cycles,
    imports_into,
    load_package,
    long_modules,
)


def package(root: Path, files: dict[str, str]) -> Package:
    """``files``: path under package ``pkg`` -> source. Every directory gets an ``__init__``."""
    for relative, source in {"__init__.py": "", **files}.items():
        path = root / "pkg" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(root).parents:
            if parent != Path(".") and not (root / parent / "__init__.py").exists():
                (root / parent / "__init__.py").write_text("")
        path.write_text(textwrap.dedent(source))
    return load_package(root, "pkg")


def cycle_paths(pkg: Package) -> list[list[str]]:
    return [path for path, _ in import_cycles(pkg)]


def lines(findings: list) -> list[str]:
    return [str(finding) for finding in findings]


# ---------------------------------------------------------------- cycles


def test_a_cycle_of_top_level_imports_is_reported_with_each_import_line(tmp_path: Path) -> None:
    pkg = package(tmp_path, {"a.py": "import os\nfrom pkg import b\n", "b.py": "from pkg.a import thing\n"})

    cycles = import_cycles(pkg)

    assert [path for path, _ in cycles] == [["pkg.a", "pkg.b", "pkg.a"]]
    report = describe_cycles(cycles)
    assert "pkg/a.py:2  pkg.a imports pkg.b" in report
    assert "pkg/b.py:1  pkg.b imports pkg.a" in report


def test_an_import_inside_a_function_closes_a_cycle(tmp_path: Path) -> None:
    pkg = package(tmp_path, {"a.py": "import pkg.b\n", "b.py": "def later():\n    from pkg import a\n"})

    [(path, edges)] = import_cycles(pkg)

    assert path == ["pkg.a", "pkg.b", "pkg.a"]
    assert [edge.kind for edge in edges] == ["top", "lazy"]


def test_type_checking_imports_make_no_cycle_but_their_else_branch_does(tmp_path: Path) -> None:
    type_only = package(
        tmp_path / "one",
        {"a.py": "import pkg.b\n", "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n"},
    )
    with_else = package(
        tmp_path / "two",
        {
            "a.py": "import pkg.b\n",
            "b.py": "import typing\nif typing.TYPE_CHECKING:\n    pass\nelse:\n    from pkg import a\n",
        },
    )

    assert cycle_paths(type_only) == []
    assert cycle_paths(with_else) == [["pkg.a", "pkg.b", "pkg.a"]]


def test_relative_imports_resolve_against_the_importing_package(tmp_path: Path) -> None:
    pkg = package(
        tmp_path,
        {
            "sub/x.py": "from . import y\nfrom ..top import value\n",
            "sub/y.py": "from .x import name\n",
            "top.py": "value = 1\n",
        },
    )

    edges = {(edge.importer, edge.imported) for edge in pkg.edges}

    assert {("pkg.sub.x", "pkg.sub.y"), ("pkg.sub.x", "pkg.top"), ("pkg.sub.y", "pkg.sub.x")} <= edges
    assert cycle_paths(pkg) == [["pkg.sub.x", "pkg.sub.y", "pkg.sub.x"]]


def test_importing_a_name_from_a_package_depends_on_its_init(tmp_path: Path) -> None:
    pkg = package(tmp_path, {"__init__.py": "from pkg.a import helper\n", "a.py": "from pkg import VERSION\n"})

    assert cycle_paths(pkg) == [["pkg", "pkg.a", "pkg"]]


def test_dynamic_imports_are_followed_through_literals_prefixes_and_registries(tmp_path: Path) -> None:
    pkg = package(
        tmp_path,
        {
            "registry.py": """
                import importlib
                HANDLERS = ("pkg.jobs.title", "pkg.jobs.index")
                def load():
                    for name in HANDLERS:
                        importlib.import_module(name)
                def one():
                    importlib.import_module("pkg.jobs.title")
                def family(name):
                    return importlib.import_module(f"pkg.args.{name}")
                def elsewhere():
                    importlib.import_module("json")
            """,
            "jobs/title.py": "",
            "jobs/index.py": "from pkg.registry import load\n",
            "args/threads.py": "",
            "args/messages.py": "",
        },
    )

    dynamic = sorted({edge.imported for edge in pkg.edges if edge.kind == "dynamic"})

    assert dynamic == ["pkg.args.messages", "pkg.args.threads", "pkg.jobs.index", "pkg.jobs.title"]
    assert pkg.unresolved == []
    assert cycle_paths(pkg) == [["pkg.jobs.index", "pkg.registry", "pkg.jobs.index"]]


def test_a_dynamic_import_the_source_does_not_name_is_reported(tmp_path: Path) -> None:
    pkg = package(tmp_path, {"loader.py": "import importlib\ndef load(name):\n    return importlib.import_module(name)\n"})

    assert lines(pkg.unresolved) == ["pkg/loader.py:3  a dynamic import whose modules cannot be read from the source"]


def test_every_distinct_cycle_of_a_tangle_is_reported_once(tmp_path: Path) -> None:
    pkg = package(
        tmp_path,
        {"a.py": "import pkg.b\nimport pkg.c\n", "b.py": "import pkg.a\n", "c.py": "import pkg.d\n", "d.py": "import pkg.a\n"},
    )

    assert sorted(cycle_paths(pkg)) == [["pkg.a", "pkg.b", "pkg.a"], ["pkg.c", "pkg.d", "pkg.a", "pkg.c"]]


# ---------------------------------------------------------------- environment


def test_environment_reads_are_found_under_any_spelling_outside_the_allowed_module(tmp_path: Path) -> None:
    pkg = package(
        tmp_path,
        {
            "settings.py": "import os\nREGION = os.environ.get('AWS_REGION')\ndef get_settings():\n    return os.environ\n",
            "aliased.py": "import os as system\nregion = system.environ['AWS_REGION']\n",
            "by_name.py": "from os import getenv\n",
            "called.py": "import os\nregion = os.getenv('AWS_REGION')\n",
            "paths.py": "import os.path\nhome = os.path.expanduser('~')\n",
            "indirect.py": "from pkg.settings import get_settings\nsettings = get_settings()\n",
            "explicit.py": "from pkg.settings import get_settings\nsettings = get_settings(env={})\n",
            "root.py": "from pkg.settings import get_settings\nsettings = get_settings()\n",
            "unrelated.py": "def get_settings():\n    return {}\nvalue = get_settings()\n",
        },
    )

    findings = environment_reads(
        pkg, allowed={"pkg.settings"}, settings_readers={"pkg.settings": {"get_settings"}}, may_read_settings={"pkg.root"}
    )

    assert lines(findings) == [
        "pkg/aliased.py:2  reads os.environ",
        "pkg/by_name.py:1  imports os.getenv",
        "pkg/called.py:2  reads os.getenv",
        "pkg/indirect.py:2  reads the environment through get_settings()",
    ]


# ---------------------------------------------------------------- layers, sizes, factories


def test_imports_of_a_subpackage_from_outside_it_are_found_type_only_ones_included(tmp_path: Path) -> None:
    pkg = package(
        tmp_path,
        {
            "api/auth.py": "from pkg.api import errors\n",
            "api/errors.py": "",
            "ops.py": "from pkg.api.auth import Principal\n",
            "hints.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.api import errors\n",
            "apiary.py": "",
            "bees.py": "import pkg.apiary\n",
        },
    )

    assert lines(imports_into(pkg, "pkg.api")) == [
        "pkg/hints.py:3  pkg.hints imports pkg.api.errors (type-only)",
        "pkg/ops.py:1  pkg.ops imports pkg.api.auth",
    ]
    assert imports_into(pkg, "pkg.api", allowed={"pkg.hints", "pkg.ops"}) == []


def test_modules_over_the_line_limit_are_listed_longest_first(tmp_path: Path) -> None:
    pkg = package(tmp_path, {"at_limit.py": "x = 1\n" * 800, "over.py": "x = 1\n" * 801, "far_over.py": "x = 1\n" * 900})

    assert lines(long_modules(pkg, 800)) == [
        "pkg/far_over.py:1  900 lines (limit 800)",
        "pkg/over.py:1  801 lines (limit 800)",
    ]


def test_factory_modules_may_be_imported_only_by_the_allowed_modules(tmp_path: Path) -> None:
    pkg = package(
        tmp_path,
        {
            "storage/factory.py": "",
            "storage/store.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.storage.factory import create\n",
            "memory.py": "def open(url):\n    from pkg.storage.factory import create\n",
            "runtime.py": "from pkg.storage import factory\n",
            "factory_tools.py": "",
            "user.py": "import pkg.factory_tools\n",
        },
    )

    assert lines(factory_imports(pkg, allowed={"pkg.runtime"})) == ["pkg/memory.py:2  pkg.memory imports pkg.storage.factory (lazy)"]


def test_a_package_that_keeps_the_rules_reports_nothing(tmp_path: Path) -> None:
    pkg = package(
        tmp_path,
        {
            "settings.py": "import os\ndef get_settings():\n    return os.environ\n",
            "runtime.py": "from pkg.settings import get_settings\nfrom pkg.store import factory\nsettings = get_settings()\n",
            "store/factory.py": "from pkg.store import base\n",
            "store/base.py": "import json\n",
            "api/app.py": "from pkg import runtime\n",
        },
    )

    assert pkg.unresolved == []
    assert import_cycles(pkg) == []
    assert environment_reads(
        pkg, allowed={"pkg.settings"}, settings_readers={"pkg.settings": {"get_settings"}}, may_read_settings={"pkg.runtime"}
    ) == []
    assert imports_into(pkg, "pkg.api") == []
    assert long_modules(pkg, 800) == []
    assert factory_imports(pkg, allowed={"pkg.runtime"}) == []
