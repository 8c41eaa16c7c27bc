"""The OA registry: which Official Accounts exist, who they are, who handles their reports.

The organisation is data (config/oa-registry.json, config/ward-mergers.json), never code: a new
ward or a reorganisation of units is a change of those files only.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from servicekit.text import fold

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REGISTRY = REPO_ROOT / "config" / "oa-registry.json"
DEFAULT_MERGERS = REPO_ROOT / "config" / "ward-mergers.json"


class Contact(BaseModel):
    model_config = ConfigDict(frozen=True)

    address: str
    phone: str
    hours: str


class OfficialAccount(BaseModel):
    """One Zalo OA of the organisation."""

    model_config = ConfigDict(frozen=True)

    oa_id: str = Field(pattern=r"^\d+$")
    key: str = Field(pattern=r"^[a-z0-9_]+$")
    case_prefix: str = Field(pattern=r"^[A-Z]{2,4}$")
    display_name: str
    kind: Literal["district", "unit", "ward", "commune"]
    ward: str | None = None
    role: str = Field(description="What the unit does: district, ward, investigation, traffic, fire, …")
    report_unit: str = Field(description="Key of the OA whose officers handle reports written to this OA.")
    contact: Contact


class WardMergers(BaseModel):
    """Old ward names and the wards that replaced them."""

    model_config = ConfigDict(frozen=True)

    effective: str
    legal_basis: str
    new_wards: list[str]
    old_to_new: dict[str, list[str]]


class Registry(BaseModel):
    """All OAs of one Zalo app."""

    model_config = ConfigDict(frozen=True)

    organisation: str
    as_of: str
    app_id: str = Field(pattern=r"^\d+$")
    oas: list[OfficialAccount] = Field(min_length=1)
    mergers: WardMergers | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Registry:
        keys = [o.key for o in self.oas]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate OA key")
        if len({o.oa_id for o in self.oas}) != len(self.oas):
            raise ValueError("duplicate oa_id")
        if len({o.case_prefix for o in self.oas}) != len(self.oas):
            raise ValueError("duplicate case_prefix")
        for o in self.oas:
            if o.report_unit not in keys:
                raise ValueError(f"{o.key}: report_unit {o.report_unit!r} is not an OA key")
        return self

    @cached_property
    def _by_id(self) -> dict[str, OfficialAccount]:
        return {o.oa_id: o for o in self.oas}

    @cached_property
    def _by_key(self) -> dict[str, OfficialAccount]:
        return {o.key: o for o in self.oas}

    def by_id(self, oa_id: str) -> OfficialAccount | None:
        return self._by_id.get(oa_id)

    def by_key(self, key: str) -> OfficialAccount:
        return self._by_key[key]

    def ward_oa(self, ward: str) -> OfficialAccount | None:
        """The OA of a ward named as written by anyone (diacritics, case and "phường" ignored)."""
        wanted = fold(ward).removeprefix("phuong ").strip()
        for o in self.oas:
            if o.ward and fold(o.ward) == wanted:
                return o
        return None

    def current_wards(self, ward: str) -> list[str]:
        """The ward(s) that serve an old or current ward name today."""
        wanted = fold(ward).removeprefix("phuong ").strip()
        if self.mergers is None:
            return [o.ward for o in self.oas if o.ward and fold(o.ward) == wanted]
        for old, new in self.mergers.old_to_new.items():
            if fold(old) == wanted:
                return list(new)
        return [w for w in self.mergers.new_wards if fold(w) == wanted]


def load_registry(path: Path | str = DEFAULT_REGISTRY, mergers: Path | str | None = DEFAULT_MERGERS) -> Registry:
    """Read and validate the registry (and the ward mergers, when the file exists)."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    doc.pop("$comment", None)
    if mergers is not None and Path(mergers).exists():
        m = json.loads(Path(mergers).read_text(encoding="utf-8"))
        m.pop("$comment", None)
        doc["mergers"] = m
    return Registry.model_validate(doc)
