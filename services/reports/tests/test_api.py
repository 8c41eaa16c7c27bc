"""The officer API on the running service: access rules, state machine, versions, audit, anonymity."""

from __future__ import annotations

import json
import logging

import pytest

from servicekit.testing import poll_until
from services.reports.openapi import CHECKED_IN
from services.reports.tests.support import outcome_of, submission

pytestmark = pytest.mark.integration


async def new_case(reports, **kw) -> dict:
    sub = submission(**kw)
    await reports.submit(sub)
    case = await reports.case_of(sub)
    await poll_until(lambda: _async(reports.app_index_has(case["_id"])), "the case in the list index")
    return {"sub": sub, **case}


@pytest.fixture(autouse=True)
def _index_probe(reports):
    from services.reports.api import API

    reports.app_index_has = lambda case_id: reports.app[API].deps.index.get(case_id) is not None


async def test_an_officer_of_another_unit_is_refused(reports):
    case = await new_case(reports)  # theft reported to the district OA → hinhsu
    assert case["current"]["unit"] == "hinhsu"
    own, other = reports.token("officer", "hinhsu"), reports.token("officer", "csgt")
    path = f"/api/v1/cases/{case['_id']}"

    assert (await reports.call("GET", path, own))[0] == 200
    assert (await reports.call("GET", f"/api/v1/cases/{case['code']}", own))[0] == 200
    status, body, _ = await reports.call("GET", path, other)
    missing = await reports.call("GET", "/api/v1/cases/" + "0" * 32, other)
    assert status == 404 and (status, body) == missing[:2], "a foreign case looks exactly like a missing one"
    change = {"status": "acknowledged", "version": 1}
    assert (await reports.call("POST", path + "/status", other, body=change))[0] == 404
    assert (await reports.call("GET", "/api/v1/cases", other, params={"unit": "hinhsu"}))[0] == 403
    _, listed, _ = await reports.call("GET", "/api/v1/cases", other)
    assert case["_id"] not in [c["id"] for c in listed["items"]]
    assert (await reports.call("POST", path + "/status", reports.token("auditor"), body=change))[0] == 403
    assert (await reports.call("GET", "/api/v1/audit", own))[0] == 403
    assert (await reports.call("GET", path))[0] == 401
    status, _, headers = await reports.call("GET", path, "not-a-token")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")


async def test_transitions_versions_and_conflicts(reports):
    case = await new_case(reports)
    token = reports.token("officer", "hinhsu")
    path = f"/api/v1/cases/{case['_id']}"

    status, body, _ = await reports.call("POST", path + "/status", token, body={"status": "resolved", "version": 1})
    assert (status, body["error"]) == (409, "invalid_transition")
    assert (await reports.call("POST", path + "/status", token, body={"status": "acknowledged"}))[0] == 428
    status, body, headers = await reports.call(
        "POST", path + "/status", token, body={"status": "acknowledged"}, headers={"If-Match": '"1"'}
    )
    assert (status, body["status"], body["version"], headers["ETag"]) == (200, "acknowledged", 2, '"2"')
    status, body, _ = await reports.call(
        "POST", path + "/status", token, body={"status": "investigating"}, headers={"If-Match": '"1"'}
    )
    assert (status, body["error"], body["current_version"]) == (409, "version_conflict", 2)
    status, body, _ = await reports.call("POST", path + "/status", token, body={"status": "rejected", "version": 2})
    assert status == 400, "rejecting needs a reason for the citizen"
    assert (await reports.call("POST", path + "/assign", token, body={"assignee": "officer-9", "version": 2}))[0] == 200
    assert (await reports.call("POST", path + "/notes", token, body={"text": "Đã liên hệ nhân chứng."}))[0] == 200
    status, detail, headers = await reports.call("GET", path, token)
    assert (detail["version"], detail["assignee"], headers["ETag"]) == (4, "officer-9", '"4"')
    assert [h["change"] for h in detail["history"]] == ["created", "status_changed", "assigned", "note_added"]
    assert detail["history"][-1]["note"] == "Đã liên hệ nhân chứng."
    for bad in ({"status": "flying", "version": 4}, {"status": "investigating", "version": 0}, [1, 2]):
        assert (await reports.call("POST", path + "/status", token, body=bad))[0] == 400


