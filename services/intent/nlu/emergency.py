"""Safety rules for emergencies: recall comes before precision.

A message describing danger happening now (fire, an attack, a robbery in progress, someone injured or
drowning, being followed or threatened now, a cry for help) must reach the emergency answer even when
the classifier disagrees. Reports of past events ("hôm qua bị trộm xe") must not.

Rules are Vietnamese patterns (`vi_regex`) over the Telex view, so "cháy" (fire) typed with marks is
never confused with "chạy" (run), while the same word typed without marks still matches. Benign
collocations ("phòng cháy chữa cháy", "tra cứu", "đánh bạc") are masked first. Each rule lists the
contexts that disarm it: an explicit past time, a hypothetical, an informational or procedural
question, the wording of a formal report, a habit ("hay đánh nhau"), a question for a phone number.
Any sign that the danger is ongoing ("đang", "bây giờ", "kìa", "gấp", "sợ quá") re-arms a rule,
except that threats made by phone or online stay crime reports. The same contexts let `understand`
veto a classifier "emergency" that no rule backs when the message is plainly about the past or a
question.
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
    REMOTE = auto()  # a threat by phone or online: a crime report even when it is still going on


@dataclass(frozen=True, slots=True)
class Assessment:
    """What the safety rules make of a message."""

    force: bool  # a rule matched and was not disarmed: the intent must be "emergency"
    veto: bool  # no rule matched and the message is about the past or a question: not "emergency"
    rule: str | None  # the name of the matching rule, for logs and tests


# Collocations whose words would otherwise trigger a rule (fire-safety procedures, "tra cứu", ...).
# They are blanked out of the view before any rule runs.
_MASKS = vi_regex(
    # cứu / cháy in names, procedures and prevention
    r"nghiên cứu|tra cứu|sơ cứu|cứu hộ cứu nạn|cứu nạn cứu hộ|cứu nạn|cứu trợ|cứu xét|cứu vãn|cứu cánh"
    r"|phòng cháy chữa cháy|phòng cháy|chống cháy|chữa cháy|cứu hỏa|cấp cứu|cứu thương|pccc"
    r"|(?:hệ thống|thiết bị|chuông|đầu|tủ|còi|trung tâm) báo cháy|báo cháy tự động|bình chữa cháy"
    r"|bình cứu hỏa|vòi chữa cháy|họng nước chữa cháy|hệ thống chữa cháy|phương án chữa cháy"
    r"|(?:cảnh sát|đội|lính|phòng|bên|trạm|trụ sở) (?:chữa cháy|cứu hỏa|pccc|cứu hộ)"
    r"|phòng chống cháy nổ|an toàn cháy nổ|nguy cơ cháy nổ|gây cháy nổ|phòng cháy nổ|chống cháy nổ"
    r"|cháy nổ mùa khô|về cháy nổ|nguy hiểm cháy nổ|nguy cơ cháy|nguy cơ hỏa hoạn|phòng tránh cháy"
    r"|số (?:điện thoại |đt |máy |hotline |tổng đài )?(?:của )?(?:cấp cứu|cứu hỏa|cứu thương|cứu hộ"
    r"|báo cháy|công an|cảnh sát|trực ban|khẩn cấp)"
    # real words that contain "danh" (so that plain "danh" can stand for "đánh"), "lạc", "đạp", "cầm"
    r"|mạo danh|giả danh|định danh|danh sách|danh tính|danh dự|danh nghĩa|điểm danh|nặc danh|ẩn danh"
    r"|=bí danh|biệt danh|danh bạ|danh thiếp|danh hiệu|danh mục|công danh|chức danh|=dành|liên lạc"
    r"|xe đạp|đạp xe|bàn đạp|cầm đồ|cầm cố|tiệm cầm"
    # đánh / giật that are not violence
    r"|đánh (?:bạc|đề|bài|lô|cắp|rơi|mất|giá|thuế|máy|dấu|thức|răng|số|vần|tiếng|cầu|cờ|bóng|golf|đàn"
    r"|trống|lừa|liều|đổi|điện)|điện thoại|giật mình|giật gân|bị giật tít"
)

_ONGOING = vi_regex(
    r"đang(?! (?:ký|kí|tin|bài|nhập|xuất|thông báo))|ngay bây giờ|bây giờ|bây h|lúc này|hiện giờ|giờ này"
    r"|ngay lúc này|ngay tại đây|ngay lập tức|gấp|khẩn cấp|nhanh lên|mau lên|tới liền|tới ngay"
    r"|(?<!hom )(?<!hoom )(?<!bua )(?<!buwxa )kìa"  # "kìa" (look!), not "hôm kia" (two days ago)
    r"|đến ngay|đến gấp|cứu|sắp chết|còn đang|vẫn đang|vẫn còn ở|đang còn|sợ quá|tôi sợ|em sợ|hoảng quá"
    r"|chạy (?:về )?(?:hướng|phía)"
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
            r"|khi nãy|ban nãy|vừa rồi|đã xảy ra|đã bị|cách đây|hôm \d+|ngày \d+|đã lâu|lâu rồi|hôm thứ|bữa thứ"
            r"|hôm chủ nhật|bữa chủ nhật|tuần vừa rồi|tháng vừa rồi|đi vắng|vắng nhà|về nhà thì|về thì"
            r"|phát hiện|lấy mất|bị mất|mất hết|đã lấy|lấy đi|bỏ trốn|đã trốn|tẩu thoát"
        ),
    ),
    (
        _Context.HYPOTHETICAL,
        vi_regex(
            r"nếu|trường hợp|phòng khi|lỡ như|giả sử|khi có|khi bị|khi gặp|khi xảy ra|khi nào|lỡ bị|lỡ có"
            r"|phải làm gì khi|làm gì khi|làm sao để|cách xử lý|cách thoát|sơ cứu"
        ),
    ),
    (
        _Context.INFO,
        vi_regex(
            r"thủ tục|quy định|mức phạt|xử phạt|bị phạt|phạt bao nhiêu|thẩm định|nghiệm thu|giấy phép"
            r"|hướng dẫn|kỹ năng|tuyên truyền|tập huấn|diễn tập|kiến thức|cảnh báo|bản tin|tin tức"
            r"|làm lại|cấp lại|cấp đổi|bảo hiểm|bồi thường|giám định|trích lục|hồ sơ|giấy tờ|phòng tránh"
            r"|phòng chống|phòng ngừa|để phòng|cách phòng|an toàn|căn cước|cccd|tạm trú|thường trú|cà vẹt"
            r"|đăng ký|tình trạng|kết quả|mã số|tiến độ|tình hình|thống kê"
        ),
    ),
    (
        _Context.REPORT,
        vi_regex(
            r"tố giác|trình báo|báo án|làm đơn|viết đơn|nộp đơn|gửi đơn|tố cáo|lập biên bản|báo cáo"
            r"|phản ánh|đòi lại|lấy lại|truy tìm|điều tra|khởi tố|camera ghi|trích xuất|lừa đảo|bị lừa"
            r"|mạo danh|giả danh|chiếm đoạt|chuyển tiền|chuyển khoản"
        ),
    ),
    (
        _Context.HABIT,
        vi_regex(
            r"hay(?! (?:là|không|chưa|sao))|thường(?! trú)|thường xuyên|nhiều lần|suốt|mỗi đêm|mỗi tối"
            r"|mỗi ngày|đêm nào|tối nào|ngày nào"
            r"|hoài|dạo này|gần đây|mấy bữa nay|mấy hôm nay|lâu nay|tình trạng"
        ),
    ),
    (
        _Context.REMOTE,
        vi_regex(
            r"(?:dọa|đe dọa|khủng bố|chửi|nhắn|gọi|uy hiếp|tống tiền) (?:\w+ ){0,3}qua (?:điện thoại|tin nhắn"
            r"|mạng|facebook|zalo|messenger|tiktok|email)|tin nhắn (?:đe dọa|dọa|khủng bố)|nhắn tin (?:\w+ )?"
            r"(?:đe dọa|dọa|khủng bố|chửi)|gọi điện (?:\w+ )?(?:đe dọa|dọa|khủng bố|chửi)|trên mạng"
        ),
    ),
    (
        _Context.NUMBER,
        vi_regex(r"số mấy|số nào|số bao nhiêu|số gì|là số|đầu số|số điện thoại|hotline|tổng đài"),
    ),
)

_P, _H, _I, _R, _B, _N, _REMOTE = (
    _Context.PAST,
    _Context.HYPOTHETICAL,
    _Context.INFO,
    _Context.REPORT,
    _Context.HABIT,
    _Context.NUMBER,
    _Context.REMOTE,
)

# Places that burn. Not "xe", "máy" or "hẻm": typed without diacritics, "xe chay" is mostly "xe chạy".
_PLACES = (
    r"nhà|chợ|kho|xưởng|quán|phòng|căn hộ|chung cư|tiệm|cửa hàng|tầng|nhà kho|nhà xưởng|ki ốt|kiốt"
    r"|dãy trọ|nhà trọ|phòng trọ|tòa nhà|công ty|bình gas|bình ga|ổ điện|dây điện|đường dây|trụ điện"
    r"|cột điện|bếp|rừng|bãi|khu|xóm|cây xăng|trường|bệnh viện|siêu thị|karaoke|quán karaoke"
    r"|nhà hàng|khách sạn|nhà nghỉ|văn phòng|lò|tủ điện"
)


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    pattern: re.Pattern[str]
    disarm: _Context = _Context.NONE  # contexts that disarm it unless the danger is ongoing
    hard_disarm: _Context = _Context.NONE  # contexts that disarm it even then
    raw: bool = False  # match the view before masking (for words the masks remove, like "cấp cứu")
    needs_ongoing: bool = False  # only fires with a sign that the danger is going on now


def _rule(
    name: str,
    pattern: str,
    *,
    disarm: _Context = _Context.NONE,
    hard_disarm: _Context = _Context.NONE,
    raw: bool = False,
    needs_ongoing: bool = False,
) -> _Rule:
    return _Rule(name, vi_regex(pattern), disarm, hard_disarm, raw, needs_ongoing)


_RULES: tuple[_Rule, ...] = (
    # A cry for help, or a message that is nothing but an alarm.
    _rule(
        "cry_for_help",
        r"cứu(?! (?:hỏa|hộ|nạn|trợ|xét|vãn|cánh|thương|sống|được))|kêu cứu|cứu mạng",
        disarm=_H,
    ),
    _rule(
        "alarm_word",
        r"^(?:(?:ơi|ôi|trời ơi|alo|công an|công an ơi|có|ai đó|làm ơn) )*(?:(?:cháy|cướp|trộm|113|114|115"
        r"|báo động|nguy hiểm|cấp cứu|cứu hỏa|có cháy|có cướp|có trộm|cháy nhà|help me|save me|sos)"
        r" ?)+(?: ơi| kìa| rồi| với| gấp| đi)*$",
        raw=True,
    ),
    _rule("sos", r"sos", raw=True),
    _rule(
        "emergency_line_unreachable",
        r"(?:gọi|gọi cho|gọi số|gọi tới|gọi đến) 11[345] (?:\w+ ){0,3}(?:không được|không ai|không liên lạc"
        r"|không bắt máy|máy bận|không nghe|không ai nghe|không thông)",
        raw=True,
    ),
    _rule(
        "call_rescue",
        r"(?:gọi|kêu|báo|cho) (?:xe |giùm |giúp |dùm |ngay |gấp )?(?:cứu hỏa|chữa cháy|cứu thương|cấp cứu"
        r"|cứu hộ)|cần (?:xe )?(?:cứu hỏa|chữa cháy|cứu hộ|cấp cứu|cứu thương)|xe cấp cứu|cấp cứu gấp"
        r"|đi cấp cứu|đưa đi cấp cứu|cấp cứu ngay|cứu hộ gấp|cứu hộ ngay|cứu hỏa (?:ơi|tới|đến|gấp|ngay)"
        r"|xe cứu thương",
        disarm=_P | _H | _I | _N,
        raw=True,
    ),
    # Fire, smoke, gas, explosions.
    _rule("fire_exact", r"=cháy|=bốc cháy|=hỏa hoạn", disarm=_P | _H | _I),
    _rule("fire_weak", r"bị cháy|đang cháy|cháy (?:rồi|ở|tại|gần)", disarm=_P | _H | _I),
    _rule(
        "fire",
        rf"cháy (?:{_PLACES})|(?:{_PLACES}) (?:đang |bị |bốc |phát |lại )?cháy|xe (?:bị|bốc|phát) cháy"
        r"|bốc cháy|phát cháy|bắt cháy|đám cháy|vụ cháy|hỏa hoạn|có cháy|cháy cháy|chập điện|chập cháy"
        r"|cháy (?:to|lớn|kìa|lan|lan rộng|dữ dội)"
        r"|nổ (?:bình|gas|ga|lớn|to|tung)|phát nổ|tiếng nổ|nổ liên tục|sắp nổ|rò rỉ (?:gas|ga|khí)"
        r"|rò (?:gas|ga)|xì (?:gas|ga)|(?:gas|ga) (?:\w+ ){0,3}(?:xì|rò|rò rỉ)|mùi gas|mùi ga"
        r"|khói (?:đen|mù|bốc|um|nghi ngút|dày|cuồn cuộn|đầy|trắng|lên|nhiều|bay ra|tỏa|mịt mù)|bốc khói"
        r"|ra khói|lửa (?:cháy|bốc|lớn|to|ngùn ngụt|bùng|lan|bén|đang)|ngọn lửa|bén lửa|bắt lửa|biển lửa"
        r"|ngạt khói|kẹt trong đám cháy|báo cháy",
        disarm=_P | _H,
    ),
    # Violence and weapons.
    _rule(
        "violence",
        r"(?:bị|đang bị|sắp bị) (?:\w+ ){0,3}(?:đâm|chém|bắn|đánh|hành hung|đập|đạp|tấn công|bóp cổ"
        r"|siết cổ|rượt|đuổi đánh|đuổi chém|tạt axit|tạt xăng|khống chế|trói|nhốt|bắt cóc|bắt đi"
        r"|hiếp|cưỡng hiếp|xâm hại|sàm sỡ|vây đánh)"
        r"|=đâm người|đâm (?:chết|nhau|tôi|em|anh|chị|bạn|nó|vào người)|chém (?:người|nhau|chết|tôi|em"
        r"|loạn)|(?:cầm|vác|mang|rút|cầm theo|có|kề|dí) (?:\w+ )?(?:dao|mã tấu|kiếm|súng|hung khí|rựa"
        r"|búa|gậy|tuýp|ống tuýp|axit|dao kéo)|nổ súng|tiếng súng|bắn (?:súng|chết|người|nhau|loạn)"
        r"|tạt (?:axit|xăng)|(?:dọa|đòi|hăm) (?:\w+ )?(?:giết|chém|đâm|đốt|bắn|xử|đánh)|giết (?:người|tôi"
        r"|em|chết|nó)|đánh (?:tôi|em|người|chết|hội đồng|vợ|con|mẹ|bà|ông|ba|bố|loạn|nó|chị|anh)"
        r"|đánh nhau|hỗn chiến|ẩu đả|đâm chém|hành hung|bạo hành|bắt cóc|khống chế|đập phá|rượt đuổi"
        r"|đuổi đánh|đuổi chém|bóp cổ|đòi mạng|vây đánh",
        disarm=_P | _H | _R | _B | _I,
        hard_disarm=_REMOTE,
    ),
    # Injury, medical danger, drowning, accidents, collapse, entrapment, suicide.
    _rule(
        "injury",
        r"bị thương|chảy máu|chảy nhiều máu|mất máu|máu chảy|đổ máu|ra máu|bê bết máu|bất tỉnh|=ngất"
        r"|ngất xỉu|bị ngất|ngất đi|=xỉu|bị xỉu|bất động|hôn mê|co giật|khó thở|không thở|ngừng thở"
        r"|tắt thở|sùi bọt mép|đột quỵ|lên cơn|ngộ độc|uống thuốc sâu|tự tử|tự sát|treo cổ|thắt cổ"
        r"|nhảy cầu|nhảy lầu|nhảy sông|đòi chết|muốn chết|đuối nước|chết đuối|bị đuối|(?:rớt|rơi|té|ngã"
        r"|lọt|nhảy) xuống (?:sông|hồ|kênh|nước|giếng|ao|cống|hố|mương)|(?:rớt|rơi|té|ngã) từ (?:\w+ )?"
        r"(?:tầng|lầu|giàn giáo|mái|cao|cây|cầu thang|ban công)|té ngã|ngã gục|gục xuống|điện giật"
        r"|giật điện|bị điện giật|sập (?:nhà|tường|giàn giáo|cầu|trần|mái|công trình)|đổ sập|mắc kẹt"
        r"|bị kẹt|kẹt trong|kẹt thang máy|cây đổ (?:đè|trúng)|đè (?:lên )?người|tai nạn|đụng xe|tông xe"
        r"|bị tông|xe tông|va chạm|lật xe|xe lật|té xe|ngã xe|nằm bất động"
        r"|nằm (?:bất tỉnh|giữa đường|trên đường|dưới đất|ven đường)(?! nào)|có người chết|chết người"
        r"|xác chết|thi thể|ngạt khí|ngạt thở|gặp nguy hiểm|nguy kịch|sắp chết",
        disarm=_P | _H | _I,
    ),
    _rule(
        "missing_person",
        r"lạc (?:con|bé|cháu)|(?:con|bé|cháu) (?:\w+ ){0,2}(?:bị |đi )?lạc|đi lạc|mất tích"
        r"|không thấy (?:con|bé|cháu)|bị dụ dỗ",
        disarm=_H | _I | _R,
    ),
    # Robbery, burglary, intruders: when the event is framed as present.
    _rule(
        "intruder",
        r"(?:có|thấy|đang có) (?:\w+ )?(?:trộm|cướp|kẻ gian|kẻ trộm|thằng trộm|tên trộm|người lạ|kẻ lạ"
        r"|thằng lạ) (?:\w+ ){0,3}(?:trong|vào|ở trong|leo|trèo|cạy|phá|đột nhập|lục|bẻ|đập cửa|rình"
        r"|lảng vảng|theo|bám)"
        r"|(?:có|thấy) (?:người|ai|ai đó|kẻ|thằng|bọn|tụi|nhóm|mấy thằng) (?:\w+ ){0,2}(?:phá cửa|phá khóa"
        r"|cạy cửa|cạy khóa|đập cửa|leo rào|trèo rào|leo tường|trèo tường|đột nhập|xông vào|mở cửa"
        r"|đe dọa|hăm dọa|cầm|rình)|(?:ai đó|người lạ|kẻ lạ|kẻ gian|trộm) (?:đang )?(?:ở )?trong nhà"
        r"|(?:trộm|cướp|kẻ gian|người lạ|kẻ lạ) (?:đang |còn |vẫn còn |vẫn )?(?:ở )?(?:vào|trong|leo|trèo"
        r"|cạy|phá|đột nhập) (?:nhà|cửa|tường|cổng|rào|ban công|phòng|sân)|bắt được (?:\w+ )?(?:trộm|cướp"
        r"|kẻ gian|kẻ trộm|thằng trộm|tên trộm)|cướp (?:kìa|rồi|ngay)|có cướp|(?:có|đang có) vụ (?:cướp"
        r"|đánh nhau|đâm|chém|nổ súng)|vừa (?:mới )?bị (?:cướp|đâm|chém|đánh)|đột nhập (?:vào )?(?:nhà"
        r"|phòng)|cạy cửa|phá khóa|cạy khóa|bị cướp(?! giật)",
        disarm=_P | _H | _R | _B | _I,
        hard_disarm=_REMOTE,
    ),
    # Robbery, stalking, threats said to be going on now.
    _rule(
        "ongoing_threat",
        r"đang bị (?:\w+ ){0,3}(?:cướp|giật|theo dõi|bám theo|đi theo|rình|đe dọa|dọa|quấy rối|khủng bố"
        r"|đòi nợ|siết nợ|vây|chặn|truy đuổi|rượt|đuổi|uy hiếp|khống chế|kéo|lôi|bắt|ép|dí)"
        r"|đang(?! ký| kí) (?:có )?(?:\w+ ){0,2}(?:cướp|trộm|đột nhập|cạy|phá cửa|phá khóa|mở cửa|mở khóa"
        r"|bẻ khóa|đập cửa|xông vào|rượt|lảng vảng|rình|uy hiếp|đánh|đâm|chém|vây|=bắn|hành hung)"
        r"|(?:người|kẻ|thằng|tên|ai đó|tụi|bọn|nhóm|xe) (?:\w+ ){0,2}đang (?:\w+ ){0,2}(?:theo|bám|rình"
        r"|lảng vảng|đập|đòi|dọa|cầm|chặn)"
        r"|(?:trộm|cướp|kẻ gian|ăn cướp|ăn trộm|hung thủ|đối tượng|kẻ trộm) (?:\w+ ){0,2}(?:đang|vẫn còn"
        r"|còn trong|còn ở)",
        hard_disarm=_REMOTE,
    ),
    # The same threats without "đang": only with another sign that they are going on now.
    _rule(
        "threat_now",
        r"bị (?:\w+ ){0,3}(?:theo dõi|bám theo|đi theo|rình|đe dọa|dọa|quấy rối|khủng bố|đòi nợ|uy hiếp"
        r"|vây|chặn|rượt|đuổi|cướp|giật|móc túi)|(?:có|thấy) (?:người|ai|ai đó|kẻ|thằng|nhóm|bọn|tụi) (?:\w+ ){0,3}"
        r"(?:theo|bám|rình|đe dọa|dọa|lảng vảng|đập cửa|chặn)",
        needs_ongoing=True,
        hard_disarm=_REMOTE,
    ),
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
    return " ".join([*words[:-1], "_"])


def assess(text: NormalizedText) -> Assessment:
    """Apply the safety rules to one normalised message."""
    raw = text.telex
    if not raw.strip():
        return Assessment(force=False, veto=False, rule=None)
    masked = _NARRATIVE.sub(_drop_narrative, _MASKS.sub("_", raw))
    ongoing = _ONGOING.search(masked) is not None
    contexts = _contexts(raw)
    for rule in _RULES:
        if contexts & rule.hard_disarm or (contexts & rule.disarm and not ongoing):
            continue
        if rule.needs_ongoing and not ongoing:
            continue
        if rule.pattern.search(raw if rule.raw else masked):
            return Assessment(force=True, veto=False, rule=rule.name)
    veto = not ongoing and bool(contexts & (_P | _H | _I | _R | _N | _REMOTE))
    return Assessment(force=False, veto=veto, rule=None)
