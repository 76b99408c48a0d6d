"""Publish what the code enforces under docs/: one JSON Schema per event type, the OpenAPI document, and
the hours-worked rule table in docs/hours.md.

`python -m deployments.api_docs` rewrites them from the code; a test fails when the committed files
drift from it, so the published contract and rules are always the enforced ones.
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

from models.fsm_events import RUN_TYPES, EventType, event_json_schema

DOCS = Path(__file__).resolve().parents[1] / "docs"


def schema_for(event_type: EventType) -> dict[str, Any]:
    """The event schema narrowed to one type (`job.closed` and `job.updated` require `closed_at`)."""
    schema = copy.deepcopy(event_json_schema())
    slug = event_type.value.replace(".", "-")
    schema["$id"] = f"https://fieldbridge.dev/schemas/{slug}.schema.json"
    schema["title"] = f"fieldbridge event: {event_type.value}"
    schema["properties"]["type"] = {"const": event_type.value, "type": "string"}
    job = schema["$defs"]["JobIn"]
    if event_type in RUN_TYPES:
        job["required"] = sorted({*job.get("required", []), "closed_at"})
        job["properties"]["closed_at"] = {"type": "string", "format": "date-time",
                                          "description": "When the technician closed the job (RFC 3339 with offset)"}
    return schema


def openapi_document() -> dict[str, Any]:
    from deployments.ingress import create_app
    from models.db import create_schema, make_engine
    from models.settings import FieldbridgeSettings

    home = Path(tempfile.mkdtemp(prefix="fb-docs-"))
    engine = make_engine(f"sqlite:///{home / 'docs.db'}")
    create_schema(engine)
    app = create_app(FieldbridgeSettings(home=home, ingress_secrets="docs"), engine, starter=None)
    doc = app.openapi()
    engine.dispose()
    return doc


def rendered() -> dict[str, str]:
    """relative path → file content, for every published contract file."""
    from models.outbound_events import DATA_MODELS, envelope_schema

    files = {f"schemas/{t.value.replace('.', '-')}.schema.json": schema_for(t) for t in EventType}
    files |= {f"schemas/outbound/{t.replace('.', '-')}.schema.json": envelope_schema(t) for t in DATA_MODELS}
    files["openapi.json"] = openapi_document()
    return {path: json.dumps(doc, indent=2, sort_keys=True) + "\n" for path, doc in files.items()}


RULES_BEGIN, RULES_END = "<!-- hours-worked rules: begin (generated) -->", "<!-- hours-worked rules: end -->"


def hours_doc(current: str) -> str:
    """docs/hours.md with its generated rule table replaced by the rows in tasks/hours/worked.py."""
    from tasks.hours.worked import rule_table_markdown

    head, _, rest = current.partition(RULES_BEGIN)
    _, _, tail = rest.partition(RULES_END)
    return f"{head}{RULES_BEGIN}\n{rule_table_markdown()}\n{RULES_END}{tail}"


def write(docs: Path = DOCS) -> list[Path]:
    written = []
    for rel, text in rendered().items():
        path = docs / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    hours = docs / "hours.md"
    hours.write_text(hours_doc(hours.read_text()))
    written.append(hours)
    return written


if __name__ == "__main__":  # pragma: no cover
    for p in write():
        print(f"wrote {p}")
