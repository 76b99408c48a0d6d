"""Ops see only what reaches Prefect: send fieldbridge's own log lines into the flow run's logs.

Prefect captures its own loggers and `get_run_logger()`; library loggers (`fieldbridge.effects`,
`fieldbridge.ledger`, `fieldbridge.http`, …) only print to the console unless a Prefect API handler is
attached. This attaches one to the `fieldbridge` logger, passing only records emitted inside a flow or
task run (outside one there is no run to attach them to, and Prefect would warn for each line).
"""

from __future__ import annotations

import logging

_ROOT = "fieldbridge"


class _InRun(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        from prefect.context import FlowRunContext, TaskRunContext

        return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def route_fieldbridge_logs(level: int = logging.INFO) -> None:
    """Idempotent: safe to call at every import of a flow module. Also scrubs every log record of the
    process (secrets a vendor echoed, credentials in URLs) before any handler sees it."""
    from prefect.logging.handlers import APILogHandler

    from connectors.contract.redact import install_log_redaction

    install_log_redaction()

    logger = logging.getLogger(_ROOT)
    if logger.level == logging.NOTSET or logger.level > level:
        logger.setLevel(level)
    if not any(isinstance(h, APILogHandler) for h in logger.handlers):
        handler = APILogHandler()
        handler.addFilter(_InRun())
        logger.addHandler(handler)
