"""The import contracts of pyproject.toml hold: only labkit.aws.embedded imports moto.

import-linter reads every ``import`` statement, inside functions too; moto modules named as
strings (``importlib.import_module("moto.s3.models")``) are looked for separately, since no
import graph sees them.
"""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "labkit"
SEAM = PACKAGE / "aws" / "embedded"
IMPORTERS = {"import_module", "__import__"}


def test_import_linter_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "broken" in result.stdout and " 0 broken" in result.stdout


def moto_modules_named_as_strings(source: str) -> list[str]:
    """moto modules that `source` names in a string: a dotted ``"moto.<module>"``, or ``"moto"`` handed
    to ``import_module`` / ``__import__`` (a plain "moto" may be the distribution's name)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"moto(\.\w+)+", node.value):
            found.append(node.value)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in IMPORTERS:
            found += [arg.value for arg in node.args[:1] if isinstance(arg, ast.Constant) and arg.value == "moto"]
    return found


def test_the_string_check_finds_an_import_module_call() -> None:
    assert moto_modules_named_as_strings('importlib.import_module("moto.events.models")') == ["moto.events.models"]
    assert moto_modules_named_as_strings('__import__("moto")') == ["moto"]
    assert moto_modules_named_as_strings('"""moto. is mentioned in prose"""; KEY = ("moto", "boto3")') == []


def test_no_module_outside_the_seam_names_a_moto_module() -> None:
    outside = [path for path in PACKAGE.rglob("*.py") if SEAM not in path.parents]
    found = {str(path.relative_to(ROOT)): names for path in outside
             if (names := moto_modules_named_as_strings(path.read_text()))}
    assert found == {}, f"only labkit/aws/embedded/ may reach moto: {found}"


def imports_moto(node: ast.AST) -> bool:
    return any(
        (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "moto")
        or (isinstance(n, ast.Import) and any(alias.name.split(".")[0] == "moto" for alias in n.names))
        or (isinstance(n, ast.Constant) and isinstance(n.value, str) and re.fullmatch(r"moto(\.\w+)+", n.value))
        for n in ast.walk(node)
    )


def test_every_function_of_the_seam_that_reaches_moto_loads_it_first() -> None:
    """moto imported on two threads at once can fail half-initialised: the seam imports it under one lock."""
    missing = []
    for path in SEAM.glob("*.py"):
        if path.name == "loading.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and imports_moto(node):
                statements = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
                first_calls = [s for s in statements[:2] if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)]
                if not any(getattr(s.value.func, "id", "") == "load_moto" for s in first_calls):
                    missing.append(f"{path.name}:{node.lineno} {node.name}")
    assert missing == [], "call load_moto() first in: " + ", ".join(missing)


def test_the_sub_packages_the_course_documents_work_after_a_plain_import_labkit() -> None:
    documented = re.findall(r"labkit\.([a-z_]+)\.[a-z_]+\(", (ROOT / "README.md").read_text())
    documented += ["aws", "observe", "deploy", "clock", "cost"]
    script = "import labkit\n" + "".join(f"labkit.{name}.__name__\n" for name in sorted(set(documented)))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
