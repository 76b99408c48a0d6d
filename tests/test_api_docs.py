"""The published contract is the enforced one, and the worked examples in docs/ really work."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from connectors.emulator import SandboxServer
from deployments.api_docs import DOCS, rendered
from deployments.ingress import create_app
from models.db import create_schema, make_engine
from models.settings import FieldbridgeSettings

EXAMPLES = DOCS / "examples"
SECRET = "whsec_docs_example"


def test_published_schemas_and_openapi_match_the_code() -> None:
    for rel, text in rendered().items():
        published = DOCS / rel
        assert published.exists(), f"{rel} is not published: run python -m deployments.api_docs"
        assert published.read_text() == text, f"{rel} drifted from the code: run python -m deployments.api_docs"


def test_the_example_event_validates_against_its_published_schema() -> None:
    example = json.loads((EXAMPLES / "job-closed.json").read_text())
    schema = json.loads((DOCS / "schemas" / "job-closed.schema.json").read_text())
    jsonschema.validate(example, schema)
    updated = {**example, "type": "job.updated"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(updated, schema)  # the type is pinned per schema
    no_close = json.loads(json.dumps(example))
    no_close["data"]["job"].pop("closed_at")
    with pytest.raises(jsonschema.ValidationError, match="closed_at"):
        jsonschema.validate(no_close, schema)


@pytest.fixture
def ingress_url(tmp_path: Path) -> Iterator[str]:
    engine = make_engine(f"sqlite:///{tmp_path / 'docs.db'}")
    create_schema(engine)
    server = SandboxServer(create_app(FieldbridgeSettings(home=tmp_path, ingress_secrets=SECRET), engine)).start()
    yield server.url
    server.stop()
    engine.dispose()


def test_the_python_example_signs_and_sends(ingress_url: str) -> None:
    run = subprocess.run([sys.executable, str(EXAMPLES / "send_event.py"), "--url", ingress_url, "--secret", SECRET,
                          str(EXAMPLES / "job-closed.json")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("202 ")
    again = subprocess.run([sys.executable, str(EXAMPLES / "send_event.py"), "--url", ingress_url, "--secret",
                            "wrong", str(EXAMPLES / "job-closed.json")], capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and again.stdout.startswith("401 ")


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("openssl")), reason="needs curl and openssl")
def test_the_curl_example_signs_and_sends(ingress_url: str) -> None:
    run = subprocess.run(["bash", str(EXAMPLES / "send_event.sh"), str(EXAMPLES / "job-closed.json")],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "URL": ingress_url, "SECRET": SECRET})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().endswith("202"), run.stdout


def test_the_hours_rule_table_in_the_docs_is_the_enforced_one() -> None:
    from deployments.api_docs import hours_doc

    current = (DOCS / "hours.md").read_text()
    assert hours_doc(current) == current, "docs/hours.md drifted from tasks/hours/worked.py: run " \
        "python -m deployments.api_docs"
