"""Salesforce's settings: `FIELDBRIDGE_SALESFORCE_*` (the defaults point at the local sandbox)."""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.contract import VendorSettings


class SalesforceSettings(VendorSettings):
    model_config = SettingsConfigDict(env_prefix="FIELDBRIDGE_SALESFORCE_", env_file=".env", extra="ignore")

    base_url: str = "http://127.0.0.1:8704"  # the login host: https://login.salesforce.com or the My Domain URL;
    # the API host comes back from the token endpoint as `instance_url`
    api_version: str = "60.0"
    auth_flow: Literal["refresh_token", "jwt"] = "refresh_token"
    client_id: str = "sandbox-consumer-key"  # the connected app's consumer key
    client_secret: SecretStr = SecretStr("sandbox-consumer-secret")
    refresh_token: SecretStr = SecretStr("5Aep-sandbox-refresh")  # the first one; rotated copies live in the DB
    username: str = "integration@bayside.example"  # the integration user (JWT bearer flow)
    private_key: SecretStr | None = None  # PEM of the certificate uploaded to the connected app (JWT bearer)
    job_id_field: str = "FSM_Job_Id__c"  # the Case's external-id field holding fieldbridge's job id
    resolution_field: str = "Resolution__c"  # a custom Case field for the technician's resolution
    closed_status: str = "Closed"
    intake_field: str = "FSM_Needs_Visit__c"  # a checkbox on Case: checked cases become jobs (crm_intake)
    daily_reserve: int = 200  # stop when the org's daily API quota is this close to its limit
    jwt_audience: str | None = None  # the JWT `aud`; derived from base_url when unset

    def jwt_audience_url(self) -> str:
        """Salesforce wants `https://login.salesforce.com` for production orgs and `https://test.salesforce.com`
        for sandbox orgs (also behind a My Domain such as `acme--uat.sandbox.my.salesforce.com`); an emulator
        on loopback takes its own URL."""
        if self.jwt_audience:
            return self.jwt_audience
        host = self.base_url.split("://", 1)[-1].split("/", 1)[0].lower()
        if host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com"):
            return "https://test.salesforce.com"
        return "https://login.salesforce.com" if self.base_url.startswith("https://") else self.base_url.rstrip("/")

    @property
    def token_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/services/oauth2/token"
