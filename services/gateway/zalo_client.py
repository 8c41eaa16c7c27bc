"""The HTTP adapter to Zalo's OpenAPI and OAuth hosts (aiohttp). No policy here: it sends one request
and reports what came back; zalo_api.py classifies it and the caller decides what to do."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from services.gateway import zalo_api
from services.gateway.metrics import EgressMetrics


@dataclass(frozen=True)
class ZaloReply:
    """A complete HTTP answer: status, parsed JSON body (None if not JSON), rate-limit headers."""

    status: int
    body: Any
    rate_limit: int | None = None
    rate_remain: int | None = None


class ZaloTransportError(Exception):
    """No HTTP answer. `connected` says whether the request may have reached Zalo."""

    def __init__(self, kind: str, connected: bool) -> None:
        super().__init__(kind)
        self.kind = kind
        self.connected = connected


class ZaloClient:
    """Calls the OpenAPI (`access_token` header; GET with `data=<json>`; multipart uploads) and OAuth."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        api_base: str,
        oauth_base: str,
        app_id: str,
        app_secret: str,
        timeout_s: float,
        metrics: EgressMetrics,
    ) -> None:
        self._session = session
        self._api = api_base.rstrip("/")
        self._oauth = oauth_base.rstrip("/")
        self._app_id = app_id
        self._app_secret = app_secret
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._metrics = metrics

    async def call(self, request: zalo_api.ZaloRequest, access_token: str) -> ZaloReply:
        """One OpenAPI request as rendered by zalo_api."""
        headers = {zalo_api.ACCESS_TOKEN_HEADER: access_token}
        url = self._api + request.path
        if request.method == "GET":
            return await self._send("GET", request.path, url, headers=headers, params=request.query())
        return await self._send("POST", request.path, url, headers=headers, json=request.body)

    async def upload_image(self, access_token: str, data: bytes, filename: str, content_type: str) -> ZaloReply:
        """[C] POST /v2.0/oa/upload/image, multipart with the field `file`; answers data.attachment_id."""
        form = aiohttp.FormData()
        form.add_field(zalo_api.UPLOAD_FIELD, data, filename=filename, content_type=content_type)
        path = zalo_api.UPLOAD_IMAGE_PATH
        headers = {zalo_api.ACCESS_TOKEN_HEADER: access_token}
        return await self._send("POST", path, self._api + path, headers=headers, data=form)

    async def refresh(self, refresh_token: str) -> ZaloReply:
        """[C] POST /v4/oa/access_token (form) with the `secret_key` header: the refresh grant."""
        path = zalo_api.OAUTH_TOKEN_PATH
        headers = {zalo_api.SECRET_KEY_HEADER: self._app_secret}
        form = zalo_api.refresh_form(self._app_id, refresh_token)
        return await self._send("POST", path, self._oauth + path, headers=headers, data=form)

    async def _send(self, method: str, endpoint: str, url: str, **kwargs: Any) -> ZaloReply:
        started = time.perf_counter()
        outcome = "network"
        try:
            async with self._session.request(method, url, timeout=self._timeout, **kwargs) as resp:
                raw = await resp.read()
                try:
                    body = await resp.json(content_type=None) if raw else None
                except ValueError:
                    body = None
                reply = ZaloReply(
                    resp.status,
                    body,
                    _int_header(resp.headers.get(zalo_api.RATE_LIMIT_HEADER)),
                    _int_header(resp.headers.get(zalo_api.RATE_REMAIN_HEADER)),
                )
            if resp.status != 200:
                outcome = "http_error"
            elif isinstance(body, dict) and body.get("error") not in (None, 0):
                outcome = "zalo_error"
            else:
                outcome = "ok"
            return reply
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            outcome = "connect_error"
            raise ZaloTransportError("connect", connected=False) from exc
        except TimeoutError as exc:
            outcome = "timeout"
            raise ZaloTransportError("timeout", connected=True) from exc
        except aiohttp.ClientError as exc:
            raise ZaloTransportError(type(exc).__name__, connected=True) from exc
        finally:
            self._metrics.zalo_latency.labels(endpoint, outcome).observe(time.perf_counter() - started)


def _int_header(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
