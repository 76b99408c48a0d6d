"""The core names no vendor: outside `connectors/<vendor>/`, vendor names appear only as configuration
values (the default choice of connector per role), in comments and in docstrings."""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDORS = ("hubspot", "quickbooks", "gusto", "salesforce", "xero", "bamboo", "intuit", "jobber")
CORE = ["models", "tasks", "flows", "connectors/http", "connectors/contract", "connectors/emulator",
        "connectors/registry.py", "connectors/credentials.py", "connectors/signing.py", "deployments"]
#: configuration values: which connector plays each role by default
ALLOWED = {("models/settings.py", '"hubspot"'), ("models/settings.py", '"gusto"'),
           ("models/settings.py", '"quickbooks"')}


def _docstring_lines(source: str) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and \
                    isinstance(first.value.value, str):
                lines.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return lines


def _files() -> list[Path]:
    out: list[Path] = []
    for entry in CORE:
        path = ROOT / entry
        out += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return out


def test_no_vendor_name_in_core_code() -> None:
    found = []
    for path in _files():
        source = path.read_text()
        docs = _docstring_lines(source)
        rel = str(path.relative_to(ROOT))
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE) or tok.start[0] in docs:
                continue
            text = tok.string.lower()
            if any(v in text for v in VENDORS) and (rel, tok.string) not in ALLOWED:
                found.append(f"{rel}:{tok.start[0]}: {tok.string}")
    assert found == [], "vendor names in the core:\n" + "\n".join(found)