async def test_transfer_is_recorded_and_moves_visibility(reports):
    case = await new_case(reports)
    hinhsu, csgt = reports.token("officer", "hinhsu"), reports.token("officer", "csgt", sub="gt-1")
    path = f"/api/v1/cases/{case['_id']}"
    status, body, _ = await reports.call("POST", path + "/transfer", hinhsu, body={"unit": "csgt", "version": 1})
    assert (status, body["status"], body["unit"]) == (200, "transferred", "csgt")
    assert (await reports.call("GET", path, hinhsu))[0] == 404
    status, detail, _ = await reports.call("GET", path, csgt)
    assert status == 200
    moved = detail["history"][-1]
    assert (moved["change"], moved["from_unit"], moved["to_unit"], moved["actor"]) == (
        "transferred",
        "hinhsu",
        "csgt",
        "officer-1",
    )
    assert (await reports.call("POST", path + "/status", csgt, body={"status": "acknowledged", "version": 2}))[0] == 200
    await reports.lifecycle.wait_for(lambda e: e.case_id == case["_id"] and e.change == "transferred", "transfer")
    _, listed, _ = await reports.call("GET", "/api/v1/cases", csgt)
    assert case["_id"] in [c["id"] for c in listed["items"]]


async def test_the_citizen_receives_acknowledgement_and_resolution(reports):
    case = await new_case(reports)
    user = case["sub"].user_id
    token = reports.token("officer", "hinhsu")
    path = f"/api/v1/cases/{case['_id']}"
    (ack,) = await reports.acks_for(user)
    await reports.deliver(outcome_of(ack))
    for version, change in enumerate(
        [{"status": "acknowledged"}, {"status": "investigating"}, {"status": "resolved", "reason": "Đã trả lại xe."}],
        start=1,
    ):
        status, _, _ = await reports.call("POST", path + "/status", token, body={**change, "version": version})
        assert status == 200
    notices = await reports.acks_for(user, 3)
    texts = [c.message.text for c in notices]
    assert case["code"] in texts[0] and "Mã hồ sơ" in texts[0]
    assert "tiếp nhận xử lý" in texts[1] and case["code"] in texts[1]
    assert "xử lý xong" in texts[2] and "Đã trả lại xe." in texts[2]
    assert len({c.command_id for c in notices}) == 3
    assert all(c.oa_id == case["oa_id"] and c.user_id == user and c.lane == "notice" for c in notices)
    changes = await reports.lifecycle.wait_for(lambda e: e.case_id == case["_id"], "four lifecycle records", 4)
    assert [e.change for e in changes] == ["created", "status_changed", "status_changed", "closed"]


async def test_every_api_call_leaves_an_audit_entry(reports):
    case = await new_case(reports)
    before = await reports.db.audit.count_documents({"actor": {"$ne": "system"}})
    officer, other = reports.token("officer", "hinhsu"), reports.token("officer", "csgt")
    calls = [
        ("GET", "/api/v1/cases", officer, None),
        ("GET", f"/api/v1/cases/{case['_id']}", officer, None),
        ("GET", f"/api/v1/cases/{case['_id']}", other, None),
        ("GET", f"/api/v1/cases/{case['_id']}", None, None),
        ("POST", f"/api/v1/cases/{case['_id']}/status", officer, {"status": "resolved", "version": 1}),
        ("POST", f"/api/v1/cases/{case['_id']}/status", officer, {"status": "acknowledged", "version": 1}),
        ("GET", "/api/v1/cases", other, None),
        ("GET", "/api/v1/notices", officer, None),
        ("GET", "/api/v1/handoffs", officer, None),
        ("GET", "/api/v1/audit", officer, None),
        ("GET", "/api/v1/no-such-route", officer, None),
        ("GET", "/api/v1/openapi.json", None, None),
    ]
    statuses = []
    for method, path, token, body in calls:
        statuses.append((await reports.call(method, path, token, body=body))[0])
    assert statuses == [200, 200, 404, 401, 409, 200, 200, 200, 200, 403, 404, 200]
    entries = await reports.db.audit.find({"actor": {"$ne": "system"}}).sort("at", 1).to_list()
    entries = entries[before:]
    assert [e["status"] for e in entries] == statuses
    assert all(e["ip"] == "127.0.0.1" and e["at"] and e["method"] and e["path"] for e in entries)
    assert entries[1]["action"] == "case.read" and entries[1]["case_id"] == case["_id"]
    assert entries[0]["action"] == "case.list" and case["_id"] in entries[0]["case_ids"]
    assert entries[3]["actor"] == "anonymous"
    assert entries[5]["action"] == "case.status" and entries[5]["details"]["to_status"] == "acknowledged"
    status, audit, _ = await reports.call("GET", "/api/v1/audit", reports.token("auditor"), params={"limit": "5"})
    assert status == 200 and len(audit["items"]) == 5 and audit["next_cursor"]
    _, more, _ = await reports.call(
        "GET", "/api/v1/audit", reports.token("auditor"), params={"limit": "5", "cursor": audit["next_cursor"]}
    )
    assert not {i["id"] for i in audit["items"]} & {i["id"] for i in more["items"]}


