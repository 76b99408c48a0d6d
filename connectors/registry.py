"""Vendors are found only through the `fieldbridge.connectors` entry-point group: each entry names a
`ConnectorPlugin`. A new integration is a package that exports one and adds one entry-point line."""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points

from connectors.contract import ConnectorPlugin, Role


class UnknownConnector(LookupError):
    pass


@lru_cache
def plugins() -> dict[str, ConnectorPlugin]:
    """Every installed plugin by name (loaded once per process)."""
    found: dict[str, ConnectorPlugin] = {}
    for ep in entry_points(group="fieldbridge.connectors"):
        plugin = ep.load()
        if not isinstance(plugin, ConnectorPlugin):
            raise TypeError(f"entry point {ep.name} = {ep.value} is not a ConnectorPlugin")
        if plugin.name != ep.name:
            raise ValueError(f"entry point {ep.name} names plugin {plugin.name!r}: they must match")
        found[ep.name] = plugin
    return found


def get_plugin(name: str, role: Role | None = None) -> ConnectorPlugin:
    """The plugin called `name`; with `role`, refuse one that does not play it."""
    found = plugins()
    if name not in found:
        raise UnknownConnector(f"no connector named {name!r}; installed: {', '.join(sorted(found)) or 'none'}")
    plugin = found[name]
    if role is not None and role not in plugin.roles:
        raise UnknownConnector(f"connector {name!r} does not play the {role} role (it plays "
                               f"{', '.join(sorted(plugin.roles))})")
    return plugin
