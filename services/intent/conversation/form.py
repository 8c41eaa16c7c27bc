"""The report form: kind -> description -> when -> where -> photos -> anonymous -> confirm.

Pure transitions on a `ReportDraft`. "hủy" cancels at any step, "quay lại" goes one step back;
photos are optional and several may be sent. Confirming yields one `SubmitReport`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.intent import texts
from services.intent.conversation import textmatch
from services.intent.conversation.model import (
    FORM_STEPS,
    Button,
    Effect,
    FormStep,
    GeoPoint,
    Reply,
    ReportDraft,
    ReportKind,
    SubmitReport,
    fold,
)
from services.intent.texts import Cmd

MAX_ATTACHMENTS = 10
MIN_DESCRIPTION_CHARS = 5
MAX_DESCRIPTION_CHARS = 3000
MAX_FIELD_CHARS = 500
# The summary shows at most this much of the description, to stay within one Zalo message.
SUMMARY_DESCRIPTION_CHARS = 600
# Steps where the citizen answers with a button; free text there may be a question for the bot.
CHOICE_STEPS = frozenset({FormStep.KIND, FormStep.ANONYMOUS, FormStep.CONFIRM})
# Commands that only make sense inside a form.
FORM_COMMANDS = frozenset(
    {
        Cmd.CANCEL,
        Cmd.BACK,
        Cmd.DONE,
        Cmd.SKIP,
        Cmd.SEND,
        Cmd.ANONYMOUS,
        Cmd.NAMED,
        Cmd.JUST_NOW,
        Cmd.UNKNOWN_TIME,
    }
)


@dataclass(frozen=True)
class FormOutcome:
    """What a form step did. `draft` None means the form is over (sent or cancelled)."""

    draft: ReportDraft | None
    replies: tuple[Reply, ...] = ()
    effects: tuple[Effect, ...] = ()
    cancelled: bool = False
    # The message was not an answer to the form: the caller routes it as usual, then reminds.
    passthrough: bool = False


def _button(title: str, command: str) -> Button:
    return Button.query(title, texts.payload(command))


_BACK = _button(texts.BTN_BACK, Cmd.BACK)
_CANCEL = _button(texts.BTN_CANCEL, Cmd.CANCEL)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def start(now: datetime, kind: ReportKind | None = None) -> ReportDraft:
    """A new form; when the kind is already known the first question is the description."""
    step = FormStep.DESCRIPTION if kind else FormStep.KIND
    return ReportDraft(step=step, started_at=now, updated_at=now, kind=kind)


def prompt(draft: ReportDraft) -> Reply:
    """The question of the draft's current step, with its buttons."""
    step = draft.step
    if step is FormStep.KIND:
        return Reply(
            text=texts.FORM_ASK_KIND,
            buttons=(
                _button(texts.BTN_CRIME, Cmd.REPORT_CRIME),
                _button(texts.BTN_ORDER, Cmd.REPORT_ORDER),
                _CANCEL,
            ),
        )
    if step is FormStep.DESCRIPTION:
        return Reply(text=texts.FORM_ASK_DESCRIPTION[draft.kind or "crime"], buttons=(_BACK, _CANCEL))
    if step is FormStep.WHEN:
        return Reply(
            text=texts.FORM_ASK_WHEN,
            buttons=(
                _button(texts.BTN_JUST_NOW, Cmd.JUST_NOW),
                _button(texts.BTN_UNKNOWN_TIME, Cmd.UNKNOWN_TIME),
                _BACK,
                _CANCEL,
            ),
        )
    if step is FormStep.WHERE:
        if draft.location is not None:
            return Reply(
                text=texts.FORM_ASK_WHERE + texts.FORM_WHERE_HAS_LOCATION,
                buttons=(_button(texts.BTN_USE_LOCATION, Cmd.DONE), _BACK, _CANCEL),
            )
        return Reply(text=texts.FORM_ASK_WHERE, buttons=(_BACK, _CANCEL))
    if step is FormStep.PHOTOS:
        first = _button(texts.BTN_DONE, Cmd.DONE) if draft.attachments else _button(texts.BTN_SKIP, Cmd.SKIP)
        return Reply(text=texts.FORM_ASK_PHOTOS, buttons=(first, _BACK, _CANCEL))
    if step is FormStep.ANONYMOUS:
        return Reply(
            text=texts.FORM_ASK_ANONYMOUS,
            buttons=(
                _button(texts.BTN_ANONYMOUS, Cmd.ANONYMOUS),
                _button(texts.BTN_NAMED, Cmd.NAMED),
                _BACK,
                _CANCEL,
            ),
        )
    return Reply(
        text=summary(draft),
        buttons=(_button(texts.BTN_SEND, Cmd.SEND), _BACK, _CANCEL),
    )


