"""The one HTTP client every connector uses: auth, rate budget, classified errors, safe retries, logs."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from connectors.contract.errors import (
    ConfigError,
    ErrorResolution,
    ErrorRule,
    ResponseAction,
    TransientError,
    UnknownOutcomeError,
    error_for,
)
from connectors.contract.redact import redact_url, remember_header
from connectors.http import jsonbody
from connectors.http.auth import Auth
from connectors.http.classify import Describe, resolve, retry_after_seconds
from connectors.http.pagination import Paginator
from connectors.http.ratelimit import CostAwareBudget, RateBudget
from connectors.http.retry import RetryPolicy

log = logging.getLogger("fieldbridge.http")


_SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}


class HttpClient:
    """A vendor-bound client. Retries only what is safe to repeat.

    A request is repeatable when its method is idempotent or the caller says it carries the vendor's
    idempotency key (`idempotent=True`). A non-repeatable request whose answer was lost raises
    `UnknownOutcomeError`, so the effect ledger can look the record up before writing again.
    """

    def __init__(
        self,
        system: str,
        base_url: str,
        *,
        auth: Auth | None = None,
        budget: RateBudget | CostAwareBudget | None = None,
        policy: RetryPolicy | None = None,
        describe: Describe | None = None,
        errors: Mapping[int | str, ErrorRule] | None = None,
        default_headers: dict[str, str] | None = None,
        timeout: float = 20.0,
        transport: httpx.BaseTransport | None = None,
        observe: Callable[[httpx.Response], None] | None = None,
    ) -> None:
        self.system = system
        self.auth = auth
        self.budget = budget
        self.policy = policy or RetryPolicy()
        self.describe = describe  # the vendor's error body → words and codes
        self.errors = errors or {}  # the vendor's error table (codes or statuses → action and kind)
        self.observe = observe  # sees every answer (e.g. to feed a quota header to the rate budget)
        self.calls: Counter[str] = Counter()  # "METHOD /path-template" → count, for benchmarks
        self._http = httpx.Client(
            base_url=base_url,
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", **(default_headers or {})},
        )

    @property
    def base_url(self) -> httpx.URL:
        return self._http.base_url

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> tuple[httpx.Response, Any]:
        """Send with retries; return the response and its decoded JSON body, or raise a ConnectorError.
        `content` sends exact bytes (a signed body) with the caller's Content-Type instead of `json`."""
        method = method.upper()
        repeatable = idempotent if idempotent is not None else method in _SAFE_METHODS
        if content is None and json is not None:
            content = jsonbody.dumps(json).encode()
            headers = {**(headers or {}), "Content-Type": "application/json"}
        send_headers = dict(headers or {})
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            request = self._http.build_request(method, path, params=params, content=content, headers=send_headers)
            if self.auth is not None:
                self.auth.apply(request)
            response, body, exc = self._send(request)
            if exc is not None:
                sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
                if sent and not repeatable:
                    raise UnknownOutcomeError(
                        self.system, f"{method} {request.url.path}: no response ({type(exc).__name__})"
                    ) from exc
                if attempt >= self.policy.max_attempts:
                    cls = UnknownOutcomeError if sent else TransientError
                    raise cls(self.system, f"{method} {request.url.path}: {type(exc).__name__}") from exc
                time.sleep(self.policy.delay(attempt))
                continue
            assert response is not None
            resolution = self._resolve(response, body)
            retry_after = retry_after_seconds(response)
            if resolution.action is ResponseAction.SUCCESS:
                return response, body
            if resolution.action is ResponseAction.REFRESH_TOKEN_THEN_RETRY:
                if refreshed or self.auth is None or not self.auth.refresh(request):
                    raise ConfigError(
                        self.system, resolution.message or "authentication failed", status=response.status_code
                    )
                refreshed = True  # a 401 was not processed: replaying it is safe for any method
                continue
            if resolution.action is ResponseAction.RATE_LIMITED and self.budget is not None:
                # a 429 was not processed either: safe to replay; pause every thread sharing the budget
                self.budget.pause(self.policy.delay(attempt, retry_after))
            retryable = resolution.action is ResponseAction.RATE_LIMITED or (
                resolution.action is ResponseAction.RETRY and repeatable
            )
            if not retryable or attempt >= self.policy.max_attempts:
                raise error_for(self.system, resolution, response.status_code, retry_after)
            time.sleep(self.policy.delay(attempt, retry_after))

    def _send(self, request: httpx.Request) -> tuple[httpx.Response | None, Any, Exception | None]:
        for name, value in request.headers.items():  # an error body that echoes them is scrubbed later
            remember_header(name, value)
        for name, value in request.url.params.multi_items():
            remember_header(name, value)
        template = f"{request.method} {request.url.path}"
        self.calls[template] += 1
        if self.budget is not None:
            self.budget.acquire()
        started = time.perf_counter()
        try:
            response = self._http.send(request)
            body = jsonbody.loads(response.content) if self._is_json(response) else None
        except httpx.TransportError as exc:
            log.warning("%s %s -> %s", request.method, redact_url(str(request.url)), type(exc).__name__)
            return None, None, exc
        finally:
            if self.budget is not None:
                self.budget.release()
        if self.observe is not None:
            self.observe(response)
        log.debug(
            "%s %s -> %s in %.0f ms",
            request.method,
            redact_url(str(request.url)),
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response, body, None

    @staticmethod
    def _is_json(response: httpx.Response) -> bool:
        return bool(response.content) and "json" in response.headers.get("content-type", "")

    def _resolve(self, response: httpx.Response, body: Any) -> ErrorResolution:
        return resolve(response.status_code, body, self.describe, self.errors, response.headers)

    def paginate(
        self, path: str, paginator: Paginator, *, params: dict[str, Any] | None = None
    ) -> Iterator[tuple[httpx.Response, Any]]:
        """GET every page of a listing."""
        query = dict(params or {})
        paginator.init_request(query)
        while True:
            response, body = self.request("GET", path, params=query)
            yield response, body
            paginator.update_state(response, body)
            if not paginator.has_next:
                return
            paginator.update_request(query)
