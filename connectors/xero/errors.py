"""How Xero says what went wrong: `ValidationException` bodies, problem-style 401/403 bodies, and 429s
whose `X-Rate-Limit-Problem` header says which limit was hit — a day's allowance stops cleanly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.contract import ErrorRule, FailureType, QuotaExhausted, ResponseAction, VendorError


def describe(status: int, body: Any, headers: Mapping[str, str] | None = None) -> VendorError | None:
    if status < 300:
        return None
    headers = headers or {}
    codes: list[str] = []
    if status == 429:
        problem = headers.get("X-Rate-Limit-Problem", "minute").lower()
        words = {"day": "the organisation's 5,000 calls for today are used up",
                 "minute": "the organisation's 60 calls a minute are used up",
                 "concurrent": "5 calls are already in flight for the organisation",
                 "appminute": "the app's calls a minute across organisations are used up"}
        return VendorError(words.get(problem, f"rate limited ({problem})"), (f"rate-limit:{problem}",))
    if not isinstance(body, dict):
        return None
    messages = [v.get("Message", "") for element in body.get("Elements") or [] if isinstance(element, dict)
                for v in element.get("ValidationErrors") or [] if isinstance(v, dict)]
    message = ("; ".join(m for m in messages if m) or body.get("Message") or body.get("Detail")
               or body.get("Title") or "")
    if body.get("Type"):
        codes.append(str(body["Type"]))
    return VendorError(str(message), tuple(codes))


ERRORS: dict[int | str, ErrorRule] = {
    "rate-limit:day": ErrorRule(ResponseAction.FAIL, FailureType.CONFIG, QuotaExhausted,
                                "the organisation's 5,000 calls for today are used up"),
    "rate-limit:minute": ErrorRule(ResponseAction.RATE_LIMITED, FailureType.TRANSIENT),
    "rate-limit:concurrent": ErrorRule(ResponseAction.RATE_LIMITED, FailureType.TRANSIENT),
    "rate-limit:appminute": ErrorRule(ResponseAction.RATE_LIMITED, FailureType.TRANSIENT),
    "ValidationException": ErrorRule(ResponseAction.FAIL, FailureType.DATA),
    "PostDataInvalidException": ErrorRule(ResponseAction.FAIL, FailureType.DATA),
}
