"""Access tokens, refresh rotation, the app-wide rate limit."""

from zalosim.tests.support import Sim, SimFactory, random_user_id

APP_ID = "4318000000000000000"


APP_SECRET = "dev-app-secret"


async def _refresh(sim: Sim, refresh_token: str, secret: str = APP_SECRET) -> dict:
    form = {"refresh_token": refresh_token, "app_id": APP_ID, "grant_type": "refresh_token"}
    response = await sim.client.post("/v4/oa/access_token", data=form, headers={"secret_key": secret})
    assert response.status == 200
    return await response.json()


async def test_unknown_token_is_216_and_expired_token_is_220(make_sim: SimFactory) -> None:
    sim = await make_sim(token_ttl_seconds=60)
    await sim.grant("tanphu")
    user = random_user_id()
    await sim.citizen("tanphu", user, "text", text="hi")
    assert (await sim.post("/v3.0/oa/message/cs", {}, token="nope"))["error"] == -216
    await sim.control("POST", "/_sim/clock/advance", {"seconds": 61})
    expired = await sim.send_text(user, "x")
    assert expired == {"error": -220, "message": "access_token is expired or removed"}


async def test_refresh_rotates_and_old_tokens_die(sim: Sim) -> None:
    first = await sim.grant("csgt")
    rotated = await _refresh(sim, first["refresh_token"])
    assert set(rotated) == {"access_token", "refresh_token", "expires_in"}
    assert rotated["expires_in"] == "90000"
    assert rotated["refresh_token"] != first["refresh_token"]

    reused = await _refresh(sim, first["refresh_token"])
    assert reused["error"] == -14014
    assert "access_token" not in reused

    old = await sim.post("/v2.0/oa/tag/rmtag", {"tag_name": "x"}, token=first["access_token"])
    assert old["error"] == -220
    fresh = await sim.post("/v2.0/oa/tag/rmtag", {"tag_name": "x"}, token=rotated["access_token"])
    assert fresh == {"error": -201, "message": "tag_name is invalid"}  # authenticated as csgt

    assert (await _refresh(sim, rotated["refresh_token"]))["access_token"]


async def test_wrong_secret_key_is_refused(sim: Sim) -> None:
    pair = await sim.grant("csgt")
    assert (await _refresh(sim, pair["refresh_token"], secret="wrong"))["error"] == -14004
    assert (await _refresh(sim, pair["refresh_token"]))["access_token"]  # not consumed by the failure


async def test_authorization_code_grant_with_pkce(sim: Sim) -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    issued = await sim.control("POST", "/_sim/oauth/pccc/code", {"code_challenge": challenge})
    form = {"code": issued["code"], "app_id": APP_ID, "grant_type": "authorization_code", "code_verifier": "bad"}
    headers = {"secret_key": "dev-app-secret"}
    wrong = await (await sim.client.post("/v4/oa/access_token", data=form, headers=headers)).json()
    assert wrong["error"] == -14005
    issued = await sim.control("POST", "/_sim/oauth/pccc/code", {"code_challenge": challenge})
    form |= {"code": issued["code"], "code_verifier": verifier}
    pair = await (await sim.client.post("/v4/oa/access_token", data=form, headers=headers)).json()
    assert pair["expires_in"] == "90000"
    again = await (await sim.client.post("/v4/oa/access_token", data=form, headers=headers)).json()
    assert again["error"] == -14005


async def test_rate_limit_is_app_wide_with_headers(make_sim: SimFactory) -> None:
    sim = await make_sim(rate_limit=3, rate_window_seconds=60)
    await sim.grant("tanphu")
    await sim.grant("csgt")
    remains = []
    for oa_key in ("tanphu", "csgt", "tanphu"):
        response = await sim.client.get("/v2.0/oa/tag/gettagsofoa", headers={"access_token": sim.tokens[oa_key]})
        assert (await response.json())["error"] == 0
        assert response.headers["X-RateLimit-Limit"] == "3"
        remains.append(response.headers["X-RateLimit-Remain"])
    assert remains == ["2", "1", "0"]
    response = await sim.client.get("/v2.0/oa/tag/gettagsofoa", headers={"access_token": sim.tokens["csgt"]})
    assert await response.json() == {"error": -32, "message": "Your application reached limit call api"}
    assert response.headers["X-RateLimit-Remain"] == "0"

    await sim.control("POST", "/_sim/clock/advance", {"seconds": 60})
    assert (await sim.get("/v2.0/oa/tag/gettagsofoa"))["error"] == 0

    await sim.control("POST", "/_sim/faults", {"kind": "rate_limit", "limit": 100})
    response = await sim.client.get("/v2.0/oa/tag/gettagsofoa", headers={"access_token": sim.tokens["csgt"]})
    assert response.headers["X-RateLimit-Limit"] == "100"
