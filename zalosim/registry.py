"""The OA registry the simulator serves: app id and, per OA, its id and short key."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class OaEntry:
    key: str
    oa_id: str
    display_name: str
    kind: str
    ward: str | None

    def public(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "oa_id": self.oa_id,
            "display_name": self.display_name,
            "kind": self.kind,
            "ward": self.ward,
        }


@dataclass(frozen=True, slots=True)
class Registry:
    app_id: str
    oas: tuple[OaEntry, ...]

    def by_key(self, key: str) -> OaEntry | None:
        return next((oa for oa in self.oas if oa.key == key), None)

    def by_oa_id(self, oa_id: str) -> OaEntry | None:
        return next((oa for oa in self.oas if oa.oa_id == oa_id), None)


def parse_registry(data: dict[str, Any]) -> Registry:
    oas = tuple(
        OaEntry(
            key=str(item["key"]),
            oa_id=str(item["oa_id"]),
            display_name=str(item.get("display_name") or item["key"]),
            kind=str(item.get("kind") or "unit"),
            ward=item.get("ward"),
        )
        for item in data["oas"]
    )
    keys = [oa.key for oa in oas]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate OA key in the registry")
    return Registry(app_id=str(data["app_id"]), oas=oas)


def load_registry(path: Path) -> Registry:
    return parse_registry(json.loads(path.read_text(encoding="utf-8")))
