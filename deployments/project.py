"""prefect.yaml is the one definition of fieldbridge's deployments; this reads it for `fieldbridge serve`.

Schedules and triggers are read with Prefect's own parsers, so a served deployment is exactly what
`prefect deploy --all` would create — only without a work pool, because this process runs it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROJECT_FILE = Path(__file__).resolve().parents[1] / "prefect.yaml"


class ProjectFileError(ValueError):
    """prefect.yaml is missing or says something fieldbridge cannot serve."""


@dataclass(frozen=True)
class DeploymentSpec:
    name: str
    entrypoint: str  # "flows/job_closed.py:job_closed"
    description: str = ""
    tags: tuple[str, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)
    schedules: tuple[dict[str, Any], ...] = ()
    triggers: tuple[dict[str, Any], ...] = ()
    concurrency_limit: int | None = None

    def load_flow(self) -> Any:
        """Import the flow object the entrypoint names (the package is installed; no path tricks needed)."""
        path, _, attr = self.entrypoint.partition(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        try:
            return getattr(module, attr)
        except AttributeError as exc:
            raise ProjectFileError(f"deployment {self.name}: {self.entrypoint} names no flow") from exc

    def flow_name(self) -> str:
        return self.load_flow().name

    @property
    def full_name(self) -> str:
        return f"{self.flow_name()}/{self.name}"

    def to_runner_deployment(self) -> Any:
        """The same deployment as `prefect deploy` creates from this entry, for serving in-process."""
        from prefect.cli.deploy._schedules import _schedule_config_to_deployment_schedule
        from prefect.cli.deploy._triggers import _initialize_deployment_triggers

        schedules = [_schedule_config_to_deployment_schedule(dict(s)) for s in self.schedules]
        triggers = _initialize_deployment_triggers(self.name, [dict(t) for t in self.triggers])
        return self.load_flow().to_deployment(
            name=self.name, description=self.description or None, tags=list(self.tags),
            parameters=dict(self.parameters), schedules=schedules, triggers=triggers,
            concurrency_limit=self.concurrency_limit,
        )


def read_project(path: Path = PROJECT_FILE) -> list[DeploymentSpec]:
    """Every deployment prefect.yaml declares, in file order."""
    if not path.exists():
        raise ProjectFileError(f"{path} not found: run from a fieldbridge checkout or pass --project-file")
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ProjectFileError(f"{path} is not valid YAML: {exc}") from exc
    specs = []
    for n, entry in enumerate(doc.get("deployments") or []):
        if not entry.get("name") or not entry.get("entrypoint"):
            raise ProjectFileError(f"{path}: deployments[{n}] needs a name and an entrypoint")
        specs.append(DeploymentSpec(
            name=entry["name"], entrypoint=entry["entrypoint"], description=" ".join(
                str(entry.get("description") or "").split()),
            tags=tuple(entry.get("tags") or ()), parameters=dict(entry.get("parameters") or {}),
            schedules=tuple(entry.get("schedules") or ()), triggers=tuple(entry.get("triggers") or ()),
            concurrency_limit=entry.get("concurrency_limit"),
        ))
    if not specs:
        raise ProjectFileError(f"{path} declares no deployments")
    return specs


def work_pool_names(path: Path = PROJECT_FILE) -> list[str]:
    """The work pools prefect.yaml deploys to (`fieldbridge deploy` creates the missing ones)."""
    doc = yaml.safe_load(path.read_text()) or {}
    names = {((d.get("work_pool") or {}).get("name")) for d in doc.get("deployments") or []}
    return sorted(n for n in names if n)
