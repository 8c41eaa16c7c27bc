"""Entities in a normalised message: ward, unit (OA key), case code and procedure sub-cases."""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.intent.nlu.normalize import NormalizedText, fold, vi_regex

__all__ = ["SUBCASES", "Entities", "extract"]


@dataclass(frozen=True)
class Entities:
    """What the message names besides its intent."""

    ward: str | None  # canonical name with diacritics, e.g. "Sơn Kỳ"
    unit: str | None  # OA key, e.g. "csgt"
    case_code: str | None  # canonical upper-case "TP-26-000123"
    subcases: frozenset[str]  # e.g. {"child", "lost", "damaged", "motorbike", "car", "renew", "delete"}


# -- wards ---------------------------------------------------------------------------------------

# The 11 old wards of Tân Phú plus the new ward "Tân Phú" (2025). Matched on the folded text, with
# "i"/"y" interchangeable ("Sơn Kì", "Tân Quí" are common spellings).
_WARDS = (
    "Tân Sơn Nhì",
    "Tây Thạnh",
    "Sơn Kỳ",
    "Tân Quý",
    "Tân Thành",
    "Phú Thọ Hòa",
    "Phú Thạnh",
    "Phú Trung",
    "Hòa Thạnh",
    "Hiệp Tân",
    "Tân Thới Hòa",
)
_NEW_WARD_TAN_PHU = "Tân Phú"


def _ward_pattern(folded_name: str) -> str:
    return r"\s*".join(re.sub("[iy]$", "[iy]", part) for part in folded_name.split())


def _build_ward_re() -> tuple[re.Pattern[str], dict[str, str]]:
    names = sorted(_WARDS, key=len, reverse=True)
    alternatives = "|".join(f"(?P<w{i}>{_ward_pattern(fold(n))})" for i, n in enumerate(names))
    # "Tân Phú" alone is the former district; only "phường Tân Phú" names the new ward.
    tan_phu = r"(?P<tanphu>(?<=phuong )tan\s*phu)"
    regex = re.compile(rf"(?<![\w-])(?:{alternatives}|{tan_phu})(?![\w-])")
    groups = {f"w{i}": n for i, n in enumerate(names)} | {"tanphu": _NEW_WARD_TAN_PHU}
    return regex, groups


_WARD_RE, _WARD_GROUPS = _build_ward_re()


def _ward(folded: str) -> str | None:
    match = _WARD_RE.search(folded)
    if match is None:
        return None
    return _WARD_GROUPS[next(name for name, value in match.groupdict().items() if value)]


# -- units ---------------------------------------------------------------------------------------

_UNITS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (key, vi_regex(pattern))
    for key, pattern in (
        ("hinhsu", r"cảnh sát hình sự|cs hình sự|cshs|hình sự"),
        ("kinhte", r"cảnh sát kinh tế|cs kinh tế|cskt|kinh tế|(?:cảnh sát|đội|phòng|cs|bên) ma túy"),
        ("csgt", r"csgt|cảnh sát giao thông|cs giao thông|giao thông"),
        (
            "pccc",
            r"pccc|cảnh sát pccc|phòng cháy chữa cháy|phòng cháy|chữa cháy|cứu hỏa|cnch|cứu nạn cứu hộ"
            r"|cứu hộ cứu nạn|pc07",
        ),
        ("qlhc", r"qlhc|csqlhc|cs qlhc|quản lý hành chính"),
        ("anninh", r"(?:đội|phòng|cảnh sát|cs|bên) an ninh|an ninh quận|anninh"),
        (
            "tanphu",
            r"công an quận|ca quận|quận tân phú|(?:lên|trên|về|ở|tại|đến|tới) quận(?! \w+ \w+ tân phú)"
            r"|quận(?= (?:ơi|ạ|nhé|nha))",
        ),
    )
)


def _unit(telex: str) -> str | None:
    best: tuple[int, str] | None = None
    for key, regex in _UNITS:
        match = regex.search(telex)
        if match is not None and (best is None or match.start() < best[0]):
            best = (match.start(), key)
    return best[1] if best else None


# -- sub-cases -----------------------------------------------------------------------------------

_AGE_RE = re.compile(r"(?:(duoi|chua du|chua toi|chua den|nho hon|be hon) )?(?<![\w-])(\d{1,2}) tuoi(?![\w-])")
_AGE_MONTHS_RE = re.compile(r"(?<![\w-])\d{1,2} thang tuoi(?![\w-])")

