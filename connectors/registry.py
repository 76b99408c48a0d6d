"""Connectors are found through the `fieldbridge.connectors` entry-point group, so a new
integration is a package that registers a class with a `from_settings` constructor."""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any

from models.settings import FieldbridgeSettings


class UnknownConnector(LookupError):
    pass


@lru_cache
def connector_classes() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group="fieldbridge.connectors")}


def build_connector(system: str, settings: FieldbridgeSettings) -> Any:
    """Instantiate the connector registered as `system`, configured from settings."""
    eps = connector_classes()
    if system not in eps:
        raise UnknownConnector(f"no connector named {system!r}; installed: {', '.join(sorted(eps)) or 'none'}")
    return eps[system].load().from_settings(settings)
