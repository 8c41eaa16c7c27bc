"""The OpenAPI 3.1 document of the officer API, built from the same pydantic models the API validates with.

`python -m services.reports.openapi` rewrites the checked-in `services/reports/openapi.json`; a test fails
when that file is stale. The service serves the same bytes at `/api/v1/openapi.json`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from services.reports import apimodels as m

CHECKED_IN = Path(__file__).with_name("openapi.json")

_MODELS: tuple[type[BaseModel], ...] = (
    m.StatusChangeIn,
    m.TransferIn,
    m.AssignIn,
    m.NoteIn,
    m.ReplyIn,
    m.ErrorOut,
    m.CaseListOut,
    m.CaseDetailOut,
    m.CaseStateOut,
    m.NoticeListOut,
    m.HandoffListOut,
    m.AuditListOut,
)

_ERRORS = {
    "400": "Invalid query, body or cursor.",
    "401": "Missing, expired or invalid token.",
    "403": "The caller's role or unit may not do this.",
    "404": "No such resource, or one the caller may not see.",
    "409": "Invalid transition or stale version.",
    "428": "The change needs the case version (If-Match or `version`).",
    "503": "Starting, or the audit entry could not be written.",
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json_content(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(model)}}


def _responses(ok: type[BaseModel] | None, codes: tuple[str, ...], ok_description: str = "OK") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if ok is not None:
        out["200"] = {"description": ok_description, "content": _json_content(ok)}
    for code in codes:
        out[code] = {"description": _ERRORS[code], "content": _json_content(m.ErrorOut)}
    return out


def _with_links(responses: dict[str, Any], links: dict[str, Any]) -> dict[str, Any]:
    responses["200"]["links"] = links
    return responses


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1, "maxLength": 64},
    }


CASE_REF = _path("case_ref", "Case id (32 hex) or case code (e.g. TP-26-000123).")
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": 'The case version the change is based on, e.g. "3" (or `version` in the body).',
    "schema": {"type": "string"},
}
_STR = {"type": "string", "maxLength": 200}


_CASE_OPERATIONS = ("get_case", "case_statuschange", "case_transfer", "case_assign", "case_note", "case_reply")


def _links_to_cases(pointer: str) -> dict[str, Any]:
    """OpenAPI links: where a case id in a response can be used next (also guides stateful fuzzing)."""
    return {op: {"operationId": op, "parameters": {"case_ref": f"$response.body#{pointer}"}} for op in _CASE_OPERATIONS}


def _change(summary: str, body: type[BaseModel], description: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "description": description,
            "operationId": "case_" + body.__name__.removesuffix("In").lower(),
            "parameters": [CASE_REF, IF_MATCH],
            "requestBody": {"required": True, "content": _json_content(body)},
            "responses": _responses(m.CaseStateOut, ("400", "401", "403", "404", "409", "428", "503")),
        }
    }


def build_document() -> dict[str, Any]:
    _, defs = models_json_schema(
        [(model, "validation") for model in _MODELS], ref_template="#/components/schemas/{model}"
    )
    schemas = defs.get("$defs", {})
    list_params = [
        _query("status", "Comma-separated statuses.", _STR),
        _query("kind", "crime or public_order (comma-separated).", _STR),
        _query("unit", "Comma-separated unit keys (officers: only their own).", _STR),
        _query("ward", "Comma-separated ward names (diacritics and case ignored).", _STR),
        _query("priority", "urgent or normal.", {"type": "string", "enum": ["urgent", "normal"]}),
        _query(
            "created_from",
            "Created at or after (ISO 8601; no zone = Vietnam time).",
            {"type": "string", "format": "date-time"},
        ),
        _query(
            "created_to",
            "Created at or before (ISO 8601; no zone = Vietnam time).",
            {"type": "string", "format": "date-time"},
        ),
        _query("q", "Words that must all occur in the description, place or code (diacritics and case ignored).", _STR),
        _query("assignee", "Officer id.", _STR),
        _query("order", "newest (default) or urgent_first.", {"type": "string", "enum": ["newest", "urgent_first"]}),
        _query("limit", "Page size.", {"type": "integer", "minimum": 1, "maximum": 200}),
        _query("cursor", "next_cursor of the previous page.", {"type": "string", "maxLength": 400}),
    ]
    paths: dict[str, Any] = {
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This document",
                "operationId": "openapi",
                "security": [],
                "responses": {
                    "200": {
                        "description": "OpenAPI document",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
        "/api/v1/cases": {
            "get": {
                "summary": "List cases",
                "description": "Filtered, cursor-paged list (newest first, or urgent first). Officers see their unit.",
                "operationId": "list_cases",
                "parameters": list_params,
                "responses": _with_links(
                    _responses(m.CaseListOut, ("400", "401", "403", "503")), _links_to_cases("/items/0/id")
                ),
            }
        },
        "/api/v1/cases/{case_ref}": {
            "get": {
                "summary": "Case detail",
                "description": "The case with its history and attachments. The ETag header carries the version.",
                "operationId": "get_case",
                "parameters": [CASE_REF],
                "responses": _with_links(
                    _responses(m.CaseDetailOut, ("401", "404", "503")),
                    {
                        "get_attachment": {
                            "operationId": "get_attachment",
                            "parameters": {
                                "case_ref": "$response.body#/id",
                                "attachment_id": "$response.body#/attachments/0/id",
                            },
                        }
                    },
                ),
            }
        },
        "/api/v1/cases/{case_ref}/status": _change(
            "Change the status",
            m.StatusChangeIn,
            "received → acknowledged → investigating → resolved / rejected. acknowledged, resolved and rejected"
            " are told to the citizen.",
        ),
        "/api/v1/cases/{case_ref}/transfer": _change(
            "Transfer to another unit", m.TransferIn, "Re-routes the case; recorded in the history."
        ),
        "/api/v1/cases/{case_ref}/assign": _change("Assign an officer", m.AssignIn, "Sets the assignee."),
        "/api/v1/cases/{case_ref}/notes": _change("Add an internal note", m.NoteIn, "Never sent to the citizen."),
        "/api/v1/cases/{case_ref}/replies": _change(
            "Reply to the reporter", m.ReplyIn, "Sent to the citizen through the OA (anonymous reporters too)."
        ),
        "/api/v1/cases/{case_ref}/attachments/{attachment_id}": {
            "get": {
                "summary": "Attachment bytes",
                "operationId": "get_attachment",
                "parameters": [CASE_REF, _path("attachment_id", "Attachment id (from the case detail).")],
                "responses": {
                    "200": {
                        "description": "The stored image",
                        "content": {
                            t: {"schema": {"type": "string", "format": "binary"}}
                            for t in ("image/jpeg", "image/png", "image/webp")
                        },
                    },
                    **_responses(None, ("401", "404", "503")),
                },
            }
        },
        "/api/v1/notices": {
            "get": {
                "summary": "Notices not yet delivered",
                "description": "Citizen notices still sent (awaiting outcome), waiting (citizen outside the 7-day"
                " window) or retry.",
                "operationId": "list_notices",
                "parameters": [
                    _query("unit", "Unit key (officers: only their own).", _STR),
                    _query("state", "Comma-separated: sent, waiting, retry.", _STR),
                ],
                "responses": _responses(m.NoticeListOut, ("400", "401", "403", "503")),
            }
        },
        "/api/v1/handoffs": {
            "get": {
                "summary": "Open handoff requests",
                "operationId": "list_handoffs",
                "responses": _with_links(
                    _responses(m.HandoffListOut, ("401", "503")),
                    {
                        "release_handoff": {
                            "operationId": "release_handoff",
                            "parameters": {"handoff_id": "$response.body#/items/0/id"},
                        }
                    },
                ),
            }
        },
        "/api/v1/handoffs/{handoff_id}/release": {
            "post": {
                "summary": "Hand the conversation back to the bot",
                "operationId": "release_handoff",
                "parameters": [_path("handoff_id", "Handoff id.")],
                "responses": {
                    "200": {
                        "description": "Released",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"id": {"type": "string"}, "released": {"type": "boolean"}},
                                    "required": ["id", "released"],
                                }
                            }
                        },
                    },
                    **_responses(None, ("401", "403", "404", "409", "503")),
                },
            }
        },
        "/api/v1/audit": {
            "get": {
                "summary": "The audit log (auditors)",
                "operationId": "list_audit",
                "parameters": [
                    _query("actor", "Officer id, or 'anonymous'.", _STR),
                    _query("case_id", "Case id.", _STR),
                    _query("action", "e.g. case.read, case.status.", _STR),
                    _query("limit", "Page size.", {"type": "integer", "minimum": 1, "maximum": 200}),
                    _query("cursor", "next_cursor of the previous page.", {"type": "string", "maxLength": 400}),
                ],
                "responses": _responses(m.AuditListOut, ("400", "401", "403", "503")),
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Zalo An ninh — reports officer API",
            "version": "1.0.0",
            "description": "Cases reported by citizens through the district's Zalo OAs. Bearer JWT (RS256)."
            " Every call is audited. The reporter's Zalo id is never returned.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def render() -> str:
    return json.dumps(build_document(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["check"]:
        stale = not CHECKED_IN.exists() or CHECKED_IN.read_text(encoding="utf-8") != render()
        print("openapi.json is stale: run python -m services.reports.openapi" if stale else "ok", file=sys.stderr)
        return 1 if stale else 0
    CHECKED_IN.write_text(render(), encoding="utf-8")
    print(f"wrote {CHECKED_IN}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
