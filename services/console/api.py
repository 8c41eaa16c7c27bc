"""The console's own routes (`/console/api/…`): page configuration, who is signed in, dev sign-in/out."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from services.console import auth
from services.console.keys import CONSOLE

PREFIX = "/console/api"


class DevSignIn(BaseModel):
    """The development sign-in form."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sub: str
    role: str
    unit: str


def _error(status: int, error: str, detail: str) -> web.Response:
    return web.json_response({"error": error, "detail": detail}, status=status)


def _https(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


async def get_config(request: web.Request) -> web.Response:
    return web.json_response(request.app[CONSOLE].config)


async def get_session(request: web.Request) -> web.Response:
    settings = request.app[CONSOLE].settings
    creds = auth.credentials(request.headers, request.cookies, settings)
    who = auth.identity(creds, settings) if creds is not None else None
    if who is None:
        # 200, not 401: "nobody is signed in" is an answer the page expects, not an error.
        return web.json_response({"signed_in": False, "dev_login": settings.dev_login})
    return web.json_response(who.as_json())


async def dev_sign_in(request: web.Request) -> web.Response:
    state = request.app[CONSOLE]
    settings = state.settings
    if not settings.dev_login:
        return _error(404, "not_found", "the development sign-in is disabled")
    try:
        form = DevSignIn.model_validate_json(await request.read())
    except ValidationError:
        return _error(400, "invalid_body", "expected {sub, role, unit}")
    try:
        tokens = auth.mint_dev_tokens(
            settings, sub=form.sub, role=form.role, unit=form.unit, known_units=state.known_units
        )
    except auth.DevSignInError as exc:
        return _error(422, "invalid_sign_in", str(exc))
    creds = auth.Credentials("dev", tokens)
    who = auth.identity(creds, settings)
    assert who is not None, "a token just minted carries its claims"
    response = web.json_response(who.as_json())
    for upstream, cookie in auth.DEV_COOKIES.items():
        if upstream in tokens:
            response.set_cookie(
                cookie,
                tokens[upstream],
                max_age=settings.dev_token_ttl_s,
                path="/",
                httponly=True,
                samesite="Strict",
                secure=_https(request),
            )
        else:
            response.del_cookie(cookie, path="/")
    return response


async def sign_out(request: web.Request) -> web.Response:
    settings = request.app[CONSOLE].settings
    creds = auth.credentials(request.headers, request.cookies, settings)
    forwarded = creds is not None and creds.mode == "forwarded"
    response = web.json_response({"redirect": settings.sign_out_url if forwarded else "/"})
    for cookie in auth.DEV_COOKIES.values():
        response.del_cookie(cookie, path="/")
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/config", get_config)
    app.router.add_get(f"{PREFIX}/session", get_session)
    app.router.add_post(f"{PREFIX}/dev/sign-in", dev_sign_in)
    app.router.add_post(f"{PREFIX}/sign-out", sign_out)
