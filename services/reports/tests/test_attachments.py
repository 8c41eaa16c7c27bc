"""Attachment downloads against a local media server: retries, caps, storage, serving."""

from __future__ import annotations

import hashlib
import os

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from servicekit.testing import poll_until
from services.reports.tests.support import running, settings_for, submission

pytestmark = pytest.mark.integration

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(700 * 1024)  # spans three 255 KB chunks
JPEG = b"\xff\xd8\xff\xe0" + os.urandom(2048)


@pytest.fixture
async def media():
    """A media host: /flaky.png fails twice with 500, then serves; /big.jpg is over the cap; /page.html is no image."""
    hits = {"flaky": 0}

    async def flaky(_: web.Request) -> web.Response:
        hits["flaky"] += 1
        if hits["flaky"] <= 2:
            return web.Response(status=500)
        return web.Response(body=PNG, content_type="application/octet-stream")

    async def big(_: web.Request) -> web.Response:
        return web.Response(body=JPEG + b"\x00" * (2 * 1024 * 1024), content_type="image/jpeg")

    async def page(_: web.Request) -> web.Response:
        return web.Response(body=b"<html>not an image</html>", content_type="image/png")

    async def photo(_: web.Request) -> web.Response:
        return web.Response(body=JPEG, content_type="image/jpeg")

    async def moved(_: web.Request) -> web.Response:
        raise web.HTTPFound("https://evil.example.com/x.jpg")

    app = web.Application()
    app.router.add_get("/flaky.png", flaky)
    app.router.add_get("/big.jpg", big)
    app.router.add_get("/page.html", page)
    app.router.add_get("/photo.jpg", photo)
    app.router.add_get("/moved", moved)
    server = TestServer(app)
    await server.start_server()
    yield server, hits
    await server.close()


async def test_attachments_are_retried_capped_typed_stored_and_served(infra, topic_prefix, media):
    server, hits = media
    settings = settings_for(infra, topic_prefix, attachment_max_bytes=1024 * 1024)
    async with running(settings) as reports:
        names = ["flaky.png", "big.jpg", "page.html", "photo.jpg", "moved"]
        sub = submission("tanphu", attachments=[str(server.make_url(f"/{n}")) for n in names])
        await reports.submit(sub)
        case = await reports.case_of(sub)
        await reports.acks_for(sub.user_id)  # acknowledged without waiting for the photos
        ids = [a["id"] for a in case["attachments"]]

        async def settled():
            docs = [await reports.db.attachments.find_one({"_id": i}) for i in ids]
            return docs if all(d and d["state"] != "pending" for d in docs) else None

        flaky, big, page, photo, moved = await poll_until(settled, "every attachment to settle", 60)
        # Two failures, then success: at least three attempts, each one a real request. On a loaded
        # machine a slow answer can time out after the server counted it, adding one more attempt.
        assert flaky["state"] == "stored" and flaky["attempts"] >= 3 and hits["flaky"] >= 3
        assert flaky["sha256"] == hashlib.sha256(PNG).hexdigest() and flaky["content_type"] == "image/png"
        assert (big["state"], big["last_error"]) == ("rejected", "too_large")
        assert (page["state"], page["last_error"]) == ("rejected", "type")
        assert (photo["state"], photo["content_type"]) == ("stored", "image/jpeg")
        assert (moved["state"], moved["last_error"]) == ("rejected", "host")
        assert await reports.db.attachment_chunks.count_documents({"sha256": flaky["sha256"]}) == 3

        token = reports.token("officer", "hinhsu")
        _, detail, _ = await reports.call("GET", f"/api/v1/cases/{case['_id']}", token)
        states = [(a["state"], a["href"] is not None) for a in detail["attachments"]]
        assert states == [
            ("stored", True),
            ("rejected", False),
            ("rejected", False),
            ("stored", True),
            ("rejected", False),
        ]
        status, body, headers = await reports.call("GET", detail["attachments"][0]["href"], token)
        assert (status, body, headers["Content-Type"]) == (200, PNG, "image/png")
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert (await reports.call("GET", detail["attachments"][0]["href"], reports.token("officer", "csgt")))[0] == 404
        assert (await reports.call("GET", detail["attachments"][1]["href"] or "/api/v1/cases/x/attachments/y", token))[
            0
        ] == 404
        audit = await reports.db.audit.find_one({"action": "attachment.read", "status": 200})
        assert audit["case_id"] == case["_id"]
        assert reports.metric("zan_reports_attachment_download_failures_total", reason="http") >= 2
        assert reports.metric("zan_reports_attachment_download_failures_total", reason="too_large") == 1
