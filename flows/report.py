"""The markdown a `job-closed` run leaves behind: what it posted where (with links), and what started it."""

from __future__ import annotations

from typing import Any

from models import inbox


def _link(connector: Any, kind: str, vendor_id: str | None) -> str:
    if not vendor_id:
        return "-"
    url = connector.record_url(kind, vendor_id) if hasattr(connector, "record_url") else None
    return f"[`{vendor_id}`]({url})" if url else f"`{vendor_id}`"


def _run_link(flow_run_id: str) -> str:
    try:
        from prefect.settings import PREFECT_UI_URL

        base = PREFECT_UI_URL.value()
    except Exception:
        base = None
    return f"[{flow_run_id}]({base}/runs/flow-run/{flow_run_id})" if base else f"`{flow_run_id}`"


def origin_markdown(rt: Any, event_id: str | None, replaces: str | None) -> list[str]:
    """Lines naming the inbox event that started the run and the run it replaces, if any."""
    lines = []
    if event_id:
        row = inbox.find_event(rt.engine, event_id)
        if row is not None:
            stamp = "%Y-%m-%d %H:%M:%S"
            lines.append(f"Started by inbox event `{row.event_id}` ({row.type}, occurred "
                         f"{row.occurred_at.strftime(stamp)} UTC, received {row.received_at.strftime(stamp)} UTC, "
                         f"{row.deliveries} deliver{'y' if row.deliveries == 1 else 'ies'}).")
        else:
            lines.append(f"Started for inbox event `{event_id}` (not found in the inbox).")
    if replaces:
        lines.append(f"Reruns flow run {_run_link(replaces)}.")
    return lines


def summary_markdown(rt: Any, job_id: str, results: dict[str, Any], origin: list[str]) -> str:
    crm, payroll, accounting = results["crm"], results["payroll"], results["accounting"]
    lines = [f"# Job {job_id} posted", "", *origin, "", "| system | record | detail |", "|---|---|---|"]
    notes = ", ".join(_link(rt.crm, "note", n) for n in crm["note_ids"]) or "none"
    lines.append(f"| {crm['system']} | ticket {_link(rt.crm, 'ticket', crm['ticket_id'])} | resolved; notes: {notes} |")
    for sheet in payroll["timesheets"]:
        lines.append(
            f"| {payroll['system']} | timesheet {_link(rt.payroll, 'timesheet', sheet['timesheet_id'])} | "
            f"{sheet['technician_id']} {sheet['workday']}: {sheet['regular']} reg, {sheet['overtime']} OT, "
            f"{sheet['double_time']} DT, {sheet['travel']} travel, {sheet.get('paid_breaks', '0.00')} paid breaks"
            + "".join(f"<br>· {note}" for note in sheet.get("notes", [])) + " |"
        )
    state = ("updated in place" if accounting.get("updated")
             else "created" if accounting.get("written") else "unchanged")
    sent = f"; {accounting['sent']}" if accounting.get("sent") else ""
    invoice = _link(rt.accounting, "invoice", accounting["invoice_id"])
    lines.append(f"| {accounting['system']} | invoice {invoice} | number {accounting['number']}, total "
                 f"{accounting['total']} {accounting['currency']} ({state}{sent}) |")
    for delivery in results.get("events", {}).get("delivered", []):
        verdict = "delivered" if delivery["written"] else "delivered earlier"
        lines.append(f"| {results['events']['system']} | event `{delivery['event']}` | {verdict} to "
                     f"{delivery['target']} |")
    return "\n".join(lines)


def failure_markdown(job_id: str, done: dict[str, Any], errors: dict[str, BaseException], origin: list[str]) -> str:
    lines = [f"# Job {job_id}: {len(errors)} of {len(done) + len(errors)} branches failed", "", *origin, "",
             "Branches that succeeded are recorded in the effect ledger and will not be repeated; "
             "fix the cause and rerun the flow to finish the rest.", "", "| branch | outcome |", "|---|---|"]
    lines += [f"| {name} | posted |" for name in done]
    lines += [f"| {name} | **failed**: {str(exc).replace('|', '/')} |" for name, exc in errors.items()]
    return "\n".join(lines)
