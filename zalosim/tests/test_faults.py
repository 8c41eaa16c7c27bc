"""Misbehaviour on demand: HTTP errors, Zalo errors, latency, hangs, token expiry."""

import asyncio

from zalosim.tests.support import Sim, random_user_id


async def _status(sim: Sim, path: str = "/v2.0/oa/tag/gettagsofoa") -> tuple[int, dict | None]:
    response = await sim.client.get(path, headers={"access_token": sim.tokens["tanphu"]})
    body = await response.json() if response.content_type == "application/json" else None
    return response.status, body


async def test_http_errors_for_the_next_n_requests(sim: Sim) -> None:
    await sim.control("POST", "/_sim/faults", {"kind": "http_error", "status": 502, "count": 2}, expect=201)
    statuses = [(await _status(sim))[0] for _ in range(3)]
    assert statuses == [502, 502, 200]


async def test_http_errors_for_a_duration_of_simulator_time(sim: Sim) -> None:
    await sim.control("POST", "/_sim/faults", {"kind": "http_error", "duration_seconds": 30}, expect=201)
    assert [(await _status(sim))[0] for _ in range(2)] == [503, 503]
    await sim.control("POST", "/_sim/clock/advance", {"seconds": 31})
    assert (await _status(sim))[0] == 200


async def test_zalo_error_only_on_the_given_path(sim: Sim) -> None:
    user = random_user_id()
    await sim.citizen("tanphu", user, "text", text="hi")
    fault = {"kind": "zalo_error", "code": -32, "count": 1, "path": "/v3.0/oa/message/cs"}
    await sim.control("POST", "/_sim/faults", fault, expect=201)
    assert (await _status(sim))[1] == {"error": 0, "message": "Success", "data": []}
    refused = await sim.send_text(user, "x")
    assert refused == {"error": -32, "message": "Your application reached limit call api"}
    assert (await sim.send_text(user, "x"))["error"] == 0
    calls = (await sim.control("GET", "/_sim/calls?path=/v3.0/oa/message/cs"))["items"]
    assert [call["error"] for call in calls] == [-32, 0]


async def test_latency_and_hang_delay_answers(sim: Sim) -> None:
    loop = asyncio.get_running_loop()
    await sim.control("POST", "/_sim/faults", {"kind": "latency", "seconds": 0.2}, expect=201)
    started = loop.time()
    assert (await _status(sim))[0] == 200
    assert loop.time() - started >= 0.2
    await sim.control("DELETE", "/_sim/faults")
    assert (await sim.control("GET", "/_sim/faults"))["items"] == []

    await sim.control("POST", "/_sim/faults", {"kind": "hang", "seconds": 5, "count": 1}, expect=201)
    request = sim.client.get("/v2.0/oa/tag/gettagsofoa", headers={"access_token": sim.tokens["tanphu"]})
    timed_out = False
    try:
        async with asyncio.timeout(0.3):
            await request
    except TimeoutError:
        timed_out = True
    assert timed_out
    assert (await _status(sim))[0] == 200  # the hang hit one request only


async def test_expire_token_now(sim: Sim) -> None:
    answer = await sim.control("POST", "/_sim/faults", {"kind": "expire_token", "oa_key": "tanphu"})
    assert answer["expired"] == 1
    assert (await _status(sim))[1] == {"error": -220, "message": "access_token is expired or removed"}


async def test_reset_forgets_everything_but_can_keep_tokens(sim: Sim) -> None:
    user = random_user_id()
    await sim.citizen("tanphu", user, "text", text="hi")
    await sim.control("POST", "/_sim/reset", {"keep_tokens": True})
    assert (await sim.send_text(user, "x"))["error"] == -230
    await sim.control("POST", "/_sim/reset", {})
    assert (await _status(sim))[1]["error"] == -216
