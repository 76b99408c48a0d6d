"""Keep secrets out of logs, artifacts, exception text and tracebacks.

Two nets, because a vendor can echo a credential anywhere in an error body:
- *known values*: every credential fieldbridge sends (the HTTP layer remembers the Authorization header and
  secret-looking headers and query parameters of each request; the token endpoint remembers what it sends
  and receives) is masked wherever it appears later, like CI systems mask their secrets;
- *shapes*: `Bearer …`/`Basic …`, `access_token=…`/`"client_secret": "…"`, JSON Web Tokens, whatever the value.

`scrub(text)` applies both; `ConnectorError` scrubs its message, the ledger its `last_error`, and
`install_log_redaction()` every log record (message and traceback) of every logger in the process.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_SECRET_NAME = re.compile(r"(token|secret|password|authorization|api[_-]?key|code|signature|cookie|assertion)",
                          re.I)
MASK = "***"
_MIN_SECRET = 8  # shorter values are too likely to be ordinary words or ids
_REMEMBERED = 512

_SHAPES = [
    # Authorization: Bearer xyz / Basic xyz (also inside quotes, JSON, reprs); a credential has a digit or a
    # symbol in it, prose ("token configured", "basic authentication") has not
    (re.compile(r"\b([Bb]earer|BEARER|Basic|Token)\s+(?=[A-Za-z]*[0-9._~+/=\-])[A-Za-z0-9._~+/=\-]{6,}"),
     r"\1 " + MASK),
    # name=value, name: value, "name": "value" for credential-looking names
    (re.compile(r"""((?:access|refresh|id)?_?token|client_secret|secret|password|passwd|api[_-]?key|apikey"""
                r"""|authorization|assertion|signature)(["']?\s*[:=]\s*["']?)(?!\*\*\*)([^"'&\s,;}\]]+)""", re.I),
     r"\1\2" + MASK),
    # JSON Web Tokens (three base64url parts, the first a JSON header)
    (re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"), MASK),
]

_known: OrderedDict[str, None] = OrderedDict()
_lock = threading.Lock()


def remember_secret(value: str | None) -> None:
    """Mask `value` wherever it appears from now on (the most recent few hundred are kept)."""
    if not value or len(value) < _MIN_SECRET:
        return
    with _lock:
        _known[value] = None
        _known.move_to_end(value)
        while len(_known) > _REMEMBERED:
            _known.popitem(last=False)


def remember_header(name: str, value: str) -> None:
    """Remember a credential header's value, and what it wraps (`Bearer x`, `Basic base64(user:pass)`)."""
    if not (_SECRET_NAME.search(name) or name.lower() in ("x-api-key", "api-key")):
        return
    remember_secret(value)
    scheme, _, rest = value.partition(" ")
    if rest:
        remember_secret(rest)
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(rest).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return
            remember_secret(user)
            remember_secret(password)


def remember_form(form: dict[str, Any]) -> None:
    """Remember the credential-looking values of a form or JSON object (token grants and their answers)."""
    for key, value in form.items():
        if isinstance(value, str) and _SECRET_NAME.search(str(key)):
            remember_secret(value)


def scrub(text: str) -> str:
    """`text` with every remembered secret and every credential-shaped value masked."""
    if not text:
        return text
    with _lock:
        known = list(_known)
    for value in sorted(known, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    return text


def redact_url(url: str) -> str:
    """Mask query parameters whose names look like credentials."""
    parts = urlsplit(str(url))
    if not parts.query:
        return str(url)
    query = [(k, MASK if _SECRET_NAME.search(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="*/ '=")))


def redact(obj: Any) -> Any:
    """Deep-copy `obj` with values under secret-looking keys masked and strings scrubbed."""
    if isinstance(obj, dict):
        return {k: (MASK if _SECRET_NAME.search(str(k)) else redact(v)) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact(v) for v in obj]
    if isinstance(obj, str):
        return scrub(obj)
    return obj


_formatter = logging.Formatter()
_installed = False


def install_log_redaction() -> None:
    """Scrub every log record this process creates, whatever its logger or handler: the message with its
    arguments, and the traceback (formatted once here, so handlers print the scrubbed text). Idempotent."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: leave it to logging's own error handling
            return record
        record.msg, record.args = scrub(message), None
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = scrub(_formatter.formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
    # httpx logs every request's full URL at INFO: query strings carry search terms (emails, names) and
    # sometimes keys. Keep its loggers at WARNING, and should anyone lower them, hide queries and emails.
    for name in ("httpx", "httpcore"):
        quiet = logging.getLogger(name)
        if quiet.level == logging.NOTSET or quiet.level < logging.WARNING:
            quiet.setLevel(logging.WARNING)
        quiet.addFilter(_HideUrlData())


_QUERY = re.compile(r"(https?://[^\s\"'?]+)\?[^\s\"']*")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+(?:@|%40)[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


class _HideUrlData(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        text = _EMAIL.sub(MASK, _QUERY.sub(r"\1?" + MASK, record.getMessage()))
        record.msg, record.args = text, None
        return True
