"""How BambooHR says what went wrong: problem+json bodies on the time-tracking API
(`{type, title, status, detail, code, fields}`), an `X-BambooHR-Error-Message` header elsewhere."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.contract import ErrorRule, FailureType, ResponseAction, VendorError


def describe(status: int, body: Any, headers: Mapping[str, str] | None = None) -> VendorError | None:
    if status < 300:
        return None
    header = (headers or {}).get("X-BambooHR-Error-Message", "")
    if isinstance(body, dict):
        fields = body.get("fields") or {}
        detail = body.get("detail") or body.get("title") or header
        if isinstance(fields, dict) and fields:
            detail = f"{detail} ({'; '.join(f'{k}: {v}' for k, v in fields.items())})"
        code = body.get("code")
        return VendorError(str(detail), (str(code),) if code else ())
    return VendorError(header) if header else None


ERRORS: dict[int | str, ErrorRule] = {
    406: ErrorRule(ResponseAction.FAIL, FailureType.CONFIG,
                   message="request not acceptable to this company's time tracking (check its setup)"),
    409: ErrorRule(ResponseAction.FAIL, FailureType.DATA, message="conflicts with the employee's timesheet"),
    412: ErrorRule(ResponseAction.FAIL, FailureType.CONFIG, message="the company's time tracking is not set up"),
}
