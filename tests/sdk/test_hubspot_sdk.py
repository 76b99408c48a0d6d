"""The HubSpot sandbox driven by HubSpot's official SDK (hubspot-api-client): every operation our connector
uses, and the lookups an integrator relies on (read by id and by unique property, CRM search, paging,
associations). If the SDK cannot talk to the sandbox, the sandbox is not HubSpot's API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

hubspot = pytest.importorskip("hubspot")

from hubspot.crm.associations.v4 import AssociationSpec  # noqa: E402
from hubspot.crm.objects.notes import SimplePublicObjectInputForCreate as NoteCreate  # noqa: E402
from hubspot.crm.objects.notes.exceptions import ApiException as NotesApiException  # noqa: E402
from hubspot.crm.tickets import (  # noqa: E402
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.tickets.exceptions import ApiException  # noqa: E402

from connectors.emulator import SandboxServer  # noqa: E402
from connectors.hubspot import sandbox as hubspot_sandbox  # noqa: E402
from connectors.hubspot.mapping import NOTE_TO_TICKET_TYPE  # noqa: E402

TOKEN = "pat-na1-sdk-test"


@pytest.fixture
def client() -> Iterator[hubspot.Client]:
    server = SandboxServer(hubspot_sandbox.create_app(token=TOKEN).asgi()).start()
    try:
        yield hubspot.Client.create(access_token=TOKEN, host=server.url)
    finally:
        server.stop()


def _ticket(client: hubspot.Client, job_id: str, subject: str = "No heat") -> str:
    created = client.crm.tickets.basic_api.create(SimplePublicObjectInputForCreate(properties={
        "subject": subject, "hs_pipeline": "0", "hs_pipeline_stage": "1", "fieldbridge_job_id": job_id}))
    return created.id


def test_tickets_are_created_read_by_unique_property_and_closed(client: hubspot.Client) -> None:
    ticket_id = _ticket(client, "J-1001")
    found = client.crm.tickets.basic_api.get_by_id("J-1001", id_property="fieldbridge_job_id",
                                                   properties=["subject", "hs_pipeline_stage"])
    assert found.id == ticket_id and found.properties["subject"] == "No heat"

    client.crm.tickets.basic_api.update("J-1001", SimplePublicObjectInput(properties={
        "hs_pipeline_stage": "4", "fieldbridge_resolution": "Replaced the igniter"}), id_property="fieldbridge_job_id")
    again = client.crm.tickets.basic_api.get_by_id(ticket_id,
                                                   properties=["hs_pipeline_stage", "fieldbridge_resolution"])
    assert again.properties["hs_pipeline_stage"] == "4"
    assert again.properties["fieldbridge_resolution"] == "Replaced the igniter"


def test_sdk_sees_the_vendor_errors(client: hubspot.Client) -> None:
    _ticket(client, "J-1")
    with pytest.raises(ApiException) as conflict:
        _ticket(client, "J-1")
    assert conflict.value.status == 409 and "Existing ID" in conflict.value.body
    with pytest.raises(ApiException) as missing:
        client.crm.tickets.basic_api.get_by_id("J-404", id_property="fieldbridge_job_id")
    assert missing.value.status == 404
    with pytest.raises(ApiException) as bad:
        client.crm.tickets.basic_api.create(SimplePublicObjectInputForCreate(properties={"subject": "x"}))
    assert bad.value.status == 400
    host = client.crm.tickets.basic_api.api_client.configuration.host
    denied = hubspot.Client.create(access_token="wrong", host=host)
    with pytest.raises(ApiException) as unauthorised:
        denied.crm.tickets.basic_api.get_page()
    assert unauthorised.value.status == 401


def test_crm_search_finds_by_property_with_and_or_groups_sorts_and_pages(client: hubspot.Client) -> None:
    for n in range(7):
        _ticket(client, f"J-{n}", subject="Smith and Sons" if n % 2 else "O'Brien \\ Co")
    search = client.crm.tickets.search_api.do_search
    one = search(PublicObjectSearchRequest(filter_groups=[FilterGroup(filters=[
        Filter(property_name="fieldbridge_job_id", operator="EQ", value="J-3")])], properties=["subject"]))
    assert one.total == 1 and one.results[0].properties["subject"] == "Smith and Sons"

    backslash = search(PublicObjectSearchRequest(filter_groups=[FilterGroup(filters=[
        Filter(property_name="subject", operator="EQ", value="O'Brien \\ Co")])]))
    assert backslash.total == 4

    either = search(PublicObjectSearchRequest(filter_groups=[
        FilterGroup(filters=[Filter(property_name="fieldbridge_job_id", operator="EQ", value="J-0")]),
        FilterGroup(filters=[Filter(property_name="fieldbridge_job_id", operator="IN", values=["J-5", "J-6"])]),
    ], sorts=[{"propertyName": "fieldbridge_job_id", "direction": "DESCENDING"}], properties=["fieldbridge_job_id"]))
    assert [r.properties["fieldbridge_job_id"] for r in either.results] == ["J-6", "J-5", "J-0"]

    seen: list[str] = []
    after = None
    while True:
        page = search(PublicObjectSearchRequest(limit=3, after=after, properties=["fieldbridge_job_id"],
                                                sorts=["fieldbridge_job_id"]))
        seen += [r.properties["fieldbridge_job_id"] for r in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert seen == [f"J-{n}" for n in range(7)]


def test_listing_pages_with_the_after_cursor_and_get_all(client: hubspot.Client) -> None:
    for n in range(5):
        _ticket(client, f"J-{n}")
    first = client.crm.tickets.basic_api.get_page(limit=2, properties=["fieldbridge_job_id"])
    assert len(first.results) == 2 and first.paging.next.after
    everything = client.crm.tickets.get_all(properties=["fieldbridge_job_id"])
    assert sorted(t.properties["fieldbridge_job_id"] for t in everything) == [f"J-{n}" for n in range(5)]


def test_notes_are_created_on_the_ticket_found_by_key_and_listed_by_association(client: hubspot.Client) -> None:
    ticket_id = _ticket(client, "J-77")
    note = client.crm.objects.notes.basic_api.create(NoteCreate(
        properties={"hs_timestamp": "2026-11-24T17:00:00.000Z", "hs_note_body": "Igniter swapped",
                    "fieldbridge_note_key": "J-77:note"},
        associations=[{"to": {"id": ticket_id}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": NOTE_TO_TICKET_TYPE}]}],
    ))
    by_key = client.crm.objects.notes.basic_api.get_by_id("J-77:note", id_property="fieldbridge_note_key",
                                                          properties=["hs_note_body"])
    assert by_key.id == note.id and by_key.properties["hs_note_body"] == "Igniter swapped"

    from hubspot.crm.objects.notes import Filter as NoteFilter
    from hubspot.crm.objects.notes import FilterGroup as NoteGroup
    from hubspot.crm.objects.notes import PublicObjectSearchRequest as NoteSearch
    hits = client.crm.objects.notes.search_api.do_search(NoteSearch(filter_groups=[NoteGroup(filters=[
        NoteFilter(property_name="fieldbridge_note_key", operator="EQ", value="J-77:note")])]))
    assert [h.id for h in hits.results] == [note.id]

    linked = client.crm.associations.v4.basic_api.get_page("tickets", ticket_id, "notes")
    assert [str(r.to_object_id) for r in linked.results] == [note.id]

    with pytest.raises(NotesApiException) as bad_link:
        client.crm.objects.notes.basic_api.create(NoteCreate(
            properties={"hs_timestamp": "2026-11-24T17:00:00.000Z"},
            associations=[{"to": {"id": "999999"}, "types": [
                {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": NOTE_TO_TICKET_TYPE}]}]))
    assert bad_link.value.status == 400


def test_a_second_note_is_associated_with_the_v4_api(client: hubspot.Client) -> None:
    ticket_id = _ticket(client, "J-88")
    note = client.crm.objects.notes.basic_api.create(NoteCreate(
        properties={"hs_timestamp": "2026-11-24T17:00:00.000Z", "fieldbridge_note_key": "J-88:late"}))
    client.crm.associations.v4.basic_api.create("notes", note.id, "tickets", ticket_id, [
        AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=NOTE_TO_TICKET_TYPE)])
    client.crm.associations.v4.basic_api.create_default("notes", note.id, "tickets", ticket_id)
    linked = client.crm.associations.v4.basic_api.get_page("tickets", ticket_id, "notes")
    assert [str(r.to_object_id) for r in linked.results] == [note.id]
