"""Jobber's job → fieldbridge's open-API job snapshot. Pure: no I/O, so every rule is tested on plain dicts.

What maps from where (docs/jobber.md):
- the job → `job` (id: prefix + job number; closed when `jobStatus` is `requires_invoicing` or `archived`; the
  close time is the latest of the job's and its visits' `completedAt`);
- users (on visits, time sheets, notes) → technicians, only through FIELDBRIDGE_JOBBER_TECHNICIANS (by user id
  or email): payroll and HR ids and rates are fieldbridge's, not Jobber's;
- time sheet entries → time entries (work; travel when the label says so), with Jobber's UTC offsets;
- product line items → parts, by FIELDBRIDGE_JOBBER_ITEMS or an exact price-book SKU or name; service lines
  are labour, which fieldbridge bills from the technicians' hours; zero-quantity lines are Jobber's optional
  items and are left out;
- expenses → expenses; job notes by a mapped technician → notes (office users' notes stay in Jobber);
- the client → the customer, the property → the site (in the account owner's time zone).
Anything that cannot be mapped is a `SourceProblem` naming the Jobber record: the job is quarantined, never
guessed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.contract import PriceBook, SourceJob, SourceProblem
from connectors.jobber.settings import JobberSettings, TechnicianLink

CLOSED_STATUSES = frozenset({"requires_invoicing", "archived"})
_PREFIX = {"Client": "JBC-", "Property": "JBP-", "TimeSheetEntry": "JBT-", "JobLineItem": "JBL-",
           "Expense": "JBE-", "JobNote": "JBN-"}


def decode_gid(encoded: str) -> tuple[str, str] | None:
    """`Z2lkOi8vSm9iYmVyL0pvYi8xMjM=` → ("Job", "123"); None for anything else."""
    try:
        text = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    parts = text.removeprefix("gid://").split("/")
    if not text.startswith("gid://") or len(parts) != 3 or not parts[2].isalnum():
        return None
    return parts[1], parts[2]


def gid_label(encoded: str) -> str:
    """How a person finds the record: its global id decoded (gid://Jobber/User/7), else the id as given."""
    decoded = decode_gid(encoded)
    return f"gid://Jobber/{decoded[0]}/{decoded[1]}" if decoded else encoded


def canonical_id(kind: str, encoded: str) -> str:
    """fieldbridge's id of a Jobber record: stable, readable, within the open API's identifier rules."""
    decoded = decode_gid(encoded)
    tail = decoded[1] if decoded else hashlib.sha256(encoded.encode()).hexdigest()[:16]
    return f"{_PREFIX.get(kind, 'JB-')}{tail}"


def _nodes(job: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [n for n in ((job.get(name) or {}).get("nodes") or []) if isinstance(n, dict) and n.get("id")]


def user_ids(job: dict[str, Any]) -> set[str]:
    """Every user a job names (visits' assignees, time sheets, note authors)."""
    found = {u["id"] for v in _nodes(job, "visits") for u in ((v.get("assignedUsers") or {}).get("nodes") or [])}
    found |= {e["user"]["id"] for e in _nodes(job, "timeSheetEntries") if e.get("user")}
    found |= {n["createdBy"]["id"] for n in _nodes(job, "notes") if (n.get("createdBy") or {}).get("id")}
    return found


def _link(user_id: str, user: dict[str, Any] | None, links: dict[str, TechnicianLink]) -> TechnicianLink | None:
    """By the user's id, else by their email (case-insensitive)."""
    if user_id in links:
        return links[user_id]
    email = ((user or {}).get("email") or {}).get("raw") or ""
    return {k.lower(): v for k, v in links.items()}.get(email.lower()) if email else None


def _money(value: Any, places: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value)).quantize(Decimal(places))
    except InvalidOperation:
        return None


def _sku(line: dict[str, Any], items: dict[str, str], book: PriceBook) -> str | None:
    product = line.get("linkedProductOrService") or {}
    lowered = {k.lower(): v for k, v in items.items()}
    for key in (product.get("id"), product.get("name"), line.get("name")):
        if not key:
            continue
        if key in items:
            return items[key]
        if key.lower() in lowered:
            return lowered[key.lower()]
        if key in book.skus:
            return key
        if key.lower() in book.names:
            return book.names[key.lower()]
    return None


class _Mapper:
    def __init__(self, job: dict[str, Any], users: dict[str, dict[str, Any]], settings: JobberSettings,
                 book: PriceBook, timezone: str) -> None:
        self.job, self.users, self.settings, self.book, self.timezone = job, users, settings, book, timezone
        self.problems: list[SourceProblem] = []
        self.technicians: dict[str, dict[str, Any]] = {}  # Jobber user id → technician
        self.label = f"Jobber job #{job.get('jobNumber')}"

    def problem(self, record: str, message: str) -> None:
        self.problems.append(SourceProblem(record, message))

    def technician(self, user_id: str, required: bool = True) -> str | None:
        """The technician id of a Jobber user (added to the snapshot), or None (a problem when `required`)."""
        if user_id in self.technicians:
            return self.technicians[user_id]["id"]
        user = self.users.get(user_id)
        link = _link(user_id, user, self.settings.technicians)
        if link is None:
            if required:
                name = ((user or {}).get("name") or {}).get("full") or "?"
                email = ((user or {}).get("email") or {}).get("raw") or user_id
                self.problem(f"Jobber user '{name}' ({gid_label(user_id)})",
                             f"is not mapped to a technician: add \"{email}\" to FIELDBRIDGE_JOBBER_TECHNICIANS "
                             "with the technician's id and payroll id")
            return None
        tech: dict[str, Any] = {"id": link.id, "name": ((user or {}).get("name") or {}).get("full") or link.id,
                                "email": ((user or {}).get("email") or {}).get("raw") or ""}
        zone = link.timezone or (user or {}).get("timezone")
        extra = {"timezone": zone, "payroll_id": link.payroll_id, "hr_id": link.hr_id,
                 "hourly_rate": link.hourly_rate, "bill_rate": link.bill_rate}
        tech |= {k: v for k, v in extra.items() if v is not None}
        if any(t["id"] == link.id for t in self.technicians.values()):
            self.problem(f"Jobber user {gid_label(user_id)}", f"maps to technician {link.id}, as another user on "
                         "this job does: one technician per Jobber user")
            return None
        self.technicians[user_id] = tech
        return link.id

    def time_entries(self) -> list[dict[str, Any]]:
        out = []
        for e in _nodes(self.job, "timeSheetEntries"):
            record = f"Jobber time sheet entry {gid_label(e['id'])} on {self.label}"
            user = (e.get("user") or {}).get("id")
            if not user:
                self.problem(record, "has no user: whose time is it?")
                continue
            tech = self.technician(user)
            if e.get("ticking") or not e.get("endAt"):
                self.problem(record, "is still running: stop the timer in Jobber")
                continue
            if tech is None:
                continue
            travel = (e.get("label") or "").strip().lower() in self.settings.travel_labels
            out.append({"id": canonical_id("TimeSheetEntry", e["id"]), "technician_id": tech,
                        "kind": "travel" if travel else "work", "start": e["startAt"], "end": e["endAt"]})
        return out

    def parts(self) -> list[dict[str, Any]]:
        out = []
        for line in _nodes(self.job, "lineItems"):
            category = line.get("category") or (line.get("linkedProductOrService") or {}).get("category")
            quantity = _money(line.get("quantity"), "0.001")
            if category == "SERVICE" or quantity == 0:
                continue  # labour is billed from the hours; a zero quantity is an optional item not done
            record = f"Jobber line item '{line.get('name')}' ({gid_label(line['id'])}) on {self.label}"
            sku = _sku(line, self.settings.items, self.book)
            price = _money(line.get("unitPrice"), "0.0001")
            if sku is None:
                product = (line.get("linkedProductOrService") or {}).get("name") or line.get("name")
                self.problem(record, f"matches no price-book item: map product '{product}' to a SKU in "
                             "FIELDBRIDGE_JOBBER_ITEMS, or add it to the price book")
                continue
            if quantity is None or price is None:
                self.problem(record, "has no quantity or unit price")
                continue
            out.append({"id": canonical_id("JobLineItem", line["id"]), "sku": sku, "quantity": quantity,
                        "unit_price": price})
        return out

    def expenses(self) -> list[dict[str, Any]]:
        out = []
        for x in _nodes(self.job, "expenses"):
            amount = _money(x.get("total"), "0.01")
            if amount is None:
                self.problem(f"Jobber expense '{x.get('title')}' ({gid_label(x['id'])}) on {self.label}",
                             "has no total")
                continue
            out.append({"id": canonical_id("Expense", x["id"]), "description": (x.get("title") or "Expense")[:500],
                        "amount": amount, "billable": self.settings.expenses_billable})
        return out

    def notes(self) -> list[dict[str, Any]]:
        out = []
        for n in _nodes(self.job, "notes"):
            author = (n.get("createdBy") or {}).get("id")
            tech = self.technician(author, required=False) if author else None
            if tech is None or not n.get("message"):
                continue  # an office user's or an app's note stays in Jobber
            out.append({"id": canonical_id("JobNote", n["id"]), "technician_id": tech, "body": n["message"][:20_000],
                        "created_at": n["createdAt"]})
        return out

    def customer(self) -> dict[str, Any]:
        client = self.job.get("client") or {}
        emails = client.get("emails") or []
        phones = client.get("phones") or []
        email = next((e["address"] for e in emails if e.get("primary")), emails[0]["address"] if emails else None)
        phone = next((p["number"] for p in phones if p.get("primary")), phones[0]["number"] if phones else None)
        name = (client.get("companyName") if client.get("isCompany") else None) or client.get("name") or ""
        out: dict[str, Any] = {"id": canonical_id("Client", client.get("id", "")), "name": name[:500] or "?"}
        if email:
            out["email"] = email
        if phone:
            out["phone"] = phone[:40]
        bill = client.get("billingAddress") or {}
        if bill.get("street1") and bill.get("city") and bill.get("postalCode"):
            out["billing_address"] = {"line1": bill["street1"], "city": bill["city"],
                                      "state": bill.get("province") or None, "postal_code": bill["postalCode"]}
        if not client.get("id"):
            self.problem(self.label, "has no client")
        return out

    def site(self) -> dict[str, Any] | None:
        prop = self.job.get("property")
        if not prop:
            self.problem(self.label, "has no property: set the service address in Jobber")
            return None
        address = prop.get("address") or {}
        missing = [f for f in ("street1", "city", "postalCode") if not address.get(f)]
        if missing:
            self.problem(f"Jobber property {gid_label(prop['id'])} of {self.label}",
                         f"has no {', '.join(missing)} in its address")
            return None
        return {"id": canonical_id("Property", prop["id"]), "line1": address["street1"], "city": address["city"],
                "state": address.get("province") or "", "postal_code": address["postalCode"],
                "timezone": self.timezone}

    def closed_at(self) -> str | None:
        times = [t for t in [self.job.get("completedAt")] + [v.get("completedAt") for v in _nodes(self.job, "visits")]
                 if t]
        if not times:
            return None
        from datetime import datetime

        return max(times, key=lambda t: datetime.fromisoformat(t.replace("Z", "+00:00")))


def map_job(job: dict[str, Any], users: dict[str, dict[str, Any]], settings: JobberSettings, book: PriceBook, *,
            timezone: str) -> SourceJob:
    """The job as an open-API snapshot, or the problems that keep it from being one."""
    m = _Mapper(job, users, settings, book, timezone)
    job_id = f"{settings.job_id_prefix}{job['jobNumber']}"
    closed = job.get("jobStatus") in CLOSED_STATUSES
    for visit in _nodes(job, "visits"):  # everyone on the job is a technician fieldbridge must know
        for user in (visit.get("assignedUsers") or {}).get("nodes") or []:
            m.technician(user["id"])
    entries, parts, expenses, notes = m.time_entries(), m.parts(), m.expenses(), m.notes()
    customer, site = m.customer(), m.site()
    closed_at = m.closed_at()
    if closed and closed_at is None:
        m.problem(m.label, "is closed but neither the job nor a visit has a completion time")
    snapshot = {
        "job": {"id": job_id, "description": (job.get("title") or m.label)[:500], "closed_at": closed_at},
        "customer": customer, "site": site, "technicians": list(m.technicians.values()),
        "time_entries": entries, "parts": parts, "expenses": expenses, "notes": notes,
    }
    refs = [("job", job_id, job["id"]), ("customer", customer["id"], (job.get("client") or {}).get("id", ""))]
    if site is not None:
        refs.append(("site", site["id"], job["property"]["id"]))
    refs += [("technician", t["id"], uid) for uid, t in m.technicians.items()]
    return SourceJob(job_id=job_id, vendor_id=job["id"], closed=closed,
                     snapshot=None if m.problems else snapshot, problems=tuple(m.problems), refs=tuple(refs),
                     label=m.label, url=job.get("jobberWebUri"))
