"""The console server with fake upstream APIs in process: proxy, sign-in, pages and their headers."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import ClientSession, CookieJar, web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr, ValidationError

from services.console.app import create_app
from services.console.pages import STATIC_DIR
from services.console.settings import ConsoleSettings
from services.reports import domain as reports_domain

pytestmark = pytest.mark.unit

CSRF = {"X-Requested-By": "zan-console"}
REPORTS_SECRET, NEWS_SECRET = "reports-dev-secret-for-tests-0123456789", "news-dev-secret-for-tests-0123456789"
DEV = {
    "dev_login": True,
    "dev_reports_jwt_secret": SecretStr(REPORTS_SECRET),
    "dev_reports_jwt_issuer": "zan-officer-auth",
    "dev_reports_jwt_audience": "zan-reports",
    "dev_news_jwt_secret": SecretStr(NEWS_SECRET),
    "dev_news_jwt_issuer": "zalo-an-ninh",
    "dev_news_jwt_audience": "zalo-an-ninh-news",
}
REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Upstream:
    """A fake API: records every request and answers with what it saw."""

    name: str
    seen: list[dict[str, Any]] = field(default_factory=list)
    server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    async def handle(self, request: web.Request) -> web.Response:
        record = {
            "method": request.method,
            "path": request.rel_url.raw_path,
            "query": request.rel_url.raw_query_string,
            "headers": dict(request.headers),
            "body": (await request.read()).decode(),
        }
        self.seen.append(record)
        if request.path.endswith("/photo"):
            return web.Response(body=b"\x89PNG fake", content_type="image/png", headers={"ETag": '"blob"'})
        return web.json_response(
            {"upstream": self.name, **{k: v for k, v in record.items() if k != "headers"}},
            status=201 if request.method == "POST" else 200,
            headers={"ETag": '"7"', "X-Internal": "never-forwarded"},
        )


@dataclass
class Console:
    url: str
    http: ClientSession
    reports: Upstream
    news: Upstream


@pytest.fixture
def console_factory() -> Callable[..., Any]:
    async def make(**overrides: Any) -> AsyncIterator[Console]:
        reports, news = Upstream("reports"), Upstream("news")
        for up in (reports, news):
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", up.handle)
            up.server = TestServer(app)
            await up.server.start_server()
        settings = ConsoleSettings(reports_url=reports.url, news_url=news.url, **overrides)
        server = TestServer(create_app(settings))
        await server.start_server()
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:  # unsafe: cookies of 127.0.0.1
            yield Console(str(server.make_url("")).rstrip("/"), http, reports, news)
        await server.close()
        for up in (reports, news):
            assert up.server is not None
            await up.server.close()

    return make


@pytest.fixture
async def console(console_factory) -> AsyncIterator[Console]:
    async for c in console_factory():
        yield c


@pytest.fixture
async def dev_console(console_factory) -> AsyncIterator[Console]:
    async for c in console_factory(**DEV):
        yield c


def bearer(claims: dict[str, Any]) -> str:
    return jwt.encode({"exp": 4_000_000_000, **claims}, "idp-key-the-console-never-sees-0123456789", algorithm="HS256")


# -- development sign-in -----------------------------------------------------------------------------


async def test_dev_sign_in_is_disabled_by_default_and_dev_cookies_count_for_nothing(console: Console) -> None:
    form = {"sub": "canbo01", "role": "supervisor", "unit": "tanphu"}
    async with console.http.post(f"{console.url}/console/api/dev/sign-in", json=form, headers=CSRF) as r:
        assert r.status == 404
        assert "zan_dev_reports" not in r.cookies
    async with console.http.get(f"{console.url}/console/api/config") as r:
        assert (await r.json())["dev_login"] is False
    cookies = {"zan_dev_reports": bearer({"sub": "x", "role": "supervisor"})}
    async with console.http.get(f"{console.url}/api/reports/v1/cases", cookies=cookies) as r:
        assert r.status == 401
    async with console.http.get(f"{console.url}/console/api/session", cookies=cookies) as r:
        assert (await r.json())["signed_in"] is False
    assert console.reports.seen == []


def test_dev_sign_in_needs_every_dev_secret() -> None:
    with pytest.raises(ValidationError, match="CONSOLE_DEV_NEWS_JWT_SECRET"):
        ConsoleSettings(**{**DEV, "dev_news_jwt_secret": None})
    assert ConsoleSettings().dev_login is False


async def test_dev_officer_gets_a_reports_token_only_kept_in_an_http_only_cookie(dev_console: Console) -> None:
    c = dev_console
    form = {"sub": "canbo01", "role": "officer", "unit": "tansonnhi"}
    async with c.http.post(f"{c.url}/console/api/dev/sign-in", json=form, headers=CSRF) as r:
        assert r.status == 200
        session = await r.json()
        set_cookies = r.headers.getall("Set-Cookie")
    assert session["sub"] == "canbo01" and session["role"] == "officer" and session["mode"] == "dev"
    assert session["sections"] == {
        "desk": True,
        "newsroom": False,
        "case_write": True,
        "audit": False,
        "approve": False,
    }
    reports_cookie = next(s for s in set_cookies if s.startswith("zan_dev_reports="))
    assert "HttpOnly" in reports_cookie and "SameSite=Strict" in reports_cookie and "Path=/" in reports_cookie
    assert "token" not in json.dumps(session)  # the page never holds a token

    async with c.http.get(f"{c.url}/api/reports/v1/cases?unit=tansonnhi&status=received,acknowledged") as r:
        assert r.status == 200
    (seen,) = c.reports.seen
    token = seen["headers"]["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, REPORTS_SECRET, algorithms=["HS256"], audience="zan-reports", issuer="zan-officer-auth")
    assert (claims["sub"], claims["role"], claims["unit"]) == ("canbo01", "officer", "tansonnhi")
    assert "Cookie" not in seen["headers"], "console cookies must not reach the APIs"
    async with c.http.get(f"{c.url}/api/news/v1/campaigns") as r:
        assert r.status == 403
    assert c.news.seen == []


async def test_dev_supervisor_gets_both_tokens_and_sign_out_clears_them(dev_console: Console) -> None:
    c = dev_console
    form = {"sub": "chihuy01", "role": "supervisor", "unit": "tanphu"}
    async with c.http.post(f"{c.url}/console/api/dev/sign-in", json=form, headers=CSRF) as r:
        assert r.status == 200
    async with c.http.get(f"{c.url}/api/news/v1/campaigns") as r:
        assert r.status == 200
    token = c.news.seen[0]["headers"]["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, NEWS_SECRET, algorithms=["HS256"], audience="zalo-an-ninh-news", issuer="zalo-an-ninh")
    assert claims["role"] == "supervisor" and claims["unit"] == "tanphu"
    async with c.http.post(f"{c.url}/console/api/sign-out", headers=CSRF) as r:
        assert (await r.json())["redirect"] == "/"
    async with c.http.get(f"{c.url}/console/api/session") as r:
        assert (await r.json())["signed_in"] is False
    async with c.http.get(f"{c.url}/api/news/v1/campaigns") as r:
        assert r.status == 401


@pytest.mark.parametrize(
    "form",
    [
        {"sub": "canbo01", "role": "admin", "unit": "tanphu"},
        {"sub": "canbo01", "role": "officer", "unit": "nowhere"},
        {"sub": "<script>", "role": "officer", "unit": "tanphu"},
    ],
)
async def test_dev_sign_in_refuses_unknown_roles_units_and_odd_ids(dev_console: Console, form: dict) -> None:
    async with dev_console.http.post(f"{dev_console.url}/console/api/dev/sign-in", json=form, headers=CSRF) as r:
        assert r.status == 422


# -- production: the identity provider's token is forwarded --------------------------------------------


async def test_forwarded_bearer_token_reaches_both_apis_unchanged(console: Console) -> None:
    token = bearer({"sub": "u7", "role": "supervisor", "unit": "tanphu"})
    headers = {
        "Authorization": f"Bearer {token}",
        "Cookie": "_oauth2_proxy=secret-session",
        "If-Match": '"3"',
        "Idempotency-Key": "k-1",
        "X-Forwarded-For": "203.0.113.9",
        "X-Internal-Only": "x",
        **CSRF,
    }
    body = {"status": "acknowledged", "version": 3}
    async with console.http.post(
        f"{console.url}/api/reports/v1/cases/TP-26-000001/status?q=a%26b%20c", json=body, headers=headers
    ) as r:
        assert r.status == 201
        assert r.headers["ETag"] == '"7"'
        assert "X-Internal" not in r.headers
        echoed = await r.json()
    assert echoed["path"] == "/api/v1/cases/TP-26-000001/status" and echoed["query"] == "q=a%26b%20c"
    assert json.loads(echoed["body"]) == body
    (seen,) = console.reports.seen
    assert seen["headers"]["Authorization"] == f"Bearer {token}"
    assert seen["headers"]["If-Match"] == '"3"' and seen["headers"]["Idempotency-Key"] == "k-1"
    assert seen["headers"]["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"
    assert "Cookie" not in seen["headers"] and "X-Internal-Only" not in seen["headers"]
    assert "X-Requested-By" not in seen["headers"]

    async with console.http.get(f"{console.url}/api/news/v1/campaigns", headers={"Authorization": f"Bearer {token}"}):
        pass
    assert console.news.seen[0]["headers"]["Authorization"] == f"Bearer {token}"


async def test_x_forwarded_access_token_becomes_the_bearer_token(console: Console) -> None:
    token = bearer({"sub": "bt1", "role": "editor", "unit": "tanphu"})
    async with console.http.get(f"{console.url}/console/api/session", headers={"X-Forwarded-Access-Token": token}) as r:
        session = await r.json()
    assert session["mode"] == "forwarded" and session["role"] == "editor"
    assert session["sections"]["newsroom"] is True and session["sections"]["desk"] is False
    async with console.http.patch(
        f"{console.url}/api/news/v1/campaigns/c1",
        json={"title": "x"},
        headers={"X-Forwarded-Access-Token": token, **CSRF},
    ) as r:
        assert r.status == 200
    assert console.news.seen[0]["method"] == "PATCH"
    assert console.news.seen[0]["headers"]["Authorization"] == f"Bearer {token}"


async def test_forwarded_sign_out_goes_to_the_identity_proxy(console: Console) -> None:
    token = bearer({"sub": "u7", "role": "officer", "unit": "tanphu"})
    headers = {"Authorization": f"Bearer {token}", **CSRF}
    async with console.http.post(f"{console.url}/console/api/sign-out", headers=headers) as r:
        assert (await r.json())["redirect"].startswith("/oauth2/sign_out")


async def test_photos_pass_through_with_their_type(console: Console) -> None:
    token = bearer({"sub": "u7", "role": "officer", "unit": "tanphu"})
    async with console.http.get(
        f"{console.url}/api/reports/v1/cases/abc/attachments/photo", headers={"Authorization": f"Bearer {token}"}
    ) as r:
        assert r.status == 200 and r.content_type == "image/png"
        assert await r.read() == b"\x89PNG fake"
        assert r.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "path",
    ["/api/reports/metrics", "/api/reports/readyz", "/api/news/v1/%2e%2e/%2e%2e/metrics", "/api/reports/v1/a%2F..%2Fb"],
)
async def test_only_the_versioned_api_is_forwarded(console: Console, path: str) -> None:
    token = bearer({"sub": "u7", "role": "supervisor", "unit": "tanphu"})
    async with console.http.get(f"{console.url}{path}", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 404
    assert console.reports.seen == [] and console.news.seen == []


async def test_state_changes_need_the_console_header_and_a_same_origin_fetch(console: Console) -> None:
    token = bearer({"sub": "u7", "role": "supervisor", "unit": "tanphu"})
    url = f"{console.url}/api/reports/v1/cases/x/notes"
    auth = {"Authorization": f"Bearer {token}"}
    async with console.http.post(url, json={"text": "a"}, headers=auth) as r:
        assert r.status == 403
    async with console.http.post(
        url, json={"text": "a"}, headers={**auth, **CSRF, "Sec-Fetch-Site": "cross-site"}
    ) as r:
        assert r.status == 403
    async with console.http.post(
        url, json={"text": "a"}, headers={**auth, **CSRF, "Sec-Fetch-Site": "same-origin"}
    ) as r:
        assert r.status == 201
    assert len(console.reports.seen) == 1


async def test_an_unreachable_api_is_a_502_and_no_token_is_a_401(console_factory) -> None:
    async for c in console_factory():
        assert c.reports.server is not None
        await c.reports.server.close()
        token = bearer({"sub": "u7", "role": "supervisor", "unit": "tanphu"})
        async with c.http.get(f"{c.url}/api/reports/v1/cases", headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 502
            assert (await r.json())["error"] == "upstream_unavailable"
        async with c.http.get(f"{c.url}/api/news/v1/campaigns") as r:
            assert r.status == 401


# -- pages ----------------------------------------------------------------------------------------------


class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline_script = False
        self.handlers: list[str] = []
        self.styles: list[str] = []
        self.links: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.handlers += [name for name in a if name.startswith("on")]
        if "style" in a or tag == "style":
            self.styles.append(tag)
        if tag == "script":
            self.scripts.append(a)
            self._in_script = True
        if tag == "link" and a.get("href"):
            self.links.append(str(a["href"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_script = True


async def test_the_page_is_served_with_strict_security_headers_and_no_inline_code(console: Console) -> None:
    async with console.http.get(f"{console.url}/") as r:
        assert r.status == 200 and r.content_type == "text/html"
        html = await r.text()
        headers = r.headers
    csp = {d.split()[0]: d.split()[1:] for d in headers["Content-Security-Policy"].split("; ")}
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert csp["default-src"] == ["'self'"] and csp["connect-src"] == ["'self'"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"
    scan = _Scan()
    scan.feed(html)
    assert not scan.inline_script and not scan.handlers and not scan.styles
    assert scan.scripts and all(s.get("src", "").startswith("/static/") for s in scan.scripts)
    assert 'lang="vi"' in html
    for src in [s["src"] for s in scan.scripts] + scan.links:
        async with console.http.get(f"{console.url}{src}") as r:
            assert r.status == 200, src
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            if src.endswith(".js"):
                assert r.content_type in ("application/javascript", "text/javascript"), src


def test_scripts_never_write_markup_or_run_strings() -> None:
    for path in sorted((STATIC_DIR / "js").glob("*.js")):
        text = path.read_text(encoding="utf-8")
        for pattern in (r"\.innerHTML\b", r"\.outerHTML\b", r"insertAdjacentHTML", r"\beval\(", r"new Function\("):
            assert not re.search(pattern, text), f"{path.name}: {pattern}"


async def test_every_module_the_pages_import_exists(console: Console) -> None:
    for path in sorted((STATIC_DIR / "js").glob("*.js")):
        for name in re.findall(r"from '\./([\w-]+\.js)'", path.read_text(encoding="utf-8")):
            async with console.http.get(f"{console.url}/static/js/{name}") as r:
                assert r.status == 200, f"{path.name} imports {name}"


async def test_health_and_metrics(console: Console) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        async with console.http.get(f"{console.url}{path}") as r:
            assert r.status == 200, path


async def test_the_pages_learn_the_case_state_machine_from_the_reports_domain(console: Console) -> None:
    async with console.http.get(f"{console.url}/console/api/config") as r:
        config = await r.json()
    assert config["cases"]["transitions"] == {k: sorted(v) for k, v in reports_domain.TRANSITIONS.items()}
    assert config["cases"]["reply_max"] == 1500
    assert config["campaigns"]["action_sources"]["approve"] == ["draft"]
    assert len(config["oas"]) == 18 and "Tân Sơn Nhì" in config["wards"]


def test_the_wheel_carries_the_static_files() -> None:
    """The image installs the project as a wheel: the pages must be package data (pyproject.toml)."""
    package_data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]
    patterns = package_data.get("services.console", []) + package_data.get("*", [])
    for path in STATIC_DIR.rglob("*"):
        if path.is_file():
            relative = path.relative_to(STATIC_DIR.parent)
            assert any(relative.match(p) for p in patterns), (
                f"{relative} would be missing from the image: add "
                '"services.console" = ["static/*", "static/js/*"] to [tool.setuptools.package-data] in pyproject.toml'
            )


async def test_an_expired_forwarded_token_is_no_session(console: Console) -> None:
    token = bearer({"sub": "u7", "role": "officer", "unit": "tanphu", "exp": 1_000_000})
    async with console.http.get(
        f"{console.url}/console/api/session", headers={"Authorization": f"Bearer {token}"}
    ) as r:
        assert (await r.json()) == {"signed_in": False, "dev_login": False}
