"""Knowledge base of police procedures: YAML files validated at load, looked up by (intent, subcase).

Each file in `knowledge/` holds one topic: `{topic: str, entries: [entry, ...]}`. An entry is one answer
(a Zalo text message with follow-up buttons). Loading fails loudly on an unknown intent, a missing legal
basis, an over-long message, a duplicate key or a button that leads nowhere, so a broken knowledge base
never reaches citizens.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from services.intent import texts
from services.intent.nlu.classifier import INTENTS

KNOWLEDGE_DIR = Path(__file__).with_name("knowledge")

KNOWN_INTENTS: frozenset[str] = frozenset(INTENTS)
# Answers about procedures, reporting and emergencies state the law they rest on; general help need not.
_LEGAL_BASIS_REQUIRED = ("procedure.", "report.", "emergency")
# Zalo's limit for a customer-service text message (zalo-oa-api.md §3.2).
MAX_MESSAGE_CHARS = 2000
# Answers should read comfortably on a phone; the loader only enforces the hard Zalo limit.
TARGET_ANSWER_CHARS = 900
# An answer leaves room for one button the conversation adds (e.g. "Thủ tục khác"); Zalo allows 5.
MAX_ENTRY_BUTTONS = 4
# Where uncertain facts must send the citizen: to the police or the public-service portal.
_REFERRAL_MARKERS = ("Công an", "Cổng Dịch vụ công", "Phòng PC06", "Phòng Cảnh sát", "Phòng CSGT")
# NLU subcases in the order they win when a message carries several.
SUBCASE_PRIORITY = ("lost", "damaged", "child", "renew", "delete", "car", "motorbike")

Certainty = Literal["confirmed", "partly_uncertain", "uncertain"]


class KnowledgeError(ValueError):
    """The knowledge base is invalid; the message names the file and entry."""


class KBButton(BaseModel):
    """A follow-up button: a query payload ("#id" or "#command"), a phone number or a URL."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = Field(min_length=1, max_length=100)
    kind: Literal["query", "phone", "url"] = "query"
    payload: str = Field(min_length=2, max_length=1000)

    @model_validator(mode="after")
    def _payload_matches_kind(self) -> KBButton:
        if self.kind == "query" and not self.payload.startswith("#"):
            raise ValueError(f"query payload must start with '#': {self.payload!r}")
        if self.kind == "phone" and not re.fullmatch(r"\d{3,15}", self.payload):
            raise ValueError(f"phone payload must be digits: {self.payload!r}")
        if self.kind == "url" and not self.payload.startswith("https://"):
            raise ValueError(f"url payload must be https: {self.payload!r}")
        return self


