"""Paginators as small state machines: init the request, read a page, move the request on."""

from __future__ import annotations

from typing import Any, Protocol

import httpx


class Paginator(Protocol):
    def init_request(self, params: dict[str, Any]) -> None: ...

    def update_state(self, response: httpx.Response, body: Any) -> None: ...

    def update_request(self, params: dict[str, Any]) -> None: ...

    @property
    def has_next(self) -> bool: ...


class CursorPaginator:
    """HubSpot style: `paging.next.after` in the body, sent back as `after`."""

    def __init__(self, limit: int = 100) -> None:
        self.limit = limit
        self._after: str | None = None
        self._has_next = True

    def init_request(self, params: dict[str, Any]) -> None:
        params["limit"] = self.limit

    def update_state(self, response: httpx.Response, body: Any) -> None:
        self._after = ((body or {}).get("paging") or {}).get("next", {}).get("after")
        self._has_next = self._after is not None

    def update_request(self, params: dict[str, Any]) -> None:
        params["after"] = self._after

    @property
    def has_next(self) -> bool:
        return self._has_next


class PageNumberPaginator:
    """Gusto style: `page` and `per` query params, `X-Total-Pages` header."""

    def __init__(self, per: int = 100) -> None:
        self.per = per
        self.page = 1
        self._has_next = True

    def init_request(self, params: dict[str, Any]) -> None:
        params.update(page=self.page, per=self.per)

    def update_state(self, response: httpx.Response, body: Any) -> None:
        total = response.headers.get("X-Total-Pages")
        self._has_next = self.page < int(total) if total else len(body or []) == self.per

    def update_request(self, params: dict[str, Any]) -> None:
        self.page += 1
        params["page"] = self.page

    @property
    def has_next(self) -> bool:
        return self._has_next
