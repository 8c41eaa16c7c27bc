"""Safety rules for emergencies: recall comes before precision.

A message describing danger happening now (fire, an attack, a robbery in progress, someone injured or
drowning, being followed or threatened now, a cry for help) must reach the emergency answer even when
the classifier disagrees. Reports of past events ("hôm qua bị trộm xe") must not.

Each rule is a Vietnamese pattern (`vi_regex`) with the contexts that disarm it: an explicit past
time, a hypothetical, an informational or procedural question, the wording of a formal report, or a
habit ("hay đánh nhau"). Any sign that the danger is ongoing ("đang", "bây giờ", "kìa", "gấp")
re-arms every rule. The same signs let `understand` veto a classifier "emergency" that no rule backs
when the message is plainly about the past or a question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Flag, auto

from services.intent.nlu.normalize import NormalizedText, vi_regex

__all__ = ["Assessment", "assess"]


class _Context(Flag):
    NONE = 0
    PAST = auto()
    HYPOTHETICAL = auto()
    INFO = auto()
    REPORT = auto()
    HABIT = auto()
    NUMBER = auto()  # asks for a phone number ("gọi cứu hỏa số mấy")


@dataclass(frozen=True, slots=True)
class Assessment:
    """What the safety rules make of a message."""

    force: bool  # a rule matched and was not disarmed: the intent must be "emergency"
    veto: bool  # no rule matched and the message is about the past or a question: not "emergency"
    rule: str | None  # the name of the matching rule, for logs and tests


# Collocations whose words would otherwise trigger a rule (fire-safety procedures, "tra cứu", ...).
# They are blanked out of the view before any rule runs.
_MASKS = vi_regex(
    r"nghiên cứu|tra cứu|cứu hộ cứu nạn|cứu nạn cứu hộ|cứu nạn|cứu trợ|cứu xét|cứu vãn|cứu cánh"
    r"|phòng cháy chữa cháy|phòng cháy|chống cháy|phòng chống cháy nổ|an toàn cháy nổ|nguy cơ cháy nổ"
    r"|(?:hệ thống|thiết bị|chuông|đầu|tủ|còi|trung tâm) báo cháy|báo cháy tự động|bình chữa cháy"
    r"|bình cứu hỏa|vòi chữa cháy|họng nước chữa cháy|hệ thống chữa cháy|phương án chữa cháy"
    r"|(?:cảnh sát|đội|lính|phòng|bên|trạm|trụ sở) (?:chữa cháy|cứu hỏa|pccc|cứu hộ)|pccc|liên lạc"
    r"|số (?:điện thoại |đt |máy |hotline |tổng đài )?(?:của )?(?:cấp cứu|cứu hỏa|cứu thương|cứu hộ"
    r"|báo cháy|công an|cảnh sát|trực ban|khẩn cấp)"
    r"|đánh (?:bạc|đề|bài|lô|cắp|rơi|mất|giá|thuế|máy|dấu|thức|răng|số|vần|tiếng|cầu|cờ|bóng|golf|đàn"
    r"|trống|lừa|liều|đổi|điện|nhau …? ghen)|điện thoại|giật mình|giật gân|bị giật tít"
)

_ONGOING = vi_regex(
    r"đang(?! (?:ký|kí|tin|bài|nhập|xuất|thông báo))|ngay bây giờ|bây giờ|bây h|lúc này|hiện giờ|giờ này"
    r"|ngay lúc này|ngay tại đây|ngay lập tức|kìa|gấp|khẩn cấp|nhanh lên|mau lên|tới liền|tới ngay"
    r"|đến ngay|đến gấp|cứu|sắp chết|còn đang|vẫn đang|vẫn còn ở|đang còn"
)
# "đang" inside a narrative of the past ("khi đang đi thì bị giật") is not a sign of an ongoing event.
_NARRATIVE = vi_regex(r"(?:khi|lúc|trong lúc|hồi|lúc mà|khi mà|trong khi) (?:\w+ ){0,2}đang")

_CONTEXTS: tuple[tuple[_Context, re.Pattern[str]], ...] = (
    (
        _Context.PAST,
        vi_regex(
            r"hôm qua|tối qua|đêm qua|sáng qua|chiều qua|trưa qua|khuya qua|hôm kia|hôm trước|bữa trước"
            r"|bữa qua|bữa hổm|hôm bữa|tuần trước|tuần rồi|tuần qua|tháng trước|tháng rồi|năm ngoái"
            r"|năm trước|năm rồi|mấy hôm trước|mấy ngày trước|mấy tuần trước|hồi trước|lúc trước"
            r"|trước đây|hồi sáng|hồi chiều|hồi tối|hồi trưa|sáng nay|trưa nay|chiều nay|lúc nãy|hồi nãy"
            r"|khi nãy|ban nãy|vừa rồi|đã xảy ra|đã bị|cách đây|hôm \d+|ngày \d+|đã lâu|lâu rồi"
        ),
    ),
    (
        _Context.HYPOTHETICAL,
        vi_regex(r"nếu|trường hợp|phòng khi|lỡ như|giả sử|khi có|khi bị|khi gặp|khi xảy ra|khi nào|lỡ bị"),
    ),
    (
        _Context.INFO,
        vi_regex(
            r"thủ tục|quy định|mức phạt|xử phạt|bị phạt|phạt bao nhiêu|thẩm định|nghiệm thu|giấy phép"
            r"|hướng dẫn|kỹ năng|tuyên truyền|tập huấn|diễn tập|kiến thức|cảnh báo|bản tin|tin tức"
            r"|làm lại|cấp lại|cấp đổi|bảo hiểm|bồi thường|giám định|trích lục|hồ sơ|giấy tờ|phòng tránh"
            r"|phòng chống|phòng ngừa|để phòng|cách phòng|an toàn|căn cước|cccd|tạm trú|thường trú|cà vẹt"
            r"|đăng ký|tình trạng|kết quả|mã số|tiến độ"
        ),
    ),
    (
        _Context.REPORT,
        vi_regex(
            r"tố giác|trình báo|báo án|làm đơn|viết đơn|nộp đơn|gửi đơn|tố cáo|lập biên bản|báo cáo"
            r"|phản ánh|đòi lại|lấy lại|truy tìm|điều tra|khởi tố|camera ghi|trích xuất"
        ),
    ),
    (
        _Context.HABIT,
        vi_regex(
            r"hay(?! (?:là|không|chưa|sao))|thường(?! trú)|thường xuyên|nhiều lần|suốt|mỗi đêm|mỗi tối|mỗi ngày|đêm nào|tối nào|ngày nào"
            r"|hoài|dạo này|gần đây|mấy bữa nay|mấy hôm nay|lâu nay|tình trạng"
        ),
    ),
    (
        _Context.NUMBER,
        vi_regex(r"số mấy|số nào|số bao nhiêu|số gì|là số|đầu số|số điện thoại|sđt|hotline|tổng đài"),
    ),
)

_P, _H, _I, _R, _B, _N = (
    _Context.PAST, _Context.HYPOTHETICAL, _Context.INFO, _Context.REPORT, _Context.HABIT, _Context.NUMBER,
)

# Places that burn. Not "xe", "máy" or "hẻm": typed without diacritics, "xe chay" is mostly "xe chạy".
_PLACES = (
    r"nhà|chợ|kho|xưởng|quán|phòng|căn hộ|chung cư|tiệm|cửa hàng|tầng|nhà kho|nhà xưởng|ki ốt|kiốt"
    r"|dãy trọ|nhà trọ|phòng trọ|tòa nhà|công ty|bình gas|bình ga|ổ điện|dây điện|đường dây|trụ điện"
    r"|cột điện|bếp|rừng|bãi|khu|xóm|cây xăng|trường|bệnh viện|siêu thị|karaoke|quán karaoke"
    r"|nhà hàng|khách sạn|nhà nghỉ|văn phòng|lò|tủ điện"
)

# (name, disarmed by, pattern). Order does not matter: the first armed match wins.
_RULES: tuple[tuple[str, _Context, re.Pattern[str]], ...] = tuple(
    (name, disarm, vi_regex(pattern))
    for name, disarm, pattern in (
        # A cry for help, or a message that is nothing but an alarm word.
        (
            "cry_for_help",
            _H,
            r"cứu(?! (?:hỏa|hộ|nạn|trợ|xét|vãn|cánh|thương|sống|được))|kêu cứu|help me|save me|sos|cứu mạng",
        ),
        (
            "alarm_word",
            _Context.NONE,
            r"^(?:(?:ơi|ôi|trời ơi|alo|công an|công an ơi|có) )*(?:(?:cháy|cướp|trộm|113|114|115|báo động"
            r"|nguy hiểm|cấp cứu|cứu hỏa|có cháy|có cướp|có trộm|cháy nhà) ?)+(?: ơi| kìa| rồi| với)*$",
        ),
        (
            "emergency_line_unreachable",
            _Context.NONE,
            r"(?:gọi|gọi cho|gọi số|gọi tới|gọi đến) 11[345] (?:\w+ ){0,3}(?:không được|không ai|không liên lạc"
            r"|không bắt máy|máy bận|không nghe|không ai nghe|không thông)",
        ),
        (
            "call_rescue",
            _P | _H | _I | _N,
            r"(?:gọi|kêu|báo|cho) (?:xe |giùm |giúp |dùm |ngay |gấp )?(?:cứu hỏa|chữa cháy|cứu thương|cấp cứu"
            r"|cứu hộ)|cần (?:xe )?(?:cứu hỏa|chữa cháy|cứu hộ|cấp cứu|cứu thương)|xe cấp cứu|cấp cứu gấp"
            r"|đi cấp cứu|đưa đi cấp cứu|cấp cứu ngay|cứu hộ gấp|cứu hộ ngay|cứu hỏa (?:ơi|tới|đến|gấp|ngay)",
        ),
        # Fire, smoke, gas, explosions.
        ("fire_exact", _P | _H | _I, r"=cháy|=bốc cháy|=hỏa hoạn"),
        ("fire_weak", _P | _H | _I, r"bị cháy|đang cháy|cháy (?:rồi|ở|tại|gần)"),
        (
            "fire",
            _P | _H,
            rf"cháy (?:{_PLACES})|(?:{_PLACES}) (?:đang |bị |bốc |phát |lại )?cháy|xe (?:bị|bốc|phát) cháy"
            r"|bốc cháy|phát cháy|bắt cháy|đám cháy|vụ cháy|hỏa hoạn|có cháy|cháy cháy|chập điện|chập cháy"
            r"|cháy (?:to|lớn|kìa|lan|lan rộng|dữ dội)"
            r"|nổ (?:bình|gas|ga|lớn|to|tung)|phát nổ|tiếng nổ|nổ liên tục|rò rỉ (?:gas|ga|khí)|rò (?:gas|ga)"
            r"|xì (?:gas|ga)|mùi gas|mùi ga|khói (?:đen|mù|bốc|um|nghi ngút|dày|cuồn cuộn|đầy|trắng|lên|nhiều"
            r"|bay ra|tỏa|mịt mù)|bốc khói|ra khói|lửa (?:cháy|bốc|lớn|to|ngùn ngụt|bùng|lan|bén|đang)"
            r"|ngọn lửa|bén lửa|bắt lửa|biển lửa|ngạt khói|kẹt trong đám cháy",
        ),
        # Violence and weapons.
        (
            "violence",
            _P | _H | _R | _B | _I,
            r"(?:bị|đang bị|sắp bị) (?:\w+ ){0,3}(?:đâm|chém|bắn|đánh|hành hung|đập|đạp|tấn công|bóp cổ"
            r"|siết cổ|rượt|đuổi đánh|đuổi chém|tạt axit|tạt xăng|khống chế|trói|nhốt|bắt cóc|bắt đi"
            r"|hiếp|cưỡng hiếp|xâm hại|sàm sỡ)"
            r"|=đâm người|đâm (?:chết|nhau|tôi|em|anh|chị|bạn|nó|vào người)|chém (?:người|nhau|chết|tôi|em"
            r"|loạn)|(?:cầm|vác|mang|rút|cầm theo|có|kề|dí) (?:\w+ )?(?:dao|mã tấu|kiếm|súng|hung khí|rựa"
            r"|búa|gậy|tuýp|ống tuýp|axit)|nổ súng|tiếng súng|bắn (?:súng|chết|người|nhau|loạn)"
            r"|tạt (?:axit|xăng)|(?:dọa|đòi|hăm) (?:\w+ )?(?:giết|chém|đâm|đốt|bắn|xử)|giết (?:người|tôi|em"
            r"|chết|nó)|đánh (?:tôi|em|người|chết|hội đồng|vợ|con|mẹ|bà|ông|ba|bố|loạn|nó|chị|anh)"
            r"|đánh nhau|hỗn chiến|ẩu đả|đâm chém|hành hung|bạo hành|bắt cóc|khống chế|đập phá|rượt đuổi"
            r"|đuổi đánh|đuổi chém|bóp cổ|đòi mạng",
        ),
        # Injury, medical danger, drowning, accidents, collapse, entrapment, suicide.
        (
            "injury",
            _P | _H | _I,
            r"bị thương|chảy máu|chảy nhiều máu|mất máu|máu chảy|đổ máu|ra máu|bê bết máu|bất tỉnh|=ngất"
            r"|ngất xỉu|bị ngất|ngất đi|=xỉu|bị xỉu|bất động|hôn mê|co giật|khó thở|không thở|ngừng thở"
            r"|tắt thở|sùi bọt mép|đột quỵ|lên cơn|ngộ độc|uống thuốc sâu|tự tử|tự sát|nhảy cầu|nhảy lầu"
            r"|nhảy sông|đòi chết|muốn chết|đuối nước|chết đuối|bị đuối|(?:rớt|rơi|té|ngã|lọt|nhảy) xuống"
            r" (?:sông|hồ|kênh|nước|giếng|ao|cống|hố|mương)|điện giật|giật điện|bị điện giật|sập (?:nhà"
            r"|tường|giàn giáo|cầu|trần|mái|công trình)|đổ sập|mắc kẹt|bị kẹt|kẹt trong|kẹt thang máy"
            r"|cây đổ (?:đè|trúng)|đè (?:lên )?người|tai nạn|đụng xe|tông xe|bị tông|xe tông|va chạm|lật xe"
            r"|xe lật|té xe|ngã xe|nằm (?:bất động|giữa đường|trên đường|dưới đất)|có người chết|chết người"
            r"|xác chết|thi thể|ngạt khí|ngạt thở|gặp nguy hiểm|nguy hiểm quá|nguy kịch|sắp chết",
        ),
        (
            "missing_person",
            _H | _I | _R,
            r"lạc (?:con|bé|cháu)|(?:con|bé|cháu) (?:\w+ ){0,2}(?:bị |đi )?lạc|đi lạc|mất tích"
            r"|không thấy (?:con|bé|cháu)|bị dụ dỗ",
        ),
        # Robbery, burglary, stalking, threats: only when the danger is present.
        (
            "intruder",
            _P | _H | _R | _B | _I,
            r"(?:có|thấy|đang có) (?:\w+ )?(?:trộm|cướp|kẻ gian|kẻ trộm|thằng trộm|tên trộm|người lạ|kẻ lạ"
            r"|thằng lạ) (?:\w+ ){0,3}(?:trong|vào|ở trong|leo|trèo|cạy|phá|đột nhập|lục|bẻ|đập cửa|rình"
            r"|lảng vảng|theo|bám)"
            r"|(?:trộm|cướp|kẻ gian|người lạ|kẻ lạ) (?:đang )?(?:vào|trong|leo|trèo|cạy|phá|đột nhập) "
            r"(?:nhà|cửa|tường|cổng|rào|ban công|phòng|sân)|bắt được (?:\w+ )?(?:trộm|cướp|kẻ gian|kẻ trộm"
            r"|thằng trộm|tên trộm)|cướp (?:kìa|rồi|ngay)|có cướp|vừa (?:mới )?bị (?:cướp|đâm|chém|đánh)"
            r"|đột nhập (?:vào )?(?:nhà|phòng)|cạy cửa|phá khóa|cạy khóa",
        ),
        (
            "ongoing_threat",
            _Context.NONE,
            r"đang bị (?:\w+ ){0,3}(?:cướp|giật|theo dõi|bám theo|đi theo|rình|đe dọa|dọa|quấy rối|khủng bố"
            r"|đòi nợ|siết nợ|vây|chặn|truy đuổi|rượt|đuổi|uy hiếp|khống chế)"
            r"|đang (?:có )?(?:\w+ ){0,2}(?:cướp|trộm|đột nhập|cạy|phá cửa|phá khóa|đập cửa|xông vào|rượt"
            r"|lảng vảng|rình|uy hiếp)"
            r"|(?:người|kẻ|thằng|tên|ai đó|tụi|bọn|nhóm|xe) (?:\w+ ){0,2}đang (?:\w+ ){0,2}(?:theo|bám|rình"
            r"|lảng vảng|đập|đòi|dọa|cầm|chặn)"
            r"|(?:trộm|cướp|kẻ gian|ăn cướp|ăn trộm|hung thủ|đối tượng|kẻ trộm) (?:\w+ ){0,2}(?:đang|vẫn còn)",
        ),
    )
)


def _contexts(view: str) -> _Context:
    found = _Context.NONE
    for context, regex in _CONTEXTS:
        if regex.search(view):
            found |= context
    return found


def _drop_narrative(match: re.Match[str]) -> str:
    # Keep the words, drop the "đang": "khi tôi đang đi" → "khi tôi _ đi".
    words = match.group(0).split(" ")
    return " ".join(words[:-1] + ["_"])


def assess(text: NormalizedText) -> Assessment:
    """Apply the safety rules to one normalised message."""
    view = _NARRATIVE.sub(_drop_narrative, _MASKS.sub("_", text.telex))
    if not view.strip():
        return Assessment(force=False, veto=False, rule=None)
    ongoing = _ONGOING.search(view) is not None
    contexts = _contexts(view)
    for name, disarm, regex in _RULES:
        if regex.search(view) and (ongoing or not (contexts & disarm)):
            return Assessment(force=True, veto=False, rule=name)
    veto = not ongoing and bool(contexts & (_P | _H | _I | _R | _N))
    return Assessment(force=False, veto=veto, rule=None)
