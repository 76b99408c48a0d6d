"""The deployment graph is tested like code: prefect.yaml is the one definition, every entry points at a
real flow with matching parameters, and `fieldbridge serve` serves exactly what it declares."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import yaml

from deployments.project import read_project, work_pool_names

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
        for schedule in dep.get("schedules", []):
            assert set(schedule.get("parameters") or {}) <= accepted


def test_the_declared_deployments_and_their_cadence() -> None:
    by_name = {d["name"]: d for d in _deployments()}
    assert set(by_name) == {"job-closed", "ingress-sweeper", "backfill", "bulk-job-closed", "nightly-reconciliation",
                            "hr-availability", "crm-intake", "customer-context", "field-service-sync"}
    assert by_name["customer-context"]["schedules"] == [{"cron": "0 18 * * *", "timezone": "America/Los_Angeles"}]
    assert by_name["crm-intake"]["schedules"] == [{"interval": 300}]
    assert by_name["hr-availability"]["schedules"] == [{"interval": 3600}]
    assert by_name["ingress-sweeper"]["schedules"] == [{"interval": 60}]
    assert "schedules" not in by_name["backfill"]  # manual
    assert "schedules" not in by_name["field-service-sync"]  # started by the vendor's webhooks
    assert by_name["nightly-reconciliation"]["schedules"] == [{"cron": "0 2 * * *", "timezone": "America/Los_Angeles"}]
    assert all(d["work_pool"]["name"] == "fieldbridge" for d in by_name.values())
    assert work_pool_names(ROOT / "prefect.yaml") == ["fieldbridge"]


def test_event_triggers_template_the_job_id_from_the_payload() -> None:
    [job_closed] = [d for d in _deployments() if d["name"] == "job-closed"]
    [trigger] = job_closed["triggers"]
    assert trigger["expect"] == ["fieldbridge.job.closed"]
    assert re.fullmatch(r"\{\{ event\.payload\.job_id \}\}", trigger["parameters"]["job_id"])
    assert job_closed["concurrency_limit"] >= 1


def test_serve_builds_exactly_the_declared_deployments() -> None:
    specs = read_project(ROOT / "prefect.yaml")
    assert [s.name for s in specs] == [d["name"] for d in _deployments()]
    runners = {s.name: s.to_runner_deployment() for s in specs}
    sweeper = runners["ingress-sweeper"]
    assert [s.schedule.interval.total_seconds() for s in sweeper.schedules] == [60]
    assert sweeper.parameters == {"older_than_seconds": 30}
    [trigger] = runners["job-closed"].triggers
    assert trigger.expect == {"fieldbridge.job.closed"}
    assert runners["job-closed"].concurrency_limit == 8
    assert runners["backfill"].schedules == []
    assert {r.full_name for r in runners.values()} == {"job-closed/job-closed", "ingress-sweeper/ingress-sweeper",
                                                       "backfill/backfill", "bulk-job-closed/bulk-job-closed",
                                                       "nightly-reconciliation/nightly-reconciliation",
                                                       "hr-availability/hr-availability",
                                                       "crm-intake/crm-intake", "customer-context/customer-context",
                                                       "field-service-sync/field-service-sync"}


def test_run_names_are_readable() -> None:
    from flows.backfill import backfill
    from flows.ingress_sweeper import ingress_sweeper
    from flows.job_closed import job_closed

    assert job_closed.flow_run_name == "job-closed-{job_id}"
    assert backfill.flow_run_name == "backfill-{start}-to-{end}"
    assert ingress_sweeper.flow_run_name == "ingress-sweeper"


def test_a_broken_project_file_gets_a_clear_error(tmp_path: Path) -> None:
    import pytest

    from deployments.project import ProjectFileError

    with pytest.raises(ProjectFileError, match="not found"):
        read_project(tmp_path / "prefect.yaml")
    (tmp_path / "prefect.yaml").write_text("deployments:\n  - name: x\n")
    with pytest.raises(ProjectFileError, match="needs a name and an entrypoint"):
        read_project(tmp_path / "prefect.yaml")