async def test_an_anonymous_reporter_is_never_revealed(reports, caplog):
    caplog.set_level(logging.DEBUG)
    case = await new_case(reports, anonymous=True, description="Tôi biết nơi tàng trữ ma túy")
    user = case["sub"].user_id
    token = reports.token("supervisor")
    path = f"/api/v1/cases/{case['_id']}"
    bodies = []
    for method, route, body in [
        ("GET", "/api/v1/cases", None),
        ("GET", path, None),
        ("POST", path + "/status", {"status": "acknowledged", "version": 1}),
        ("POST", path + "/replies", {"text": "Anh/Chị có thể cho biết thêm thời gian cụ thể không?"}),
        ("GET", "/api/v1/notices", None),
        ("GET", path, None),
    ]:
        status, got, _ = await reports.call(method, route, token, body=body)
        assert status == 200
        bodies.append(json.dumps(got, ensure_ascii=False))
    _, audit, _ = await reports.call("GET", "/api/v1/audit", reports.token("auditor"), params={"limit": "200"})
    bodies.append(json.dumps(audit, ensure_ascii=False))
    detail = json.loads(bodies[1])
    assert detail["reporter"] == {"anonymous": True, "pseudonym": None}
    # The reply still reaches the reporter: the service addresses it.
    replies = await reports.outbound.wait_for(
        lambda c: c.user_id == user and "cho biết thêm" in (c.message.text if c.message else ""), "the reply"
    )
    assert replies[0].oa_id == case["oa_id"]
    for body in bodies:
        assert user not in body
    logged = [r.getMessage() + json.dumps(r.__dict__, default=str) for r in caplog.records]
    assert logged and not [line for line in logged if user in line]
    # At rest the id is sealed: no document of the service's database holds it in clear.
    for name in await reports.db.list_collection_names():
        async for doc in reports.db[name].find({}):
            assert user not in json.dumps(doc, default=str), name


async def test_a_named_reporter_shows_as_a_pseudonym(reports):
    case = await new_case(reports)
    _, detail, _ = await reports.call("GET", f"/api/v1/cases/{case['_id']}", reports.token("supervisor"))
    assert detail["reporter"]["anonymous"] is False
    assert detail["reporter"]["pseudonym"].startswith("CD-")
    assert case["sub"].user_id not in json.dumps(detail)


async def test_list_filters_search_and_paging(reports):
    await new_case(reports, description="Bị lừa đảo qua Facebook, mất 20 triệu", category="fraud")
    await new_case(reports, description="Trộm xe máy ở hẻm", urgent=True)
    for _ in range(3):
        await new_case(reports)
    token = reports.token("supervisor")
    _, found, _ = await reports.call("GET", "/api/v1/cases", token, params={"q": "LUA DAO facebook"})
    assert [c["category"] for c in found["items"]] == ["fraud"]
    _, urgent, _ = await reports.call("GET", "/api/v1/cases", token, params={"order": "urgent_first", "limit": "2"})
    assert urgent["items"][0]["priority"] == "urgent" and urgent["next_cursor"]
    seen = [c["id"] for c in urgent["items"]]
    cursor = urgent["next_cursor"]
    while cursor:
        _, page, _ = await reports.call(
            "GET", "/api/v1/cases", token, params={"order": "urgent_first", "limit": "2", "cursor": cursor}
        )
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 5
    _, received, _ = await reports.call("GET", "/api/v1/cases", token, params={"status": "received", "kind": "crime"})
    assert len(received["items"]) == 5
    for bad in ({"status": "nope"}, {"limit": "0"}, {"cursor": "%%%"}, {"created_from": "yesterday"}):
        assert (await reports.call("GET", "/api/v1/cases", token, params=bad))[0] == 400


async def test_the_served_openapi_document_is_the_checked_in_one(reports):
    status, doc, _ = await reports.call("GET", "/api/v1/openapi.json")
    assert status == 200 and doc == json.loads(CHECKED_IN.read_text(encoding="utf-8"))


async def _async(value):
    return value
