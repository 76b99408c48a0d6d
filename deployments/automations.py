"""Server-side automations fieldbridge relies on, created (or replaced) by `fieldbridge serve` and `deploy`.

- **alerts**: a `job-closed` run that fails, is quarantined, needs review or crashes is posted to the
  operator's webhook (`FIELDBRIDGE_ALERT_WEBHOOK_URL`, stored as an encrypted Webhook block);
- **zombies**: a run that stops sending heartbeats without reaching a final state is marked Crashed,
  so the ingress sweeper can re-drive it (Prefect's documented zombie-detection pattern).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from models.settings import FieldbridgeSettings

log = logging.getLogger("fieldbridge.automations")

ALERT_AUTOMATION = "fieldbridge: job-closed failed or quarantined"
ZOMBIE_AUTOMATION = "fieldbridge: crashed when heartbeats stop"
ALERT_BLOCK = "fieldbridge-alerts"
#: the run ends (named) states job-closed can finish in; heartbeats stop after any of them
ALERT_STATES = ("Failed", "Quarantined", "NeedsReview", "Crashed")
#: (a state named otherwise would read as "heartbeats stopped" and be marked Crashed)
FINAL_STATES = ("Completed", "Failed", "Cancelled", "Crashed", "Quarantined", "NeedsReview", "Superseded",
                "TransientFailure", "Partial")

ALERT_PAYLOAD = """{
  "text": "fieldbridge: {{ flow_run.name }} ended {{ flow_run.state.name }}",
  "flow_run": "{{ flow_run.name }}",
  "flow_run_id": "{{ flow_run.id }}",
  "state": "{{ flow_run.state.name }}",
  "message": {{ flow_run.state.message | tojson }},
  "job_id": "{{ flow_run.parameters.job_id }}",
  "url": "{{ flow_run | ui_url }}"
}"""


def _replace(client: Any, automation: Any) -> str:
    for old in client.read_automations_by_name(automation.name):
        client.delete_automation(old.id)
    return str(client.create_automation(automation))


def alert_automation(block_document_id: Any) -> Any:
    from prefect.events.actions import CallWebhook
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    trigger = EventTrigger(
        expect={f"prefect.flow-run.{name}" for name in ALERT_STATES},
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related={"prefect.resource.role": "flow", "prefect.resource.name": "job-closed"},
        posture=Posture.Reactive, threshold=1, within=timedelta(0),
    )
    return AutomationCore(name=ALERT_AUTOMATION, description="Posts failed, quarantined and crashed job-closed runs "
                          "to the operator's webhook", trigger=trigger,
                          actions=[CallWebhook(block_document_id=block_document_id, payload=ALERT_PAYLOAD)])


def zombie_automation(heartbeat_seconds: int) -> Any:
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    trigger = EventTrigger(
        after={"prefect.flow-run.heartbeat"},
        expect={"prefect.flow-run.heartbeat", *(f"prefect.flow-run.{name}" for name in FINAL_STATES)},
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related={"prefect.resource.role": "tag", "prefect.resource.id": "prefect.tag.fieldbridge"},
        for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1,
        within=timedelta(seconds=3 * heartbeat_seconds),
    )
    return AutomationCore(name=ZOMBIE_AUTOMATION, description="A fieldbridge run that stopped sending heartbeats "
                          "(its process died) is marked Crashed; the ingress sweeper re-drives it", trigger=trigger,
                          actions=[ChangeFlowRunState(state=StateType.CRASHED, name="Crashed",
                                                      message="No heartbeat: the process running it died")])


def ensure_automations(settings: FieldbridgeSettings) -> dict[str, str]:
    """Create or replace fieldbridge's automations on the configured Prefect server; name → id."""
    from prefect import get_client
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY

    created: dict[str, str] = {}
    with get_client(sync_client=True) as client:
        heartbeat = int(PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value() or 180)
        created[ZOMBIE_AUTOMATION] = _replace(client, zombie_automation(heartbeat))
        if settings.alert_webhook_url is not None:
            from prefect.blocks.webhook import Webhook

            block_id = Webhook(method="POST", url=settings.alert_webhook_url).save(ALERT_BLOCK, overwrite=True)
            created[ALERT_AUTOMATION] = _replace(client, alert_automation(block_id))
        else:
            for old in client.read_automations_by_name(ALERT_AUTOMATION):
                client.delete_automation(old.id)
    log.debug("automations in place: %s", ", ".join(created))
    return created
