"""Casebook: the smallest useful CRM connector — each case is a JSON file in a folder.

It shows everything a vendor package gives fieldbridge: its settings (env prefix), its client (the CRM
role), and its plugin object. Install it next to fieldbridge, set `FIELDBRIDGE_CRM_SYSTEM=casebook` and
`FIELDBRIDGE_CASEBOOK_FOLDER=/some/folder`, and `job_closed` resolves cases here.
"""

from __future__ import annotations

from typing import Any

from pydantic_settings import SettingsConfigDict

from connectors.contract import ConnectContext, ConnectorPlugin, VendorSettings


class CasebookSettings(VendorSettings):
    model_config = SettingsConfigDict(env_prefix="FIELDBRIDGE_CASEBOOK_", extra="ignore")

    folder: str = "casebook"  # where the case files live
    closed_status: str = "resolved"


def _connect(ctx: ConnectContext) -> Any:
    from fieldbridge_casebook.client import CasebookCRM

    settings = ctx.settings
    assert isinstance(settings, CasebookSettings)
    return CasebookCRM(settings.folder, settings.closed_status)


plugin = ConnectorPlugin(name="casebook", title="Casebook", roles=frozenset({"crm"}), settings=CasebookSettings,
                         connect=_connect)
