"""Vendor credentials as Prefect blocks: encrypted at rest on the Prefect server, edited in its UI.

Each vendor package defines one block (`connectors/<vendor>/credentials.py`) with its `SecretStr`
fields; `prefect block register -m connectors.<vendor>.credentials` makes it available. Environment
settings stay the fallback: when `FIELDBRIDGE_<VENDOR>_CREDENTIALS_BLOCK` names a saved block, its
non-empty secrets replace the environment's.
"""

from __future__ import annotations

from abc import ABC
from typing import Any, ClassVar

from prefect.blocks.core import Block


class VendorCredentials(Block, ABC):
    """Base of every vendor's credentials block (an interface: Prefect does not register it as a type)."""

    _plugin_name: ClassVar[str]

    def get_client(self) -> Any:
        """The vendor's client, with these secrets and the rest of its settings from the environment."""
        from connectors.registry import get_plugin
        from tasks.runtime import connect

        plugin = get_plugin(self._plugin_name)
        secrets = {f: getattr(self, f) for f in plugin.secret_fields if getattr(self, f, None) is not None}
        return connect(plugin, plugin.settings(**secrets))
