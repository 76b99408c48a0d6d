"""HubSpot as the CRM: tickets resolved by the unique property `fieldbridge_job_id`, notes attached."""

from __future__ import annotations

from typing import Any

from connectors.contract import (
    ConnectContext,
    ConnectorPlugin,
    DemoSeed,
    SandboxContext,
    VendorSettings,
    WebhookSpec,
)
from connectors.hubspot.settings import HubSpotSettings


def _connect(ctx: ConnectContext) -> Any:
    from connectors.http import RetryPolicy
    from connectors.hubspot.client import HubSpotCRM

    s = ctx.settings
    assert isinstance(s, HubSpotSettings)
    return HubSpotCRM(s.base_url, s.token, closed_stage=s.closed_stage, account=s.account,
                      intake_pipeline=s.intake_pipeline,
                      policy=RetryPolicy(max_attempts=ctx.max_attempts), timeout=ctx.timeout_seconds,
                      transport=ctx.transport, rate_limit=s.rate_limit)


def _sandbox(ctx: SandboxContext) -> Any:
    from connectors.hubspot.sandbox import create_app

    assert isinstance(ctx.settings, HubSpotSettings)
    return create_app(ctx.settings.token.get_secret_value(), ctx.faults, ctx.state_path,
                      ten_second_limit=ctx.settings.rate_limit or 190)


def _sandbox_env(url: str, settings: VendorSettings) -> dict[str, str]:
    return {"FIELDBRIDGE_HUBSPOT_BASE_URL": url}


def _seed_sandbox(url: str, settings: VendorSettings, seed: DemoSeed) -> None:
    """The morning's cases in the intake pipeline, each with its contact and company (the records the brief reads).
    Written once: a contact's email and a ticket's `fieldbridge_job_id` are unique, so a second demo finds them."""
    import httpx

    assert isinstance(settings, HubSpotSettings)
    headers = {"Authorization": f"Bearer {settings.token.get_secret_value()}"}
    with httpx.Client(base_url=url, headers=headers, timeout=20) as http:
        for case in seed.cases:
            job_id = f"CRM-{case.key}"
            if http.get(f"/crm/v3/objects/tickets/{job_id}", params={"idProperty": "fieldbridge_job_id"}).is_success:
                continue
            first, _, last = case.contact_name.partition(" ")
            contact = http.post("/crm/v3/objects/contacts", json={"properties": {
                "email": case.contact_email, "firstname": first, "lastname": last, "address": case.line1,
                "city": case.city, "state": case.state, "zip": case.postal_code,
                "fieldbridge_preferences": case.preferences}}).raise_for_status().json()["id"]
            company = http.post("/crm/v3/objects/companies", json={"properties": {
                "name": case.company or case.contact_name, "fieldbridge_contract": case.contract,
                "fieldbridge_service_level": case.service_level}}).raise_for_status().json()["id"]
            http.put(f"/crm/v4/objects/contacts/{contact}/associations/default/companies/{company}").raise_for_status()
            ticket = http.post("/crm/v3/objects/tickets", json={"properties": {
                "subject": case.subject, "content": case.description, "hs_pipeline": settings.intake_pipeline,
                "hs_pipeline_stage": "1", "fieldbridge_job_id": job_id}}).raise_for_status().json()["id"]
            for kind, other in (("contacts", contact), ("companies", company)):
                http.put(f"/crm/v4/objects/tickets/{ticket}/associations/default/{kind}/{other}").raise_for_status()


def _credentials() -> type:
    from connectors.hubspot.credentials import HubSpotCredentials

    return HubSpotCredentials


def _verify_webhook(settings: VendorSettings, method: str, url: str, headers: Any, body: bytes, now: float) -> None:
    from connectors.hubspot.webhooks import verify

    verify(settings, method, url, headers, body, now)


plugin = ConnectorPlugin(
    name="hubspot", title="HubSpot", roles=frozenset({"crm"}), settings=HubSpotSettings, connect=_connect,
    secret_fields=("token", "client_secret"), credentials=_credentials, sandbox=_sandbox, sandbox_env=_sandbox_env,
    webhook=WebhookSpec(verify=_verify_webhook, starts="crm-intake/crm-intake"), seed_sandbox=_seed_sandbox,
    docs="docs/connectors.md#hubspot",
)
