"""Normalisation of citizens' chat messages: NFC, case, elongations, teencode, light typos, folding.

`Normalizer.normalize` turns raw text into a `NormalizedText`: tokens with diacritics kept where the
citizen typed them (abbreviations expanded, elongations collapsed, typos fixed), their folded forms
(no diacritics, "đ" → "d") and the canonical case codes found. Everything downstream (classifier,
entities, emergency rules) reads that one object, so each message is normalised exactly once.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import product
from typing import TypeVar

__all__ = [
    "CASE_CODE_RE",
    "LEXICON",
    "NormalizedText",
    "Normalizer",
    "canonical_case_code",
    "fold",
    "is_syllable",
    "telex",
    "vi_regex",
]

# -- folding -------------------------------------------------------------------------------------


def _build_fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in list(range(0x00C0, 0x0250)) + list(range(0x1E00, 0x1F00)):
        char = chr(code)
        base = "".join(c for c in unicodedata.normalize("NFD", char) if unicodedata.category(c) != "Mn")
        if base != char and len(base) == 1:
            table[code] = base.lower()
    table[ord("đ")] = "d"
    table[ord("Đ")] = "d"
    return table


_FOLD_TABLE = _build_fold_table()
_COMBINING = re.compile(r"[\u0300-\u036f]")


def fold(text: str) -> str:
    """Lower-case without diacritics ("Phường Sơn Kỳ" → "phường sơn kỳ" → "phuong son ky")."""
    text = unicodedata.normalize("NFC", text).lower().translate(_FOLD_TABLE)
    return _COMBINING.sub("", text)


def _words(text: str) -> list[str]:
    """The whitespace-separated words of a long literal (easier to maintain than a list of strings)."""
    return text.split()


# -- Telex view and Vietnamese patterns ---------------------------------------------------------

# Folding merges words that rules must keep apart ("cháy" fire, "chạy" run, "chảy" flow all fold to
# "chay"). The Telex spelling keeps every mark as letters ("chays", "chayj", "chayr"), so rules read a
# view where plain tokens stay as typed and tokens typed with diacritics are spelled in Telex.
_TELEX_TONES = {"\u0301": "s", "\u0300": "f", "\u0309": "r", "\u0303": "x", "\u0323": "j"}


def _telex_parts(word: str) -> tuple[str, str]:
    body: list[str] = []
    tone = ""
    for char in unicodedata.normalize("NFD", word):
        if char in _TELEX_TONES:
            tone = _TELEX_TONES[char]
        elif char == "\u0302" and body:  # circumflex: â ê ô → aa ee oo
            body.append(body[-1])
        elif char in "\u0306\u031b":  # breve and horn: ă ơ ư → aw ow uw
            body.append("w")
        elif char == "đ":
            body.append("dd")
        elif unicodedata.category(char) != "Mn":
            body.append(char)
    return "".join(body), tone


def telex(word: str) -> str:
    """Telex spelling of a lower-case word ("cháy" → "chays", "đường" → "dduwowngf"); ASCII unchanged."""
    if word.isascii():
        return word
    body, tone = _telex_parts(word)
    return body + tone


def _word_alternatives(word: str) -> str:
    """The spellings of one pattern word a citizen may produce: exact, plain, or without its tone mark.

    (Not "with the tone but without the vowel marks": that spelling is often another word, "bán" for
    "bắn".)
    """
    if word.isascii():
        return word
    body, tone = _telex_parts(word)
    plain = fold(word)
    options = list(dict.fromkeys((body + tone, plain, body)))
    return "(?:" + "|".join(options) + ")"


_PATTERN_PIECE = re.compile(r"\\.|[^\W\d_]+|.", re.DOTALL)
_GAP = re.compile(r"\s*…\s*")


def vi_regex(pattern: str) -> re.Pattern[str]:
    """Compile a regex written in Vietnamese for the Telex view (`NormalizedText.telex`).

    Every word of the pattern matches its exact spelling, its plain spelling, or its spelling without
    the tone mark, but never another word ("cháy" matches "cháy", "chaý", "chay"; not "chạy").
    "=word" matches the exact spelling only (for words whose plain form is ambiguous: "=mờ" is not
    "mo"). "…" between two words stands for up to three arbitrary words. Matches are whole words.
    """
    out: list[str] = []
    exact = False
    previous = ""
    for piece in _PATTERN_PIECE.findall(_GAP.sub("\x00", pattern)):
        if piece == "\x00":
            out.append(r" (?:\S+ ){0,3}")
        elif piece == "=" and previous not in {"?", "<"}:
            exact = True
        elif piece[0].isalpha():
            out.append(telex(piece) if exact else _word_alternatives(piece))
            exact = False
        else:
            out.append(piece)
        previous = piece
    return re.compile(r"(?<![\w-])(?:" + "".join(out) + r")(?![\w-])")


# -- Vietnamese syllable shape (folded) ------------------------------------------------------------

# Rhymes (vần) once folded: used to tell a plausible Vietnamese syllable from a typo or teencode, so
# that the typo corrector never "fixes" a real word it simply does not know.
_RHYMES = _words(
    "a ac ach ai am an ang anh ao ap at au ay e ec ech em en eng enh eo ep et eu i ia ich iec iem ien "
    "ieng iep iet ieu im in inh ip it iu o oa oac oach oai oam oan oang oanh oao oap oat oay oc oe oen "
    "oeo oet oi om on ong ooc oong op ot u ua uan uang uat uay uc ue uech uen uenh uet ui um un ung uo "
    "uoc uoi uom uon uong uop uot uou up ut uu uy uya uych uyen uyet uynh uyt uyu y yen yet yeu ynh yt ych"
)
_ONSETS = _words("ngh ng nh ch gh gi kh ph qu th tr b c d g h k l m n p r s t v x")
_SYLLABLE_RE = re.compile("(?:" + "|".join(_ONSETS) + ")?(?:" + "|".join(sorted(_RHYMES, key=len, reverse=True)) + ")")


def is_syllable(folded_word: str) -> bool:
    """Whether a folded word has the shape of one Vietnamese syllable ("thuong" yes, "thuogn" no)."""
    return _SYLLABLE_RE.fullmatch(folded_word) is not None


# -- lexicon -------------------------------------------------------------------------------------

# Domain words the typo corrector may correct towards (the training texts are added at run time).
LEXICON = _words("""
alo xin chào chào bạn anh chị em ạ ơi dạ vâng cảm ơn cám nhiều lắm ok admin hello
pccc csgt cnch qlhc cccd cmnd vneid ct01 ct07 kt3 zalo facebook online
công an phường quận xã thành phố hồ chí minh tân phú sơn kỳ tây thạnh tân sơn nhì tân quý tân thành
phú thọ hòa phú thạnh phú trung hòa thạnh hiệp tân tân thới hòa cảnh sát hình sự kinh tế ma túy
giao thông phòng cháy chữa cháy cứu hỏa cứu nạn cứu hộ quản lý hành chính an ninh trật tự đội
đăng ký thường trú tạm trú tạm vắng lưu trú thông báo khai báo gia hạn xóa tách hộ điều chỉnh
thông tin cư trú xác nhận hộ khẩu sổ nhập khẩu chuyển khẩu cắt
căn cước công dân chứng minh nhân dân định danh điện tử mức tài khoản vneid thẻ chip cấp đổi lại
mất hỏng rách gãy bong tróc hết hạn tuổi trẻ con nhỏ mới sinh khai sinh
xe máy mô tô ô tô xe hơi biển số sang tên chính chủ giấy đăng ký cà vẹt thu hồi
con dấu mẫu dấu khắc dấu doanh nghiệp công ty văn phòng công chứng luật sư
thẩm định thiết kế nghiệm thu kiểm tra phương án bình chữa cháy lối thoát hiểm karaoke nhà xưởng
tố giác tố cáo trình báo trộm cắp cướp giật lừa đảo chiếm đoạt đánh người đâm chém ma túy đánh bạc
cá độ cho vay nặng lãi đòi nợ khủng bố đe dọa theo dõi bắt cóc
phản ánh ồn ào hàng xóm nhậu nhẹt tụ tập đua xe lấn chiếm vỉa hè xả rác đậu xe đỗ xe loa kẹo kéo
tình trạng hồ sơ đơn mã số kết quả xử lý tiến độ tra cứu
địa chỉ số điện thoại giờ làm việc trụ sở ở đâu đường dây nóng trực ban
tin tức nhận tin hủy đăng ký theo dõi bản tin cảnh báo mới nhất
khẩn cấp cứu tôi với cháy khói lửa hỏa hoạn bị thương chảy máu bất tỉnh đuối nước ngất xỉu
gặp cán bộ nhân viên người thật trực tiếp nói chuyện tư vấn
thủ tục giấy tờ cần những gì bao nhiêu tiền bao lâu như thế nào hướng dẫn giúp hỗ trợ
không được biết muốn hỏi cho hỏi làm sao thế nào phải đâu rồi chưa nhé nha
trường hợp người nước ngoài khách sạn nhà nghỉ nhà trọ phòng trọ sinh viên
""")

# Frequent words run together without a space ("dangky", "tamtru"): rejoined into their parts.
_COMPOUNDS = (
    "đăng ký",
    "tạm trú",
    "thường trú",
    "tạm vắng",
    "lưu trú",
    "căn cước",
    "công an",
    "hộ khẩu",
    "sổ hộ khẩu",
    "nhập khẩu",
    "cảnh sát",
    "giao thông",
    "hình sự",
    "kinh tế",
    "an ninh",
    "xe máy",
    "ô tô",
    "xe hơi",
    "con dấu",
    "biển số",
    "cứu tôi",
    "cứu với",
    "cứu em",
    "cứu hỏa",
    "chữa cháy",
    "phòng cháy",
    "xin chào",
    "cảm ơn",
    "định danh",
    "lừa đảo",
    "ma túy",
    "tố giác",
    "chứng minh",
    "giấy tờ",
    "thủ tục",
    "điện thoại",
    "số điện thoại",
    "hồ sơ",
    "tạm trú tạm vắng",
    "cư trú",
    "sơn kỳ",
    "tân quý",
    "tây thạnh",
    "tân thành",
    "phú thạnh",
    "phú trung",
    "hòa thạnh",
    "hiệp tân",
    "tân sơn nhì",
    "phú thọ hòa",
    "tân thới hòa",
    "tân phú",
    "karaoke",
    "vỉa hè",
    "bao nhiêu",
    "bao lâu",
    "ở đâu",
    "như thế nào",
    "cà vẹt",
    "sang tên",
    "gia hạn",
    "tách hộ",
    "khai báo",
    "thông báo",
    "nhận tin",
    "tin tức",
    "cán bộ",
    "trực ban",
    "hướng dẫn",
)

# -- case codes ----------------------------------------------------------------------------------

# A case code: 2–3 letters, 2-digit year (or 20xx), serial of up to 6 digits ("TP-26-000123").
# Citizens drop or replace the dashes ("tp 26 000123", "TP26000123"), so separators are optional;
# `canonical_case_code` then rejects the loose shapes that are more likely plain text.
CASE_CODE_RE = re.compile(r"(?<![^\W_])([A-Za-z]{2,3})[ \t._/-]*((?:20)?\d{2})[ \t._/-]*(\d{1,6})(?![^\W_])")


def canonical_case_code(match: re.Match[str]) -> str | None:
    """`TP-26-000123` from a CASE_CODE_RE match, or None when the match is too loose to trust."""
    prefix, year, serial = match.group(1), match.group(2), match.group(3)
    separators = match.group(0)[len(prefix) :]
    dashed = "-" in separators
    compact = separators == year + serial
    if not (len(serial) == 6 or dashed or prefix.isupper()) or (compact and len(serial) != 6):
        return None
    if len(serial) < 3 and not dashed:
        return None
    return f"{prefix.upper()}-{year[-2:]}-{serial.zfill(6)}"


# -- teencode ------------------------------------------------------------------------------------

Context = tuple[str, str]  # (previous folded token, next folded token); "" at the edges
_Rule = str | Callable[[Context], str | None]

_REGISTRATION_OBJECTS = frozenset(
    _words("tam thuong xe ho khai lai online con cho cu tai o nhan giay bien thong the moi vneid tk tt tv lt kt3 dinh")
)
_QUANTITY_NEXT = frozenset(_words("tien ngay lau tuoi k nghin ngan dong lan nguoi gio thang nam phut"))
_QUANTITY_PREV = frozenset(_words("mat het ton la phi gia duoc trong lay tra nop"))
_PLACE_NEXT = frozenset(_words("phuong quan xa p q huyen tp thanh tan tay son phu hoa hiep ward tinh"))


def _dk(ctx: Context) -> str:
    prev, nxt = ctx
    if nxt in _REGISTRATION_OBJECTS or prev in {"lam", "muon", "cach", "chua", "di", "thu", "de", "can"}:
        return "đăng ký"
    return "được"


def _bn(ctx: Context) -> str:
    prev, nxt = ctx
    if nxt in _QUANTITY_NEXT or prev in _QUANTITY_PREV or nxt == "":
        return "bao nhiêu" if prev not in {"", "chao", "cam", "on", "voi", "cho", "giup", "hoi"} else "bạn"
    return "bạn"


def _k(ctx: Context) -> str | None:
    prev, _ = ctx
    return "nghìn" if prev.isdigit() else "không"


def _kg(ctx: Context) -> str | None:
    prev, _ = ctx
    return None if prev.isdigit() else "không"


def _v(ctx: Context) -> str:
    _, nxt = ctx
    return "vậy" if nxt == "" or nxt in {"a", "ha", "ta", "nhi", "ne"} else "với"


def _hk(ctx: Context) -> str:
    prev, _ = ctx
    return "hộ khẩu" if prev in {"so", "nhap", "cat", "chuyen", "tach", "xoa"} else "không"


def _ck(ctx: Context) -> str:
    prev, nxt = ctx
    if nxt in {"em", "toi", "minh", "cua", "chi", "tao"} or prev in {"vo", "voi", "cua", "va"}:
        return "chồng"
    return "chuyển khoản"


def _tt(ctx: Context) -> str | None:
    prev, _ = ctx
    return "tạm trú" if prev in {"ky", "ki", "han", "xoa", "so", "dk", "dang"} else None


def _tv(ctx: Context) -> str | None:
    prev, _ = ctx
    return "tạm vắng" if prev in {"ky", "ki", "bao", "dk", "dang"} else None


def _ca(ctx: Context) -> str | None:
    prev, nxt = ctx
    return "công an" if nxt in _PLACE_NEXT or prev in {"goi", "bao", "gap", "cho", "nho"} else None


def _p(ctx: Context) -> str | None:
    prev, nxt = ctx
    if prev.isdigit():
        return "phút"
    return "phường" if nxt and not nxt.isdigit() else None


def _q(ctx: Context) -> str | None:
    prev, nxt = ctx
    return "quận" if nxt and not prev.isdigit() else None


def _hs(ctx: Context) -> str:
    prev, _ = ctx
    return "hình sự" if prev in {"canh", "sat", "cs", "doi", "phong"} else "hồ sơ"


def _hum(ctx: Context) -> str | None:
    _, nxt = ctx
    return "hôm" if nxt in {"nay", "qua", "truoc", "kia", "bua"} else None


def _kiu(ctx: Context) -> str | None:
    prev, nxt = ctx
    if prev in {"thank", "thanks", "tks", "thankiu", "thanh"}:
        return None
    if nxt in {"voi", "em", "toi", "tui", "minh", "con", "vs", "me", "be", "nguoi"} or (prev == nxt == ""):
        return "cứu"
    return "kêu"


def _cam(ctx: Context) -> str | None:
    _, nxt = ctx
    return "cảm" if nxt == "on" else None


# Applied to the token as typed (lower-case NFC), diacritics included.
_EXACT: dict[str, _Rule] = {
    "đc": "được",
    "đk": _dk,
    "sđt": "số điện thoại",
    "đt": "điện thoại",
    "kô": "không",
    "hôk": "không",
    "bít": "biết",
    "pít": "biết",
    "nhìu": "nhiều",
    "cũg": "cũng",
    "kíu": "cứu",
    "rùi": "rồi",
    "ròi": "rồi",
    "cám": _cam,
    "đag": "đang",
    "đăg": "đăng",
    "ạk": "ạ",
    "àk": "à",
    "ừm": "ừ",
    "okê": "ok",
    "khôg": "không",
}
# Deliberately absent: "hông"/"hong" (southern "không", but also "side" and "hỏng" = damaged) and
# "hem" ("không", but also "hẻm" = alley): the classifier sees them as typed.

# Applied only to tokens typed without diacritics.
_PLAIN: dict[str, _Rule] = {
    "k": _k,
    "ko": "không",
    "kh": "không",
    "khg": "không",
    "kg": _kg,
    "hok": "không",
    "hk": _hk,
    "khum": "không",
    "hog": "không",
    "dc": "được",
    "dk": _dk,
    "sdt": "số điện thoại",
    "dt": "điện thoại",
    "ntn": "như thế nào",
    "j": "gì",
    "z": "vậy",
    "v": _v,
    "bn": _bn,
    "mk": "mình",
    "mik": "mình",
    "mjk": "mình",
    "mh": "mình",
    "ak": "à",
    "ah": "à",
    "vs": "với",
    "bik": "biết",
    "bjk": "biết",
    "bit": "biết",
    "tks": "cảm ơn",
    "thks": "cảm ơn",
    "thanks": "cảm ơn",
    "thank": "cảm ơn",
    "thanx": "cảm ơn",
    "thx": "cảm ơn",
    "camon": "cảm ơn",
    "r": "rồi",
    "ms": "mới",
    "ns": "nói",
    "lm": "làm",
    "trc": "trước",
    "bh": "bây giờ",
    "bjo": "bây giờ",
    "bg": "bây giờ",
    "bjh": "bây giờ",
    "hnay": "hôm nay",
    "hqua": "hôm qua",
    "ngta": "người ta",
    "ng": "người",
    "mn": "mọi người",
    "mng": "mọi người",
    "cx": "cũng",
    "lun": "luôn",
    "nhiu": "nhiêu",
    "iu": "yêu",
    "e": "em",
    "cj": "chị",
    "ad": "admin",
    "ae": "anh em",
    "oke": "ok",
    "okie": "ok",
    "oki": "ok",
    "okela": "ok",
    "okay": "ok",
    "uh": "ừ",
    "uhm": "ừ",
    "ukm": "ừ",
    "uk": "ừ",
    "cccd": "căn cước công dân",
    "cmnd": "chứng minh nhân dân",
    "cmt": "chứng minh thư",
    "gplx": "giấy phép lái xe",
    "dkx": "đăng ký xe",
    "shk": "sổ hộ khẩu",
    "xm": "xe máy",
    "oto": "ô tô",
    "kq": "kết quả",
    "ck": _ck,
    "vk": "vợ",
    "hs": _hs,
    "tt": _tt,
    "tv": _tv,
    "ca": _ca,
    "p": _p,
    "q": _q,
    "f": _p,
    "hum": _hum,
    "kiu": _kiu,
    "hix": "hic",
    "hjc": "hic",
    "huhu": "hic",
    "hichic": "hic",
    "dag": "đang",
    "dg": "đang",
    "sr": "xin lỗi",
    "sorry": "xin lỗi",
    "pls": "làm ơn",
    "plz": "làm ơn",
    "ib": "nhắn tin",
    "rep": "trả lời",
    "acc": "tài khoản",
    "fb": "facebook",
    "vnid": "vneid",
    "sos": "sos",
}

_TEENCODE_KEYS = frozenset(fold(k) for k in (*_EXACT, *_PLAIN))

# Old-style tone placement at the end of a word ("hoà", "khoẻ", "thuý") → the modern one ("hòa").
# Not after "q": in "quý" the "u" belongs to the onset and the mark is already on the nucleus.
_TONE_MARKS = "\u0300\u0301\u0309\u0303\u0323"
_TONE_MOVES = {
    unicodedata.normalize("NFC", first + second + mark): unicodedata.normalize("NFC", first + mark + second)
    for first, second in (("o", "a"), ("o", "e"), ("u", "y"))
    for mark in _TONE_MARKS
}
_TONE_MOVE_RE = re.compile("(?<!q)(" + "|".join(_TONE_MOVES) + r")$")

_TOKEN_RE = re.compile(r"[^\W_]+")
# Only the start of a message is analysed: chat messages are short, and this bounds the latency of
# the rare long one (about 3 ms at 1,000 characters).
_MAX_CHARS = 1000
# Per-token results are cached (syllables repeat across messages); the caches stop growing here.
_CACHE_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """One message after normalisation: tokens as typed (expanded), folded tokens, case codes."""

    tokens: tuple[str, ...]
    folded_tokens: tuple[str, ...]
    telex_tokens: tuple[str, ...]
    case_codes: tuple[str, ...]

    @property
    def text(self) -> str:
        """The normalised message, diacritics kept where the citizen typed them."""
        return " ".join(self.tokens)

    @property
    def folded(self) -> str:
        """The normalised message without diacritics."""
        return " ".join(self.folded_tokens)

    @property
    def telex(self) -> str:
        """The view `vi_regex` patterns match: plain tokens as typed, others in Telex spelling."""
        return " ".join(self.telex_tokens)


class Normalizer:
    """Normalises messages against a vocabulary of known (folded) words used for typo correction."""

    def __init__(self, vocabulary: Iterable[str] = ()) -> None:
        words: dict[str, int] = {}
        for word in LEXICON:
            words[fold(word)] = words.get(fold(word), 0) + 1
        self._known = frozenset(words) | _TEENCODE_KEYS
        # Texts (the training set) may be elongated themselves ("cứuuuu"): their words join the
        # vocabulary de-elongated against the built-in lexicon.
        for raw in vocabulary:
            for token in _TOKEN_RE.findall(unicodedata.normalize("NFC", raw).lower()):
                if not any(c.isdigit() for c in token):
                    word = fold(self._collapse(token))
                    words[word] = words.get(word, 0) + 1
        self._vocabulary: Mapping[str, int] = words
        self._known = frozenset(words) | _TEENCODE_KEYS
        # Symmetric-delete index for edit distance 1: every word and each of its one-letter deletions.
        deletes: dict[str, list[str]] = {}
        for word in sorted(words):
            if len(word) >= 4:
                for variant in {word, *(word[:i] + word[i + 1 :] for i in range(len(word)))}:
                    deletes.setdefault(variant, []).append(word)
        self._deletes = deletes
        self._compounds = {fold(p).replace(" ", ""): p for p in _COMPOUNDS}
        self._clean_cache: dict[str, str] = {}
        self._repair_cache: dict[str, str] = {}
        self._view_cache: dict[str, tuple[str, str]] = {}

    def is_known(self, folded_word: str) -> bool:
        """Whether a folded word is in the vocabulary (or is a teencode key)."""
        return folded_word in self._known

    def normalize(self, text: str) -> NormalizedText:
        """Normalise one message (see the module docstring)."""
        text = unicodedata.normalize("NFC", text[:_MAX_CHARS])
        tokens: list[str] = []
        codes: list[str] = []
        position = 0
        for match in CASE_CODE_RE.finditer(text):
            code = canonical_case_code(match)
            if code is None:
                continue
            tokens.extend(self._clean(text[position : match.start()]))
            tokens.append(code)
            codes.append(code)
            position = match.end()
        tokens.extend(self._clean(text[position:]))
        code_set = frozenset(codes)
        expanded = self._expand(tokens, code_set)
        final: list[str] = []
        for token in expanded:
            if token in code_set:
                final.append(token)
                continue
            final.extend(_cached(self._repair_cache, token, self._repair).split())
        views = [(t.lower(), t.lower()) if t in code_set else _cached(self._view_cache, t, _views) for t in final]
        return NormalizedText(
            tokens=tuple(final),
            folded_tokens=tuple(folded for folded, _ in views),
            telex_tokens=tuple(spelled for _, spelled in views),
            case_codes=tuple(dict.fromkeys(codes)),
        )

    # -- steps -----------------------------------------------------------------------------------

    def _clean(self, segment: str) -> list[str]:
        return [_cached(self._clean_cache, t, self._clean_token) for t in _TOKEN_RE.findall(segment.lower())]

    def _clean_token(self, token: str) -> str:
        token = _TONE_MOVE_RE.sub(lambda m: _TONE_MOVES[m.group(1)], token)
        if token in _EXACT or token in _PLAIN:
            return token
        return self._respell(self._collapse(token))

    def _collapse(self, token: str) -> str:
        """Collapse elongations ("alooo", "cứuuuu"), keeping a double letter when it makes a word."""
        runs = list(re.finditer(r"([^\W\d_])\1+", token))
        if not runs or fold(token) in self._known:
            return token
        options = []
        for m in runs[:4]:
            options.append((m.group(1), m.group(1) * 2))
        best: tuple[tuple[bool, bool, int], str] | None = None
        for choice in product(*options):
            pieces = []
            last = 0
            for m, replacement in zip(runs, choice, strict=False):
                pieces.append(token[last : m.start()])
                pieces.append(replacement)
                last = m.end()
            pieces.append(token[last:])
            candidate = "".join(pieces)
            folded = fold(candidate)
            score = (folded in self._known, is_syllable(folded), len(candidate))
            if best is None or score > best[0]:
                best = (score, candidate)
        if best is not None and (best[0][0] or best[0][1]):
            return best[1]
        # Nothing plausible: merge letters that differ only by diacritics ("ạaaa" → "ạ").
        merged = [token[0]]
        for char in token[1:]:
            if fold(char) != fold(merged[-1]) or char.isdigit():
                merged.append(char)
        return "".join(merged)

    def _respell(self, token: str) -> str:
        """Undo playful spellings ("fường", "wá", "zậy", "jờ", "kái", "đag") when that gives a word."""
        folded = fold(token)
        if folded in self._known or is_syllable(folded) or not token[0].isalpha():
            return token
        candidates = []
        if token.startswith("f"):
            candidates.append("ph" + token[1:])
        if token.startswith("w"):
            candidates += ["qu" + token[1:], "u" + token[1:]]
        if token.startswith("dz"):
            candidates += ["v" + token[2:], "d" + token[2:]]
        if token.startswith("z"):
            candidates += ["v" + token[1:], "d" + token[1:], "gi" + token[1:]]
        if token.startswith("j"):
            candidates.append("gi" + token[1:])
        if token.startswith("k") and len(token) > 1 and fold(token[1]) in "aou":
            candidates.append("c" + token[1:])
        if token.endswith("g") and not token.endswith("ng"):
            candidates.append(token[:-1] + "ng")
        for candidate in candidates:
            if is_syllable(fold(candidate)):
                return candidate
        return token

    def _expand(self, tokens: list[str], codes: frozenset[str]) -> list[str]:
        folded = [t.lower() if t in codes else fold(t) for t in tokens]
        out: list[str] = []
        for i, token in enumerate(tokens):
            if token in codes:
                out.append(token)
                continue
            ctx = (folded[i - 1] if i else "", folded[i + 1] if i + 1 < len(tokens) else "")
            rule: _Rule | None
            if token in _EXACT:
                rule = _EXACT[token]
            elif token == folded[i] and token in _PLAIN:
                rule = _PLAIN[token]
            else:
                rule = None
            replacement = rule(ctx) if callable(rule) else rule
            out.extend(replacement.split() if replacement else (token,))
        return out

    def _repair(self, token: str) -> str:
        """Split run-together words and fix one-letter typos in long unknown words."""
        folded = fold(token)
        if folded in self._known or token.isdigit() or any(c.isdigit() for c in token):
            return token
        compound = self._compounds.get(folded)
        if compound is not None and not is_syllable(folded):
            return compound
        if len(folded) < 5 or is_syllable(folded):
            return token
        return self._correct(folded) or token

    def _correct(self, folded: str) -> str | None:
        candidates: set[str] = set()
        for variant in {folded, *(folded[:i] + folded[i + 1 :] for i in range(len(folded)))}:
            candidates.update(self._deletes.get(variant, ()))
        best = None
        for word in sorted(candidates):
            if _damerau_at_most_one(folded, word):
                rank = (-self._vocabulary[word], word)
                if best is None or rank < best[0]:
                    best = (rank, word)
        return best[1] if best else None


def _views(token: str) -> tuple[str, str]:
    return fold(token), telex(token)


_T = TypeVar("_T")


def _cached(cache: dict[str, _T], key: str, compute: Callable[[str], _T]) -> _T:
    value = cache.get(key)
    if value is None:
        value = compute(key)
        if len(cache) < _CACHE_LIMIT:
            cache[key] = value
    return value


def _damerau_at_most_one(a: str, b: str) -> bool:
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = 0
    while i < min(la, lb) and a[i] == b[i]:
        i += 1
    if la == lb:
        if a[i + 1 :] == b[i + 1 :]:
            return True
        return i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
    if la > lb:
        return a[i + 1 :] == b[i:]
    return a[i:] == b[i + 1 :]
