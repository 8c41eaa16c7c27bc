"""Small text rules the conversation applies itself: control words, ward names, report categories.

Everything matches on folded text (no diacritics, lower case) because many citizens type without
accents; phrases are matched on word boundaries so that short words do not hit inside longer ones.
"""

from __future__ import annotations

from services.intent.conversation.model import Directory, ReportCategory, ReportKind, fold


def has_phrase(folded: str, phrase: str) -> bool:
    """Whether a folded phrase occurs in folded text on word boundaries."""
    return f" {phrase} " in f" {folded} "


def has_any(folded: str, phrases: tuple[str, ...]) -> bool:
    return any(has_phrase(folded, phrase) for phrase in phrases)


# Whole-message control words of the report form (folded).
CANCEL_WORDS = frozenset({"huy", "huy bo", "huy phieu", "huy bao tin", "thoi", "khong gui nua", "dung lai"})
BACK_WORDS = frozenset({"quay lai", "tro lai", "lui lai", "quay lai buoc truoc", "sua lai"})
DONE_WORDS = frozenset({"xong", "da xong", "xong roi", "het", "tiep", "tiep tuc", "ok", "oke"})
SKIP_WORDS = frozenset({"bo qua", "khong co", "khong", "ko", "k", "khong co anh", "khong can"})
SEND_WORDS = frozenset({"gui", "gui di", "dong y", "xac nhan", "ok", "oke", "co", "gui bao tin"})
UNKNOWN_TIME_WORDS = frozenset({"khong ro", "khong biet", "khong nho", "bo qua"})


def control_word(text: str, words: frozenset[str]) -> bool:
    return fold(text) in words


def report_kind(text: str) -> ReportKind | None:
    """The kind a citizen typed at the first form step, if recognisable."""
    folded = fold(text)
    if folded in {"1"} or has_any(folded, ("to giac", "toi pham", "bao tin toi pham")):
        return "crime"
    if folded in {"2"} or has_any(folded, ("phan anh", "trat tu", "an ninh trat tu")):
        return "public_order"
    return None


def anonymity(text: str) -> bool | None:
    """True for anonymous, False for named, None if the text says neither."""
    folded = fold(text)
    if has_any(folded, ("khong an danh", "de lai danh tinh", "de lai ten", "cong khai", "co danh")):
        return False
    if has_any(folded, ("an danh", "giau ten", "khong de lai")):
        return True
    return None


def find_ward(text: str, directory: Directory) -> str | None:
    """The first ward name (old or new) mentioned in a message, as spelled in the data."""
    folded = fold(text)
    # Longest names first, so "Phú Thọ Hòa" wins over any shorter name inside it.
    for name in sorted(directory.known_wards(), key=lambda n: -len(fold(n))):
        phrase = fold(name)
        if not has_phrase(folded, phrase):
            continue
        # "quận Tân Phú" is the former district, not the new ward of the same name.
        if has_any(folded, (f"quan {phrase}", f"q {phrase}")) and not has_phrase(folded, f"phuong {phrase}"):
            continue
        return name
    return None


# Report categories: folded phrases; the category with most hits wins, ties go to the earlier one.
_CATEGORY_PHRASES: tuple[tuple[ReportCategory, tuple[str, ...]], ...] = (
    ("drugs", ("ma tuy", "chich hut", "hut chich", "thuoc lac", "can sa", "bong cuoi", "nghien hut")),
    ("racing", ("dua xe", "lang lach", "boc dau", "nep xe", "dan xe", "bao xe")),
    ("gambling", ("danh bac", "co bac", "so de", "lo de", "ca do", "song bac")),
    (
        "cyber",
        (
            "hack",
            "bi hack",
            "chiem tai khoan",
            "tai khoan bi chiem",
            "link la",
            "duong link",
            "mang xa hoi",
            "facebook",
            "ung dung gia",
            "app gia",
            "website gia",
            "trang web gia",
        ),
    ),
    ("fraud", ("lua dao", "lua tien", "chiem doat", "gia danh", "mao danh", "gia mao", "da cap", "bi lua")),
    (
        "theft",
        (
            "trom",
            "an trom",
            "mat trom",
            "bi trom",
            "cuop",
            "cuop giat",
            "giat tui",
            "giat dien thoai",
            "giat day chuyen",
            "mat cap",
            "dot nhap",
            "be khoa",
        ),
    ),
    (
        "violence",
        (
            "danh nhau",
            "danh nguoi",
            "bi danh",
            "hanh hung",
            "dam nguoi",
            "bi dam",
            "dam chem",
            "chem",
            "gay thuong tich",
            "bao luc",
            "de doa",
            "xo xat",
            "giet nguoi",
            "bat coc",
        ),
    ),
    (
        "fire_hazard",
        (
            "chay nha",
            "bi chay",
            "dam chay",
            "boc chay",
            "dang chay",
            "chay lon",
            "chay no",
            "hoa hoan",
            "chap dien",
            "ro ri gas",
            "ro gas",
            "mui gas",
            "khoi",
            "nguy co chay",
            "loi thoat hiem",
        ),
    ),
    (
        "traffic",
        ("tai nan", "va cham", "ket xe", "un tac", "giao thong", "vuot den do", "nguoc chieu", "dau xe"),
    ),
    ("noise", ("on ao", "gay on", "tieng on", "karaoke", "hat to", "loa keo", "loa to", "mo nhac to")),
    (
        "encroachment",
        ("lan chiem", "chiem via he", "via he", "long duong", "hang rong", "buon ban", "xay dung trai phep"),
    ),
    ("gathering", ("tu tap", "tu diem", "dong nguoi", "nhom thanh nien", "tu ba tu bay")),
)
# With diacritics: words whose folded form is ambiguous ("chạy" runs, "cháy" burns).
_ACCENTED_PHRASES: tuple[tuple[ReportCategory, tuple[str, ...]], ...] = (
    ("fire_hazard", ("cháy", "hỏa hoạn", "khói")),
    ("violence", ("đâm", "chém")),
)


def infer_category(text: str) -> ReportCategory:
    """The report category a description most likely belongs to; "other" when nothing matches."""
    folded = fold(text)
    lowered = text.lower()
    scores: dict[ReportCategory, int] = {}
    for category, phrases in _CATEGORY_PHRASES:
        hits = sum(has_phrase(folded, phrase) for phrase in phrases)
        if hits:
            scores[category] = scores.get(category, 0) + hits
    for category, words in _ACCENTED_PHRASES:
        hits = sum(word in lowered for word in words)
        if hits:
            scores[category] = scores.get(category, 0) + hits
    if not scores:
        return "other"
    order = [category for category, _ in _CATEGORY_PHRASES]
    return max(scores, key=lambda c: (scores[c], -order.index(c)))


def news_action(text: str) -> str:
    """What a news message asks: subscribe, unsubscribe, or the latest news."""
    folded = fold(text)
    if has_any(
        folded,
        ("huy dang ky", "huy nhan", "ngung nhan", "khong nhan", "dung nhan", "thoi nhan", "bo nhan", "ngung gui"),
    ):
        return "unsubscribe"
    if has_any(folded, ("dang ky", "nhan tin", "theo doi", "dang ki")):
        return "subscribe"
    return "latest"