# Sub-cases that change a procedure's answer, plus the news-preference actions of `NewsPreference`.
_SUBCASE_PATTERNS: dict[str, str] = {
    "child": (
        r"trẻ em|trẻ nhỏ|trẻ con|con nhỏ|bé nhỏ|em bé|con nít|trẻ sơ sinh|sơ sinh|mới sinh|mới đẻ|vừa sinh"
        r"|vừa đẻ|mới chào đời|dưới 14|chưa đủ 14|chưa tới 14|chưa đến 14|dưới mười bốn|chưa đủ tuổi"
        r"|(?:cho|của|giùm|giúp) (?:con|bé|cháu)(?! (?:dấu|số|đường|hẻm|chó|mèo|dao|xe|người))"
        r"|con (?:tôi|tui|em|mình|trai|gái|út|cưng)|bé (?:nhà|tôi|em|mình)|thiếu nhi|nhập khẩu cho con"
        r"|khai sinh"
    ),
    "lost": (
        r"(?:bị |làm |đánh |lỡ )?mất(?! (?:bao|mấy|nhiêu|thời gian|phí|lệ phí|ngày|tuần|tháng|lâu|giờ"
        r"|công|bn|khoảng|chừng|tầm|tối thiểu|tối đa|tích|liên lạc|điện|ngủ|sóng|mạng|kết nối|tín hiệu"
        r"|tiền|lòng|việc|nhiều|hết bao))|thất lạc|đánh rơi|làm rơi|làm rớt|bị rớt|rớt mất|rơi mất"
        r"|không tìm thấy|không thấy đâu"
    ),
    "damaged": (
        r"=hỏng|bị hỏng|hỏng rồi|hư hỏng|=hư|bị hư|hư rồi|hư hại|rách|=gãy|bị gãy|=bể|bị bể|=vỡ|bị vỡ"
        r"|=mờ|bị mờ|mờ chữ|bong tróc|bị bong|trầy|trầy xước|=nhàu|bị nhàu|cong vênh|phai màu|bạc màu"
        r"|lỗi chip|hỏng chip|mất chip|bị ướt|ngấm nước|bị cháy|cháy mất"
    ),
    "motorbike": (
        r"xe máy|mô tô|moto|xe mô tô|xe gắn máy|xe số|xe tay ga|xe ga|xe máy điện|xe điện|xe đạp điện"
        r"|xe honda|xe wave|xe sh|xe vision|xe air blade|xe exciter|xe 2 bánh|xe hai bánh|phân khối lớn"
        r"|pkl|motor"
    ),
    "car": (
        r"ô tô|xe ô tô|xe hơi|xe con|xe tải|xe khách|xe bán tải|xe 4 bánh|xe bốn bánh|xe \d+ chỗ"
        r"|xe du lịch|xe buýt|xe container|car|xe vinfast|xe toyota|xe mazda|xe hyundai"
    ),
    "renew": r"gia hạn|hết hạn|sắp hết hạn|quá hạn|hết thời hạn|kéo dài thời hạn|kéo dài thêm|renew",
    "delete": (
        r"xóa(?! (?:tin|bài|đăng ký nhận|nhận tin))|cắt khẩu|cắt hộ khẩu|chuyển hộ khẩu đi"
        r"|rút hộ khẩu|dọn đi|chuyển đi nơi khác|không ở nữa|thôi ở|hủy tạm trú|hủy đăng ký tạm trú"
        r"|hủy thường trú"
    ),
    "subscribe": (
        r"đăng ký nhận|nhận tin|nhận bản tin|nhận thông báo|theo dõi tin|đăng ký theo dõi|subscribe"
        r"|muốn nhận|gửi tin cho (?:tôi|em|mình)|đăng ký tin"
    ),
    "unsubscribe": (
        r"hủy (?:đăng ký )?(?:nhận )?(?:tin|bản tin|thông báo)|hủy đăng ký nhận|hủy theo dõi|ngưng nhận"
        r"|ngừng nhận|dừng nhận|dừng gửi|ngừng gửi|thôi gửi|đừng gửi|không (?:muốn )?nhận (?:\w+ )?nữa"
        r"|unsubscribe|bỏ theo dõi|tắt thông báo|tắt tin|stop"
    ),
    "change_ward": (
        r"đổi phường|chuyển phường|đổi sang phường|chuyển sang phường|đổi khu vực|đổi địa bàn"
        r"|tin (?:của |ở )?phường khác|sang phường khác|đổi nơi nhận"
    ),
    "latest": (
        r"tin mới|tin tức mới|mới nhất|bản tin mới|tin hôm nay|có tin gì|thông báo mới|tin gì mới|tin nóng"
        r"|tin tức hôm nay|tin tuần này|tin gần đây|có gì mới"
    ),
}
_SUBCASES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, vi_regex(pattern)) for name, pattern in _SUBCASE_PATTERNS.items()
)
SUBCASES = frozenset(_SUBCASE_PATTERNS)


def _subcases(text: NormalizedText) -> frozenset[str]:
    view = text.telex
    found = {name for name, regex in _SUBCASES if regex.search(view)}
    if found & {"unsubscribe", "change_ward"}:
        found.discard("subscribe")  # "hủy nhận tin", "đổi phường nhận tin" also contain "nhận tin"
    # "dưới 14 tuổi" is younger than 14.
    ages = [int(m.group(2)) - (1 if m.group(1) else 0) for m in _AGE_RE.finditer(text.folded)]
    if ages:
        # An explicit age decides: "con tôi 16 tuổi" is not a child case, "bé 5 tuổi" is.
        found.discard("child")
        if min(ages) < 14:
            found.add("child")
    elif _AGE_MONTHS_RE.search(text.folded):
        found.add("child")
    return frozenset(found)


def extract(text: NormalizedText) -> Entities:
    """All entities of one normalised message."""
    return Entities(
        ward=_ward(text.folded),
        unit=_unit(text.telex),
        case_code=text.case_codes[0] if text.case_codes else None,
        subcases=_subcases(text),
    )
