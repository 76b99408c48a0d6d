"""The demo's Jobber side (`fieldbridge demo --source jobber`): the day's jobs are put into the Jobber sandbox as
open jobs (users, products, clients, properties, visits, time sheets, line items, expenses, notes), then closed
there — the sandbox sends its signed webhooks, some twice — and a few are edited after closing."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from connectors.contract import VendorSettings
from connectors.jobber.settings import JobberSettings

_KINDS = {"work", "travel"}  # Jobber time sheets hold worked time; meal and rest breaks are not entries there


def _admin(url: str, path: str, payload: dict[str, Any]) -> Any:
    resp = httpx.post(f"{url.rstrip('/')}{path}", json=payload, timeout=30)
    resp.raise_for_status()
    return resp.json()


def job_number(job_id: str, n: int) -> int:
    digits = re.sub(r"\D", "", job_id)
    return int(digits) if digits else 1000 + n


def job_document(snapshot: dict[str, Any], number: int) -> dict[str, Any]:
    """An open-API snapshot as the job a technician would have worked in Jobber."""
    techs = {t["id"]: t for t in snapshot["technicians"]}
    customer, site = snapshot["customer"], snapshot["site"]
    first, _, last = customer["name"].partition(" ")
    # a Jobber client's billing address is its property's unless set apart
    bill = customer.get("billing_address") or {"line1": site["line1"], "city": site["city"],
                                                "state": site.get("state"), "postal_code": site["postal_code"]}
    entries = [e for e in snapshot["time_entries"] if e["kind"] in _KINDS]
    return {
        "jobNumber": number, "title": snapshot["job"]["description"],
        "client": {"firstName": first, "lastName": last or first, "email": customer.get("email"),
                   "phone": customer.get("phone"),
                   "billingAddress": {"street1": bill.get("line1"), "city": bill.get("city"),
                                      "province": bill.get("state"), "postalCode": bill.get("postal_code"),
                                      "country": "US"}},
        "property": {"address": {"street1": site["line1"], "city": site["city"], "province": site.get("state"),
                                 "postalCode": site["postal_code"], "country": "US"}},
        "visits": [{"title": snapshot["job"]["description"], "startAt": min(e["start"] for e in entries),
                    "endAt": max(e["end"] for e in entries),
                    "assignedUserEmails": sorted({techs[e["technician_id"]]["email"] for e in entries})}]
        if entries else [],
        "timeSheetEntries": [{"userEmail": techs[e["technician_id"]]["email"], "startAt": e["start"],
                              "endAt": e["end"], "label": "Driving" if e["kind"] == "travel" else None}
                             for e in entries],
        "lineItems": [{"name": p["sku"], "description": p["sku"], "quantity": str(p["quantity"]),
                       "unitPrice": str(p["unit_price"]), "product": p["sku"], "category": "PRODUCT"}
                      for p in snapshot["parts"]],
        "expenses": [{"title": x["description"], "total": str(x["amount"]), "date": snapshot["job"]["closed_at"]}
                     for x in snapshot["expenses"]],
        "notes": [{"message": n["body"], "userEmail": techs[n["technician_id"]]["email"],
                   "createdAt": n["created_at"]} for n in snapshot["notes"]],
    }


def seed(url: str, settings: VendorSettings,
         snapshots: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Put the jobs into the sandbox, open. Returns (environment the connector needs — who each Jobber user is —,
    fieldbridge job id → Jobber job id, the snapshot's customer id → fieldbridge's id of its Jobber client)."""
    from connectors.jobber.mapping import canonical_id

    assert isinstance(settings, JobberSettings)
    techs = {t["email"]: t for s in snapshots for t in s["technicians"]}
    _admin(url, "/_sandbox/users", {"users": [
        {"first": t["name"].split(" ")[0], "last": t["name"].split(" ")[-1], "email": email,
         "timezone": t.get("timezone") or "America/Los_Angeles"} for email, t in sorted(techs.items())]})
    skus = sorted({p["sku"] for s in snapshots for p in s["parts"]})
    if skus:
        _admin(url, "/_sandbox/products", {"products": [{"name": sku, "category": "PRODUCT", "unitPrice": "0"}
                                                        for sku in skus]})
    # the demo's job ids (J1001 …) stay fieldbridge's: Jobber's job number plus the prefix they share
    prefixes = {re.sub(r"\d+$", "", s["job"]["id"]) for s in snapshots}
    prefix = prefixes.pop() if len(prefixes) == 1 else settings.job_id_prefix
    jobs, clients = {}, {}
    for n, snap in enumerate(snapshots):
        number = job_number(snap["job"]["id"], n)
        made = _admin(url, "/_sandbox/jobs", job_document(snap, number))
        jobs[f"{prefix}{number}"] = made["id"]
        clients[snap["customer"]["id"]] = canonical_id("Client", made["client"])
    links = {email: {k: t[k] for k in ("id", "payroll_id", "hr_id", "hourly_rate", "bill_rate") if t.get(k)}
             for email, t in techs.items()}
    return {"FIELDBRIDGE_JOBBER_TECHNICIANS": json.dumps(links, sort_keys=True),
            "FIELDBRIDGE_JOBBER_JOB_ID_PREFIX": prefix}, jobs, clients


def close(url: str, settings: VendorSettings, jobs: list[tuple[str, str]], webhook_url: str,
          redeliver_every: int = 5) -> None:
    """Close each (Jobber job id, completion time) in the sandbox; its webhooks (signed, every `redeliver_every`-th
    one twice) go to fieldbridge. Closing again at the same time changes nothing (a second demo posts nothing)."""
    _admin(url, "/_sandbox/webhooks", {"url": webhook_url, "redeliver_every": redeliver_every})
    for job, completed_at in jobs:
        _admin(url, f"/_sandbox/jobs/{job}/close", {"completedAt": completed_at})


def edit(url: str, settings: VendorSettings, edits: list[tuple[str, str]]) -> None:
    """A technician's late note on each (Jobber job id, technician's email), after the job was posted (Jobber
    sends JOB_UPDATE)."""
    for job, email in edits:
        _admin(url, f"/_sandbox/jobs/{job}/edit", {"addNotes": [
            {"message": "Follow-up: customer called, appliance still working fine.", "userEmail": email}]})


def pending_webhooks(url: str) -> int:
    resp = httpx.get(f"{url.rstrip('/')}/_sandbox/webhooks", timeout=30)
    resp.raise_for_status()
    return int(resp.json().get("pending", 0))