class KBEntry(BaseModel):
    """One answer of the knowledge base."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=40)
    intent: str
    subcase: str | None = Field(default=None, pattern=r"^[a-z_]+$")
    # Further NLU subcases this entry answers (e.g. a damaged card is answered by the "lost" entry).
    matches: tuple[str, ...] = ()
    title: str = Field(min_length=1, max_length=100)
    text: str = Field(min_length=1)
    legal_basis: tuple[str, ...] = ()
    last_reviewed: date
    certainty: Certainty
    # Reviewer notes (English): which facts behind this answer are uncertain and how the text hedges them.
    uncertain: tuple[str, ...] = ()
    # Source keys of procedures-facts.md, for the reviewer.
    sources: tuple[str, ...] = ()
    buttons: tuple[KBButton, ...] = Field(default=(), max_length=MAX_ENTRY_BUTTONS)

    @field_validator("intent")
    @classmethod
    def _known_intent(cls, value: str) -> str:
        if value not in KNOWN_INTENTS:
            raise ValueError(f"unknown intent {value!r}")
        return value

    @field_validator("title", "text")
    @classmethod
    def _composed_unicode(cls, value: str) -> str:
        # Decomposed and composed Vietnamese look alike but compare unequal; keep one form (NFC).
        if unicodedata.normalize("NFC", value) != value:
            raise ValueError("text must be NFC-normalised Unicode")
        return value.strip()

    @model_validator(mode="after")
    def _content_rules(self) -> KBEntry:
        if self.intent.startswith(_LEGAL_BASIS_REQUIRED) and not any(b.strip() for b in self.legal_basis):
            raise ValueError(f"entry {self.id!r} ({self.intent}) has no legal_basis")
        if self.certainty != "confirmed":
            if not self.uncertain:
                raise ValueError(f"entry {self.id!r} is {self.certainty} but lists no uncertain facts")
            if not any(marker in self.text for marker in _REFERRAL_MARKERS):
                raise ValueError(
                    f"entry {self.id!r} is {self.certainty}: its text must refer the citizen to the "
                    "police or the public-service portal"
                )
        length = len(self.message())
        if length > MAX_MESSAGE_CHARS:
            raise ValueError(f"entry {self.id!r}: message is {length} chars, Zalo allows {MAX_MESSAGE_CHARS}")
        return self

    @property
    def payload(self) -> str:
        """The query payload of a button that opens this entry."""
        return f"#{self.id}"

    def message(self) -> str:
        """The full Zalo text: title, answer, legal basis and review date."""
        parts = [self.title, self.text]
        if self.legal_basis:
            parts.append(
                texts.KB_FOOTER.format(
                    basis="; ".join(self.legal_basis), reviewed=self.last_reviewed.strftime("%d/%m/%Y")
                )
            )
        return "\n\n".join(parts)


class _KBFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: str = Field(pattern=r"^[a-z_]+$")
    entries: tuple[KBEntry, ...] = Field(min_length=1)


class KnowledgeBase:
    """Validated entries, looked up by (intent, subcase) or by id."""

    def __init__(self, entries: Iterable[KBEntry]) -> None:
        self._entries = tuple(entries)
        self._by_id: dict[str, KBEntry] = {}
        self._by_key: dict[tuple[str, str | None], KBEntry] = {}
        for entry in self._entries:
            if entry.id in self._by_id:
                raise KnowledgeError(f"duplicate entry id {entry.id!r}")
            if entry.id in texts.COMMANDS:
                raise KnowledgeError(f"entry id {entry.id!r} collides with a conversation command")
            self._by_id[entry.id] = entry
            keys = [(entry.intent, entry.subcase), *((entry.intent, m) for m in entry.matches)]
            for key in keys:
                if key in self._by_key:
                    raise KnowledgeError(f"two entries answer {key}: {self._by_key[key].id!r}, {entry.id!r}")
                self._by_key[key] = entry
        # A procedure question with an unmatched subcase falls back to the topic's default answer.
        for intent, subcase in self._by_key:
            if intent.startswith("procedure.") and subcase is not None and (intent, None) not in self._by_key:
                raise KnowledgeError(f"intent {intent!r} has subcase entries but no default entry")
        for entry in self._entries:
            for button in entry.buttons:
                if button.kind == "query" and not self.resolves(button.payload):
                    raise KnowledgeError(f"entry {entry.id!r}: button payload {button.payload!r} leads nowhere")

    @property
    def entries(self) -> tuple[KBEntry, ...]:
        return self._entries

    def get(self, intent: str, subcase: str | None = None) -> KBEntry | None:
        """The entry for exactly (intent, subcase)."""
        return self._by_key.get((intent, subcase))

    def answer(self, intent: str, subcases: Iterable[str] = ()) -> KBEntry | None:
        """The best entry for an intent and the NLU's subcases: the first subcase that has one, else default."""
        wanted = set(subcases)
        ordered = [s for s in SUBCASE_PRIORITY if s in wanted] + sorted(wanted.difference(SUBCASE_PRIORITY))
        for subcase in ordered:
            if (entry := self._by_key.get((intent, subcase))) is not None:
                return entry
        return self._by_key.get((intent, None))

    def by_id(self, entry_id: str) -> KBEntry | None:
        return self._by_id.get(entry_id)

    def resolves(self, payload: str) -> bool:
        """Whether a query payload opens an entry or is a conversation command."""
        name = payload.removeprefix("#").partition(":")[0]
        return name in self._by_id or name in texts.COMMANDS


def parse_documents(documents: Iterable[tuple[str, Any]]) -> KnowledgeBase:
    """Validate parsed YAML documents, given as (source name, document) pairs, into a knowledge base."""
    entries: list[KBEntry] = []
    for source, document in documents:
        if not isinstance(document, Mapping):
            raise KnowledgeError(f"{source}: expected a mapping with 'topic' and 'entries'")
        try:
            parsed = _KBFile.model_validate(document)
        except ValidationError as exc:
            raise KnowledgeError(f"{source}: {exc}") from exc
        entries.extend(parsed.entries)
    return KnowledgeBase(entries)


def load_knowledge(directory: Path = KNOWLEDGE_DIR) -> KnowledgeBase:
    """Read and validate every `*.yaml` file of a directory."""
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise KnowledgeError(f"no knowledge files in {directory}")
    documents = []
    for path in files:
        try:
            documents.append((path.name, yaml.safe_load(path.read_text(encoding="utf-8"))))
        except yaml.YAMLError as exc:
            raise KnowledgeError(f"{path.name}: {exc}") from exc
    return parse_documents(documents)