def summary(draft: ReportDraft) -> str:
    where = draft.place_text or ""
    if draft.location is not None:
        where = f"{where} ({texts.FORM_SUMMARY_LOCATION})" if where else texts.FORM_SUMMARY_LOCATION
    return texts.FORM_SUMMARY.format(
        kind=texts.KIND_LABELS[draft.kind or "crime"],
        description=_clip(draft.description or "", SUMMARY_DESCRIPTION_CHARS),
        when=_clip(draft.occurred_at_text or texts.BTN_UNKNOWN_TIME, 200),
        where=_clip(where or texts.FORM_SUMMARY_NONE, 300),
        attachments=len(draft.attachments) or texts.FORM_SUMMARY_NONE,
        identity=texts.FORM_SUMMARY_ANONYMOUS if draft.anonymous else texts.FORM_SUMMARY_NAMED,
    )


def reminder(draft: ReportDraft) -> Reply:
    """Where the citizen was in the form, followed by that step's question."""
    current = prompt(draft)
    head = texts.FORM_REMINDER.format(step=texts.FORM_STEP_LABELS[draft.step.value])
    return Reply(text=_fit(f"{head}\n\n{current.text}"), buttons=current.buttons)


def _fit(text: str) -> str:
    return text if len(text) <= 2000 else text[:1999] + "…"


def is_expired(draft: ReportDraft, now: datetime, expiry: timedelta) -> bool:
    """Whether the form has been idle longer than the expiry (measured from the last answer)."""
    return now - draft.updated_at > expiry


def _at(draft: ReportDraft, now: datetime, **changes: object) -> ReportDraft:
    return draft.model_copy(update={"updated_at": now, **changes})


def _advance(draft: ReportDraft, now: datetime, **changes: object) -> FormOutcome:
    index = FORM_STEPS.index(draft.step)
    moved = _at(draft, now, step=FORM_STEPS[index + 1], **changes)
    return FormOutcome(draft=moved, replies=(prompt(moved),))


def ask_again(draft: ReportDraft, now: datetime, note: str | None = None) -> FormOutcome:
    """Stay at the current step and ask its question again, optionally after a short note."""
    touched = _at(draft, now)
    current = prompt(touched)
    if note:
        current = Reply(text=_fit(f"{note}\n\n{current.text}"), buttons=current.buttons)
    return FormOutcome(draft=touched, replies=(current,))


def _back(draft: ReportDraft, now: datetime) -> FormOutcome:
    index = FORM_STEPS.index(draft.step)
    if index == 0:
        return ask_again(draft, now, texts.FORM_FIRST_STEP)
    moved = _at(draft, now, step=FORM_STEPS[index - 1])
    return FormOutcome(draft=moved, replies=(prompt(moved),))


def _cancel() -> FormOutcome:
    return FormOutcome(draft=None, cancelled=True)


def _submit(draft: ReportDraft, submission_id: str, unit_name: str) -> FormOutcome:
    report = SubmitReport(
        submission_id=submission_id,
        kind=draft.kind or "crime",
        category=textmatch.infer_category(draft.description or ""),
        description=draft.description or "",
        occurred_at_text=draft.occurred_at_text,
        place_text=draft.place_text,
        location=draft.location,
        attachments=draft.attachments,
        anonymous=bool(draft.anonymous),
        urgent=False,
    )
    return FormOutcome(
        draft=None,
        replies=(Reply(text=texts.FORM_SUBMITTED.format(unit=unit_name)),),
        effects=(report,),
    )


def on_command(
    draft: ReportDraft, command: str, now: datetime, *, submission_id: str, unit_name: str
) -> FormOutcome | None:
    """A button pressed while the form is open; None if the command is not about the form."""
    step = draft.step
    if command == Cmd.CANCEL:
        return _cancel()
    if command == Cmd.BACK:
        return _back(draft, now)
    if command in (Cmd.REPORT_CRIME, Cmd.REPORT_ORDER):
        if step is FormStep.KIND:
            kind: ReportKind = "crime" if command == Cmd.REPORT_CRIME else "public_order"
            return _advance(draft, now, kind=kind)
        return ask_again(draft, now, texts.FORM_ALREADY_OPEN)
    if command == Cmd.REPORT:
        return ask_again(draft, now, texts.FORM_ALREADY_OPEN)
    if command in (Cmd.JUST_NOW, Cmd.UNKNOWN_TIME) and step is FormStep.WHEN:
        label = texts.BTN_JUST_NOW if command == Cmd.JUST_NOW else texts.BTN_UNKNOWN_TIME
        return _advance(draft, now, occurred_at_text=label)
    if command == Cmd.DONE and step is FormStep.WHERE and draft.location is not None:
        return _advance(draft, now)
    if command in (Cmd.DONE, Cmd.SKIP) and step is FormStep.PHOTOS:
        return _advance(draft, now)
    if command in (Cmd.ANONYMOUS, Cmd.NAMED) and step is FormStep.ANONYMOUS:
        return _advance(draft, now, anonymous=command == Cmd.ANONYMOUS)
    if command == Cmd.SEND and step is FormStep.CONFIRM:
        return _submit(draft, submission_id, unit_name)
    if command in FORM_COMMANDS:
        # A stale button from an earlier step: ask the current question again.
        return ask_again(draft, now, texts.FORM_CHOOSE_BUTTON)
    return None


