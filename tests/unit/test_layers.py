"""The floors of the house (docs/design.md, "Layout"), read from the imports with ``ast``.

``contract`` at the bottom (pydantic only), ``producers`` and ``writer`` side by side on it, importing
nothing of each other, and the operations package ``nicelist`` on top of all three. A new arrow that
breaks this fails here, whether it is a module-level import or one inside a function.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PACKAGES = ("contract", "writer", "producers", "nicelist")
# What each package may import of the project's own packages.
ALLOWED = {
    "contract": {"contract"},
    "writer": {"contract", "writer"},
    "producers": {"contract", "producers"},
    "nicelist": {"contract", "writer", "producers", "nicelist"},
}
# Third-party packages a Lambda may carry: the writer's runtime, and the API's.
THIRD_PARTY = {
    "contract": {"pydantic"},
    "writer": {"pydantic", "pydantic_settings", "boto3", "botocore", "aws_lambda_powertools"},
    "producers": {
        "pydantic",
        "pydantic_settings",
        "boto3",
        "botocore",
        "aws_lambda_powertools",
        "flask",
        "werkzeug",
        "gunicorn",
    },
}


def imported_packages(source: str) -> set[str]:
    """The top-level package of every absolute import in ``source``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def imports_of(package: str) -> dict[str, set[str]]:
    return {
        str(path.relative_to(ROOT)): imported_packages(path.read_text())
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def test_the_reader_sees_relative_and_nested_imports() -> None:
    source = "import a.b\nfrom c.d import e\nfrom . import f\ndef g():\n    from h import i\n"
    assert imported_packages(source) == {"a", "c", "h"}


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_imports_only_the_floors_below_it(package: str) -> None:
    own = set(PACKAGES)
    wrong = {
        module: sorted((found & own) - ALLOWED[package])
        for module, found in imports_of(package).items()
        if (found & own) - ALLOWED[package]
    }
    assert not wrong, f"{package} must not import {wrong}"


@pytest.mark.parametrize("package", sorted(THIRD_PARTY))
def test_what_ships_to_lambda_imports_only_its_runtime(package: str) -> None:
    stdlib = set(sys.stdlib_module_names)
    allowed = THIRD_PARTY[package] | set(PACKAGES) | {"__future__"}
    wrong = {
        module: sorted(found - stdlib - allowed)
        for module, found in imports_of(package).items()
        if found - stdlib - allowed
    }
    assert not wrong, f"{package} imports packages its Lambda does not carry: {wrong}"


def test_the_check_fails_when_an_arrow_points_up() -> None:
    # A producer module that imports the writer would be caught by the same rule.
    found = imported_packages("from writer.table import TableWriter\n")
    assert (found & set(PACKAGES)) - ALLOWED["producers"] == {"writer"}


def test_test_modules_have_unique_names() -> None:
    # the test folders are not packages: two files of one name stop pytest's collection of the whole suite
    names = [path.name for path in (ROOT / "tests").rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []
