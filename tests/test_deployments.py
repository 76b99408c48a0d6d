"""The deployment graph is tested like code: every prefect.yaml entry points at a real flow."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _deployments() -> list[dict]:
    return yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


def test_every_deployment_entrypoint_is_a_flow_with_matching_parameters() -> None:
    from prefect import Flow

    for dep in _deployments():
        path, name = dep["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, name)
        assert isinstance(flow, Flow), dep["name"]
        accepted = set(inspect.signature(flow.fn).parameters)
        for trigger in dep.get("triggers", []):
            assert set(trigger.get("parameters", {})) <= accepted, dep["name"]
        assert set(dep.get("parameters") or {}) <= accepted


def test_event_triggers_template_the_job_id_from_the_payload() -> None:
    [job_closed] = [d for d in _deployments() if d["name"] == "job-closed"]
    [trigger] = job_closed["triggers"]
    assert trigger["expect"] == ["fieldbridge.job.closed"]
    assert re.fullmatch(r"\{\{ event\.payload\.job_id \}\}", trigger["parameters"]["job_id"])
    assert job_closed["concurrency_limit"] >= 1


def test_run_names_are_readable() -> None:
    from flows.job_closed import job_closed

    assert job_closed.flow_run_name == "job-closed-{job_id}"
