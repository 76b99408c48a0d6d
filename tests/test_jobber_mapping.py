"""Jobber's job → the open-API snapshot (connectors/jobber/mapping.py): pure rules on plain dicts."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import pytest

from connectors.contract import PriceBook
from connectors.jobber.mapping import canonical_id, decode_gid, map_job
from connectors.jobber.settings import JobberSettings
from models.fsm_events import FieldEvent


def gid(kind: str, n: int) -> str:
    return base64.b64encode(f"gid://Jobber/{kind}/{n}".encode()).decode()


SAM, ANA, OFFICE = gid("User", 1), gid("User", 2), gid("User", 3)
USERS = {SAM: {"id": SAM, "name": {"full": "Sam Ortiz"}, "email": {"raw": "sam@bayside.example"},
               "timezone": "America/Los_Angeles"},
         ANA: {"id": ANA, "name": {"full": "Ana Lee"}, "email": {"raw": "ana@bayside.example"},
               "timezone": "America/Los_Angeles"},
         OFFICE: {"id": OFFICE, "name": {"full": "Office"}, "email": {"raw": "office@bayside.example"}}}
BOOK = PriceBook(skus=frozenset({"GASKET-01", "PUMP-02"}), names={"door gasket": "GASKET-01", "drain pump": "PUMP-02"})


def settings(**extra: Any) -> JobberSettings:
    techs = {"sam@bayside.example": {"id": "T01", "payroll_id": "E-1", "hourly_rate": "38.00", "bill_rate": "95.00"},
             ANA: {"id": "T02", "payroll_id": "E-2", "hourly_rate": "35.00", "bill_rate": "90.00"}}
    return JobberSettings(technicians=extra.pop("technicians", techs), **extra)


def nodes(*items: dict[str, Any]) -> dict[str, Any]:
    return {"nodes": list(items), "pageInfo": {"hasNextPage": False, "endCursor": None}}


def job(**over: Any) -> dict[str, Any]:
    base = {
        "id": gid("Job", 77), "jobNumber": 1001, "title": "Dishwasher leaking", "jobStatus": "requires_invoicing",
        "completedAt": "2026-11-24T19:30:00Z", "jobberWebUri": "https://secure.getjobber.com/work_orders/77",
        "client": {"id": gid("Client", 5), "name": "Dana Whitfield", "isCompany": False,
                   "emails": [{"address": "dana@example.com", "primary": True}],
                   "phones": [{"number": "555-0101", "primary": True}],
                   "billingAddress": {"street1": "12 Elm St", "city": "Oakland", "province": "CA",
                                      "postalCode": "94610"}},
        "property": {"id": gid("Property", 9), "address": {"street1": "12 Elm St", "city": "Oakland",
                                                           "province": "CA", "postalCode": "94610"}},
        "visits": nodes({"id": gid("Visit", 1), "completedAt": "2026-11-24T19:20:00Z",
                         "assignedUsers": {"nodes": [{"id": SAM}]}}),
        "timeSheetEntries": nodes(
            {"id": gid("TimeSheetEntry", 31), "startAt": "2026-11-24T16:00:00Z", "endAt": "2026-11-24T16:30:00Z",
             "ticking": False, "label": "Driving", "user": {"id": SAM}},
            {"id": gid("TimeSheetEntry", 32), "startAt": "2026-11-24T16:30:00Z", "endAt": "2026-11-24T19:15:00Z",
             "ticking": False, "label": None, "user": {"id": SAM}}),
        "lineItems": nodes(
            {"id": gid("JobLineItem", 41), "name": "Door gasket", "quantity": 1.0, "unitPrice": 42.5,
             "category": "PRODUCT", "linkedProductOrService": {"id": gid("ProductOrService", 8), "name": "Door gasket",
                                                              "category": "PRODUCT"}},
            {"id": gid("JobLineItem", 42), "name": "Labour", "quantity": 2.0, "unitPrice": 95.0,
             "category": "SERVICE", "linkedProductOrService": None},
            {"id": gid("JobLineItem", 43), "name": "Drain pump", "quantity": 0.0, "unitPrice": 80.0,
             "category": "PRODUCT", "linkedProductOrService": None}),
        "expenses": nodes({"id": gid("Expense", 51), "title": "Parking", "total": 12.0}),
        "notes": nodes({"id": gid("JobNote", 61), "message": "Replaced the gasket; tested two cycles.",
                        "createdAt": "2026-11-24T19:16:00Z", "createdBy": {"id": SAM}},
                       {"id": gid("JobNote", 62), "message": "Customer called the office", "createdAt":
                        "2026-11-24T15:00:00Z", "createdBy": {"id": OFFICE}}),
    }
    return base | over


def test_a_closed_job_maps_onto_a_valid_snapshot() -> None:
    got = map_job(job(), USERS, settings(), BOOK, timezone="America/Los_Angeles")
    assert got.problems == () and got.closed and got.job_id == "JB1001"
    snap = got.snapshot
    assert snap is not None
    event = FieldEvent.model_validate({"id": "e1", "type": "job.closed", "occurred_at": "2026-11-24T20:00:00Z",
                                       "data": snap})
    data = event.data
    assert [(t.id, t.payroll_id, t.hourly_rate) for t in data.technicians] == [("T01", "E-1", Decimal("38.00"))]
    assert [(e.id, e.kind.value) for e in data.time_entries] == [("JBT-31", "travel"), ("JBT-32", "work")]
    # the product line is a part by its price-book name; labour and the zero-quantity optional line are not parts
    assert [(p.id, p.sku, p.quantity, p.unit_price) for p in data.parts] == [
        ("JBL-41", "GASKET-01", Decimal("1.000"), Decimal("42.5000"))]
    assert [(x.description, x.amount) for x in data.expenses] == [("Parking", Decimal("12.00"))]
    assert [n.body for n in data.notes] == ["Replaced the gasket; tested two cycles."]  # the office's note stays
    assert data.customer.id == "JBC-5" and data.customer.billing_address is not None
    assert data.site.id == "JBP-9" and data.site.timezone == "America/Los_Angeles"
    assert data.job.closed_at is not None and data.job.closed_at.isoformat() == "2026-11-24T19:30:00+00:00"
    assert ("technician", "T01", SAM) in got.refs and ("job", "JB1001", gid("Job", 77)) in got.refs


def test_unmapped_users_and_items_are_problems_naming_the_jobber_record() -> None:
    extra_entry = {"id": gid("TimeSheetEntry", 33), "startAt": "2026-11-24T17:00:00Z",
                   "endAt": "2026-11-24T18:00:00Z", "ticking": False, "user": {"id": OFFICE}}
    unknown_part = {"id": gid("JobLineItem", 44), "name": "Mystery valve", "quantity": 1.0, "unitPrice": 10.0,
                    "category": "PRODUCT", "linkedProductOrService": {"id": gid("ProductOrService", 99),
                                                                     "name": "Mystery valve"}}
    j = job()
    j["timeSheetEntries"]["nodes"].append(extra_entry)
    j["lineItems"]["nodes"].append(unknown_part)
    got = map_job(j, USERS, settings(), BOOK, timezone="America/Los_Angeles")
    assert got.snapshot is None
    text = {p.record: p.message for p in got.problems}
    assert "is not mapped to a technician" in text["Jobber user 'Office' (gid://Jobber/User/3)"]
    assert "office@bayside.example" in text["Jobber user 'Office' (gid://Jobber/User/3)"]
    assert "matches no price-book item" in text["Jobber line item 'Mystery valve' (gid://Jobber/JobLineItem/44) on "
                                                "Jobber job #1001"]
    # mapped through FIELDBRIDGE_JOBBER_ITEMS, the same line is a part
    fixed = map_job(j, USERS, settings(items={"Mystery valve": "PUMP-02"},
                                       technicians={"sam@bayside.example": {"id": "T01"},
                                                    "office@bayside.example": {"id": "T09"}}),
                    BOOK, timezone="America/Los_Angeles")
    assert fixed.problems == () and "PUMP-02" in [p["sku"] for p in fixed.snapshot["parts"]]


@pytest.mark.parametrize(("change", "expected"), [
    ({"property": None}, "has no property"),
    ({"completedAt": None, "visits": nodes({"id": gid("Visit", 1), "completedAt": None,
                                            "assignedUsers": {"nodes": []}})}, "completion time"),
])
def test_a_job_that_cannot_be_posted_says_why(change: dict[str, Any], expected: str) -> None:
    got = map_job(job(**change), USERS, settings(), BOOK, timezone="UTC")
    assert got.snapshot is None and any(expected in p.message for p in got.problems), got.problems


def test_a_running_timer_is_a_problem_and_an_open_job_is_not_closed() -> None:
    running = job(jobStatus="active")
    running["timeSheetEntries"]["nodes"][1] |= {"endAt": None, "ticking": True}
    got = map_job(running, USERS, settings(), BOOK, timezone="UTC")
    assert not got.closed
    assert any("still running" in p.message for p in got.problems)


def test_global_ids_decode_and_map_to_stable_ids() -> None:
    assert decode_gid("Z2lkOi8vSm9iYmVyL0pvYi8xMjM=") == ("Job", "123")
    assert decode_gid("not-base64!") is None
    assert canonical_id("TimeSheetEntry", gid("TimeSheetEntry", 7)) == "JBT-7"
    assert canonical_id("Expense", "MQ==").startswith("JBE-")  # an id that is no gid still maps, stably
    assert canonical_id("Expense", "MQ==") == canonical_id("Expense", "MQ==")


def test_the_technician_mapping_can_be_a_file(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "techs.json"
    path.write_text('{"sam@bayside.example": {"id": "T01", "payroll_id": "E-1"}}')
    monkeypatch.setenv("FIELDBRIDGE_JOBBER_TECHNICIANS", str(path))
    assert JobberSettings().technicians["sam@bayside.example"].payroll_id == "E-1"
    monkeypatch.setenv("FIELDBRIDGE_JOBBER_TECHNICIANS", "{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        JobberSettings()
