"""The Gusto sandbox driven by Gusto's official Python SDK (gusto_app_integration): an OAuth company token
from `/oauth/token`, then the employee lookups an integrator relies on (list, search, paging, by id) and
the errors the SDK raises. The released SDK (0.2.4) has no time-tracking operations; the time-sheet calls
fieldbridge makes are checked against Gusto's published API reference in tests/test_connector_gusto.py."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

gusto_app_integration = pytest.importorskip("gusto_app_integration")

from gusto_app_integration import GustoAppIntegration  # noqa: E402
from gusto_app_integration.models.apierror import APIError  # noqa: E402

from connectors.emulator import SandboxServer  # noqa: E402
from connectors.gusto import sandbox as gusto_sandbox  # noqa: E402

COMPANY = "c0a8f5e2-0000-4000-8000-0000000005d4"
APP = ("gusto-sdk-app", "gusto-sdk-secret", "gusto-rt-0")


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    server = SandboxServer(gusto_sandbox.create_app("static-unused", COMPANY, oauth_client=APP).asgi()).start()
    people = [{"uuid": f"emp-{n}", "first_name": first, "last_name": last, "email": f"{first.lower()}@bayside.example",
               "company_uuid": COMPANY, "terminated": n == 3}
              for n, (first, last) in enumerate([("Ana", "Ruiz"), ("Bo", "Chen"), ("Cy", "Okafor"), ("Di", "Ruiz")])]
    httpx.post(f"{server.url}/_sandbox/seed/employees", json={"id_field": "uuid", "docs": people}).raise_for_status()
    try:
        yield server.url
    finally:
        server.stop()


def _sdk(url: str) -> GustoAppIntegration:
    grant = httpx.post(f"{url}/oauth/token", json={"client_id": APP[0], "client_secret": APP[1],
                                                   "grant_type": "refresh_token", "refresh_token": APP[2]})
    grant.raise_for_status()
    assert grant.json()["expires_in"] == 7200
    return GustoAppIntegration(company_access_auth=grant.json()["access_token"], server_url=url)


def test_employees_are_listed_searched_paged_and_read_by_id(sandbox_url: str) -> None:
    with _sdk(sandbox_url) as sdk:
        everyone = sdk.employees.get(company_id=COMPANY)
        assert [e.uuid for e in everyone] == ["emp-0", "emp-1", "emp-2", "emp-3"]
        assert [e.first_name for e in sdk.employees.get(company_id=COMPANY, search_term="ruiz")] == ["Ana", "Di"]
        assert [e.uuid for e in sdk.employees.get(company_id=COMPANY, terminated=False)] == ["emp-0", "emp-1", "emp-2"]
        assert [e.uuid for e in sdk.employees.get(company_id=COMPANY, page=2, per=3)] == ["emp-3"]
        one = sdk.employees.get_by_id(employee_id="emp-1")
        assert (one.first_name, one.email, one.company_uuid) == ("Bo", "bo@bayside.example", COMPANY)


def test_the_sdk_sees_gusto_errors(sandbox_url: str) -> None:
    with _sdk(sandbox_url) as sdk:
        with pytest.raises(APIError) as missing:
            sdk.employees.get_by_id(employee_id="emp-404")
        assert missing.value.status_code == 404
        with pytest.raises(APIError) as other_company:
            sdk.employees.get(company_id="c0a8f5e2-0000-4000-8000-000000000bad")
        assert other_company.value.status_code == 404
    with GustoAppIntegration(company_access_auth="expired-or-wrong", server_url=sandbox_url) as stranger:
        with pytest.raises(APIError) as unauthorised:
            stranger.employees.get(company_id=COMPANY)
        assert unauthorised.value.status_code == 401
