"""Directory answers: which police office to contact, with old ward names mapped to today's wards."""

from __future__ import annotations

from services.intent import texts
from services.intent.conversation.model import (
    MAX_BUTTONS,
    Button,
    Directory,
    OaProfile,
    Reply,
    fold,
    slug,
)


def _ward_list(wards: tuple[str, ...]) -> str:
    names = [texts.WARD_PREFIX.format(ward=w) for w in wards]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + texts.LIST_AND + names[-1]


def _effective(directory: Directory) -> str:
    # "2025-07-01" -> "01/7/2025", the way dates are written in Vietnamese administrative text.
    raw = directory.mergers_effective or "2025-07-01"
    year, month, day = raw.split("-")
    return f"{day}/{int(month)}/{year}"


def _entry(profile: OaProfile) -> str:
    return texts.DIRECTORY_ENTRY.format(
        name=profile.display_name,
        address=profile.contact.address,
        phone=profile.contact.phone,
        hours=profile.contact.hours,
    )


def _call_button(profile: OaProfile) -> Button:
    return Button.phone(texts.BTN_CALL.format(name=profile.display_name), profile.contact.phone)


def _merged_into(directory: Directory, ward: str) -> tuple[str, ...] | None:
    """The new wards of an old ward that was merged or split, or None if the ward still exists as is."""
    serving = directory.serving_wards(ward)
    if tuple(fold(w) for w in serving) == (fold(ward),):
        return None
    return serving


def ward_chooser(wards: tuple[str, ...], command: str, text: str) -> Reply:
    """Ask which ward, one button per ward (at most 5; the citizen can also type a name)."""
    buttons = tuple(
        Button.query(texts.BTN_WARD.format(ward=ward), texts.payload(command, slug(ward)))
        for ward in wards[:MAX_BUTTONS]
    )
    return Reply(text=text, buttons=buttons)


def contact_reply(profile: OaProfile, directory: Directory, *, offer_other_wards: bool) -> Reply:
    """An office's contact card, noting when its ward was merged into today's wards."""
    lines = [texts.DIRECTORY_INTRO, _entry(profile)]
    if profile.kind == "ward" and profile.ward and (merged := _merged_into(directory, profile.ward)):
        lines.append(
            texts.DIRECTORY_OWN_WARD_MERGED.format(
                effective=_effective(directory), old=profile.ward, new_list=_ward_list(merged)
            )
        )
    buttons = [_call_button(profile)]
    if offer_other_wards and directory.current_wards():
        buttons.append(Button.query(texts.BTN_OTHER_WARD, texts.payload(texts.Cmd.DIRECTORY, texts.CHOOSE)))
    return Reply(text="\n".join(lines), buttons=tuple(buttons))


def ward_reply(ward: str, directory: Directory) -> Reply:
    """Contacts for a ward named by the citizen; an old ward is mapped to the ward(s) serving it now."""
    merged = _merged_into(directory, ward)
    serving = merged or (ward,)
    paragraphs: list[str] = []
    if merged:
        paragraphs.append(
            texts.DIRECTORY_MERGED.format(
                effective=_effective(directory),
                old=ward,
                new_list=_ward_list(merged),
                split_hint=texts.DIRECTORY_MERGED_SPLIT_HINT if len(merged) > 1 else "",
            )
        )
    else:
        paragraphs.append(texts.DIRECTORY_INTRO)
    buttons: list[Button] = []
    for name in serving:
        office = directory.ward_office(name)
        if office is None:
            paragraphs.append(texts.DIRECTORY_NO_CONTACT.format(ward=name))
            continue
        paragraphs.append(_entry(office))
        if len(buttons) < MAX_BUTTONS:
            buttons.append(_call_button(office))
    return Reply(text="\n\n".join(paragraphs), buttons=tuple(buttons))