def on_text(
    draft: ReportDraft,
    text: str,
    now: datetime,
    *,
    submission_id: str,
    unit_name: str,
    kind_hint: ReportKind | None = None,
) -> FormOutcome:
    """A typed message while the form is open; `kind_hint` is the kind the classifier heard, if any."""
    if textmatch.control_word(text, textmatch.CANCEL_WORDS):
        return _cancel()
    if textmatch.control_word(text, textmatch.BACK_WORDS):
        return _back(draft, now)
    step = draft.step
    clean = text.strip()
    if step is FormStep.KIND:
        kind = textmatch.report_kind(clean) or kind_hint
        if kind is None:
            return FormOutcome(draft=draft, passthrough=True)
        return _advance(draft, now, kind=kind)
    if step is FormStep.DESCRIPTION:
        if len(clean) < MIN_DESCRIPTION_CHARS:
            return ask_again(draft, now, texts.FORM_DESCRIPTION_TOO_SHORT)
        return _advance(draft, now, description=clean[:MAX_DESCRIPTION_CHARS])
    if step is FormStep.WHEN:
        if textmatch.control_word(clean, textmatch.UNKNOWN_TIME_WORDS):
            return _advance(draft, now, occurred_at_text=texts.BTN_UNKNOWN_TIME)
        return _advance(draft, now, occurred_at_text=clean[:MAX_FIELD_CHARS])
    if step is FormStep.WHERE:
        if textmatch.control_word(clean, textmatch.DONE_WORDS) and draft.location is not None:
            return _advance(draft, now)
        if textmatch.control_word(clean, textmatch.SKIP_WORDS | textmatch.DONE_WORDS):
            return ask_again(draft, now, texts.FORM_WHERE_REQUIRED)
        return _advance(draft, now, place_text=clean[:MAX_FIELD_CHARS])
    if step is FormStep.PHOTOS:
        if textmatch.control_word(clean, textmatch.DONE_WORDS | textmatch.SKIP_WORDS):
            return _advance(draft, now)
        return ask_again(draft, now)
    if step is FormStep.ANONYMOUS:
        choice = textmatch.anonymity(clean)
        if choice is None:
            return FormOutcome(draft=draft, passthrough=True)
        return _advance(draft, now, anonymous=choice)
    if fold(clean) in textmatch.SEND_WORDS:
        return _submit(draft, submission_id, unit_name)
    return FormOutcome(draft=draft, passthrough=True)


def on_location(draft: ReportDraft, location: GeoPoint, place_name: str | None, now: datetime) -> FormOutcome:
    """A shared Zalo location: the answer at the "where" step, kept for later at other steps."""
    place = draft.place_text or (place_name.strip() if place_name else None)
    if draft.step is FormStep.WHERE:
        return _advance(draft, now, location=location, place_text=place)
    updated = _at(draft, now, location=location, place_text=place)
    return ask_again(updated, now, texts.FORM_LOCATION_NOTED)


def on_attachments(draft: ReportDraft, urls: tuple[str, ...], now: datetime) -> FormOutcome:
    """Photos or files: collected at the photo step (several allowed), kept at any other step."""
    room = MAX_ATTACHMENTS - len(draft.attachments)
    accepted = tuple(u for u in urls if u and u not in draft.attachments)[: max(room, 0)]
    updated = _at(draft, now, attachments=(*draft.attachments, *accepted))
    if draft.step is not FormStep.PHOTOS:
        return ask_again(updated, now, texts.FORM_ATTACHMENT_NOTED)
    if not accepted and room <= 0:
        note = texts.FORM_PHOTO_LIMIT.format(limit=MAX_ATTACHMENTS)
    else:
        note = texts.FORM_PHOTO_RECEIVED.format(count=len(updated.attachments))
    return FormOutcome(
        draft=updated,
        replies=(Reply(text=note, buttons=(_button(texts.BTN_DONE, Cmd.DONE), _CANCEL)),),
    )


def choice_pending(draft: ReportDraft) -> bool:
    return draft.step in CHOICE_STEPS
