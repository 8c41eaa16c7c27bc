"""Every citizen-facing Vietnamese string of the intent service, and the button payloads.

Payloads are what an `oa.query.show` button sends back as the citizen's own message, so they are
visible in the chat: keep them short. A payload is `#name` or `#name:argument`. Names listed in
`COMMANDS` are handled by the conversation; any other `#name` is the id of a knowledge-base entry.
"""

from __future__ import annotations

# --- Commands (button payloads handled by the conversation) ---------------------------------------


class Cmd:
    """Command names; the payload is "#" + name (optionally ":" + argument)."""

    MENU = "menu"
    PROCEDURES = "thutuc"
    RESIDENCE = "cutru"
    REPORT = "baotin"
    REPORT_CRIME = "toigiac"
    REPORT_ORDER = "phananh"
    DIRECTORY = "danhba"
    NEWS = "tintuc"
    NEWS_LATEST = "tin-moi"
    NEWS_SUBSCRIBE = "tin-dangky"
    NEWS_UNSUBSCRIBE = "tin-huy"
    NEWS_WARD = "tin-phuong"
    STATUS = "tracuu"
    HANDOFF = "canbo"
    CANCEL = "huy"
    BACK = "quaylai"
    DONE = "xong"
    SKIP = "boqua"
    SEND = "gui"
    ANONYMOUS = "andanh"
    NAMED = "codanh"
    JUST_NOW = "vuaxayra"
    UNKNOWN_TIME = "khongro"


COMMANDS: frozenset[str] = frozenset(
    value for name, value in vars(Cmd).items() if not name.startswith("_") and isinstance(value, str)
)
# The argument of "#danhba:" that opens the ward chooser instead of naming a ward.
CHOOSE = "chon"


def payload(command: str, argument: str | None = None) -> str:
    """The button payload of a command, e.g. payload("danhba", "taythanh") == "#danhba:taythanh"."""
    return f"#{command}:{argument}" if argument else f"#{command}"


# --- Button titles (at most 100 characters) -------------------------------------------------------

BTN_PROCEDURES = "Thủ tục hành chính"
BTN_REPORT = "Tố giác / Phản ánh"
BTN_DIRECTORY = "Danh bạ"
BTN_NEWS = "Tin tức"
BTN_MORE_PROCEDURES = "Thủ tục khác"
BTN_OTHER_WARD = "Phường khác"
BTN_WARD = "Phường {ward}"
BTN_CALL = "Gọi {name}"
BTN_CALL_113 = "Gọi 113 – Cảnh sát"
BTN_CALL_114 = "Gọi 114 – Cứu hỏa, cứu nạn"
BTN_CALL_115 = "Gọi 115 – Cấp cứu"
BTN_CRIME = "Tố giác tội phạm"
BTN_ORDER = "Phản ánh an ninh, trật tự"
BTN_STATUS = "Tra cứu hồ sơ"
BTN_HANDOFF = "Gặp cán bộ"
BTN_HELP = "Hướng dẫn sử dụng"
BTN_CANCEL = "Hủy"
BTN_BACK = "Quay lại"
BTN_DONE = "Xong"
BTN_SKIP = "Bỏ qua"
BTN_SEND = "Gửi"
BTN_ANONYMOUS = "Gửi ẩn danh"
BTN_NAMED = "Để lại danh tính"
BTN_JUST_NOW = "Vừa xảy ra"
BTN_UNKNOWN_TIME = "Không rõ thời gian"
BTN_USE_LOCATION = "Dùng vị trí đã gửi"
BTN_NEWS_LATEST = "Tin mới nhất"
BTN_NEWS_SUBSCRIBE = "Đăng ký nhận tin"
BTN_NEWS_UNSUBSCRIBE = "Ngừng nhận tin"
BTN_NEWS_WARD = "Chọn phường nhận tin"

# Topic buttons: (title, payload). Payloads other than commands are knowledge-base entry ids.
PROCEDURE_TOPICS: tuple[tuple[str, str], ...] = (
    ("Cư trú", payload(Cmd.RESIDENCE)),
    ("Thẻ căn cước", "#cancuoc"),
    ("Đăng ký xe", "#dangkyxe"),
    ("Phòng cháy, chữa cháy", "#pccc"),
    ("Con dấu", "#condau"),
)
RESIDENCE_TOPICS: tuple[tuple[str, str], ...] = (
    ("Thường trú", "#thuongtru"),
    ("Tạm trú", "#tamtru"),
    ("Tạm vắng", "#tamvang"),
    ("Lưu trú (ở dưới 30 ngày)", "#luutru"),
    ("Sổ hộ khẩu, xác nhận cư trú", "#hokhau"),
)
# Short titles used when the bot offers an intent as a clarification choice.
INTENT_TITLES: dict[str, str] = {
    "procedure.permanent_residence": "Đăng ký thường trú",
    "procedure.temporary_residence": "Đăng ký tạm trú",
    "procedure.temporary_absence": "Khai báo tạm vắng",
    "procedure.stay_notice": "Thông báo lưu trú",
    "procedure.residence_update": "Sổ hộ khẩu, xác nhận cư trú",
    "procedure.identity_card": "Thẻ căn cước",
    "procedure.fire_safety": "Phòng cháy, chữa cháy",
    "procedure.vehicle_registration": "Đăng ký xe",
    "procedure.seal_registration": "Đăng ký con dấu",
    "report.crime": BTN_CRIME,
    "report.public_order": BTN_ORDER,
    "report.status": BTN_STATUS,
    "directory.lookup": BTN_DIRECTORY,
    "news": BTN_NEWS,
    "handoff.human": BTN_HANDOFF,
    "help": BTN_HELP,
}

# --- General replies ------------------------------------------------------------------------------

WELCOME = (
    "Dạ, {oa_name} xin chào Anh/Chị! Em là trợ lý tự động trên Zalo.{ward_line}\n"
    "Em có thể hướng dẫn thủ tục hành chính, tiếp nhận tố giác, phản ánh, cung cấp danh bạ "
    "và gửi tin tức, cảnh báo. Anh/Chị chọn mục bên dưới hoặc nhắn câu hỏi cho em.\n"
    "Trường hợp khẩn cấp, vui lòng gọi ngay 113."
)
WELCOME_WARD_LINE = " Em hỗ trợ người dân trên địa bàn phường {ward}."
GREETING = "Dạ, {oa_name} xin chào Anh/Chị! Anh/Chị cần hỗ trợ gì ạ?"
THANKS = "Dạ, em cảm ơn Anh/Chị. Khi cần hỗ trợ thêm, Anh/Chị cứ nhắn cho em ạ."
MAIN_MENU = "Dạ, Anh/Chị chọn nội dung cần hỗ trợ bên dưới, hoặc nhắn câu hỏi cho em ạ."
OUT_OF_SCOPE = (
    "Dạ, nội dung này em chưa hỗ trợ được. Em có thể giúp Anh/Chị về thủ tục hành chính, "
    "tố giác, phản ánh, danh bạ và tin tức. Cần trao đổi với cán bộ, Anh/Chị nhắn “gặp cán bộ” ạ."
)
CLARIFY = "Dạ, em chưa chắc đã hiểu đúng ý Anh/Chị. Anh/Chị muốn hỏi về nội dung nào dưới đây ạ?"
PROCEDURES_MENU = (
    "Dạ, Anh/Chị chọn lĩnh vực cần tìm hiểu, hoặc nhắn câu hỏi cụ thể "
    "(ví dụ: “gia hạn tạm trú”, “làm lại căn cước bị mất”)."
)
RESIDENCE_MENU = "Dạ, Anh/Chị chọn thủ tục về cư trú cần tìm hiểu:"
PROCEDURE_MISSING = (
    "Dạ, em chưa có thông tin về thủ tục này. Anh/Chị vui lòng liên hệ Công an phường, xã "
    "hoặc xem trên Cổng Dịch vụ công quốc gia (dichvucong.gov.vn) ạ."
)
UNKNOWN_COMMAND = "Dạ, lựa chọn này không còn hiệu lực. Anh/Chị vui lòng chọn lại bên dưới ạ."
NO_OPEN_FORM = "Dạ, hiện Anh/Chị không có phiếu báo tin nào đang điền."
LOCATION_OUTSIDE_FORM = (
    "Dạ, em đã nhận vị trí Anh/Chị gửi. Nếu muốn báo tin kèm vị trí, "
    "Anh/Chị bấm “Tố giác / Phản ánh” rồi gửi vị trí ở bước địa điểm ạ."
)
MEDIA_OUTSIDE_FORM = (
    "Dạ, em đã nhận tệp Anh/Chị gửi. Nếu muốn gửi kèm tố giác, phản ánh, "
    "Anh/Chị bấm “Tố giác / Phản ánh” rồi gửi lại ở bước hình ảnh ạ."
)
STICKER = "Dạ, Anh/Chị cần em hỗ trợ gì thêm không ạ?"
INFO_RECEIVED = "Dạ, em đã nhận thông tin Anh/Chị cung cấp. Xin cảm ơn Anh/Chị!"

# --- Emergency -------------------------------------------------------------------------------------

EMERGENCY = (
    "Dạ, nếu Anh/Chị hoặc người khác đang gặp nguy hiểm, vui lòng GỌI NGAY:\n"
    "• 113 – Cảnh sát\n"
    "• 114 – Cứu hỏa, cứu nạn, cứu hộ\n"
    "• 115 – Cấp cứu y tế\n"
    "Em cũng đã chuyển tin nhắn này đến cán bộ trực ban của {oa_name}, "
    "nhưng gọi điện là cách nhanh nhất. Anh/Chị hãy giữ an toàn."
)

# --- Handoff --------------------------------------------------------------------------------------

HANDOFF_STARTED = (
    "Dạ, em đã chuyển yêu cầu của Anh/Chị đến cán bộ {oa_name}. Cán bộ sẽ trả lời Anh/Chị "
    "trong thời gian sớm nhất (giờ làm việc: {hours}). Trong lúc chờ, trợ lý tự động tạm dừng trả lời.\n"
    "Trường hợp khẩn cấp, vui lòng gọi ngay 113."
)
HANDOFF_RELEASED = "Dạ, cán bộ đã kết thúc trao đổi trực tiếp. Khi cần hỗ trợ thêm, Anh/Chị cứ nhắn cho em ạ."
HANDOFF_EXPIRED = (
    "Dạ, cán bộ chưa thể trả lời trực tiếp lúc này, em xin tiếp tục hỗ trợ Anh/Chị. "
    "Anh/Chị cũng có thể gọi {phone} trong giờ làm việc ạ."
)

# --- Directory ------------------------------------------------------------------------------------

DIRECTORY_ENTRY = "{name}\n• Địa chỉ: {address}\n• Điện thoại: {phone}\n• Giờ làm việc: {hours}"
DIRECTORY_INTRO = "Dạ, thông tin liên hệ:"
DIRECTORY_NO_CONTACT = "Công an phường {ward}: em chưa có thông tin liên hệ trong danh bạ."
DIRECTORY_MERGED = "Dạ, từ {effective}, phường {old} cũ đã được sắp xếp vào {new_list}{split_hint}."
DIRECTORY_MERGED_SPLIT_HINT = " (tùy địa chỉ cụ thể, Anh/Chị liên hệ phường phụ trách khu vực mình ở)"
DIRECTORY_OWN_WARD_MERGED = "Lưu ý: từ {effective}, phường {old} cũ thuộc {new_list}."
DIRECTORY_ASK_WARD = (
    "Dạ, Anh/Chị cần liên hệ Công an phường nào ạ? Anh/Chị chọn bên dưới, "
    "hoặc nhắn tên phường (tên phường cũ cũng được)."
)
DIRECTORY_UNKNOWN_UNIT = "Dạ, em chưa có thông tin liên hệ của đơn vị này trong danh bạ."
WARD_PREFIX = "phường {ward}"
LIST_AND = " và "

# --- News -----------------------------------------------------------------------------------------

NEWS_MENU = "Dạ, Anh/Chị muốn xem tin mới hay đăng ký nhận tin tức, cảnh báo của Công an ạ?"
NEWS_LATEST = "Dạ, em gửi Anh/Chị các tin mới nhất ngay sau đây ạ."
NEWS_SUBSCRIBED = (
    "Dạ, em đã ghi nhận Anh/Chị đăng ký nhận tin{ward_part}. Khi không muốn nhận nữa, Anh/Chị nhắn “ngừng nhận tin” ạ."
)
NEWS_UNSUBSCRIBED = (
    "Dạ, em đã ghi nhận Anh/Chị ngừng nhận tin tức. Anh/Chị vẫn có thể hỏi đáp, báo tin như bình thường ạ."
)
NEWS_WARD_CHANGED = "Dạ, từ nay Anh/Chị sẽ nhận tin của phường {ward} ạ."
NEWS_WARD_PART = " của phường {ward}"
NEWS_ASK_WARD = "Dạ, Anh/Chị muốn nhận tin của phường nào ạ?"

# --- Case status ----------------------------------------------------------------------------------

STATUS_WITH_CODE = "Dạ, em đang tra cứu hồ sơ {code}, Anh/Chị vui lòng chờ trong giây lát ạ."
STATUS_WITHOUT_CODE = (
    "Dạ, em đang tra cứu các hồ sơ Anh/Chị đã gửi. Nếu có mã hồ sơ, Anh/Chị có thể nhắn “tra cứu” kèm mã hồ sơ ạ."
)

# --- Report form ----------------------------------------------------------------------------------

KIND_LABELS: dict[str, str] = {"crime": "Tố giác tội phạm", "public_order": "Phản ánh về an ninh, trật tự"}
FORM_ASK_KIND = "Dạ, Anh/Chị muốn gửi nội dung nào ạ? Nếu sự việc đang xảy ra, nguy hiểm, vui lòng gọi ngay 113."
FORM_ASK_DESCRIPTION: dict[str, str] = {
    "crime": (
        "Dạ, Anh/Chị vui lòng mô tả sự việc: chuyện gì đã xảy ra, ai liên quan, thiệt hại (nếu có). "
        "Nhắn “hủy” để hủy, “quay lại” để sửa bước trước."
    ),
    "public_order": (
        "Dạ, Anh/Chị vui lòng mô tả vấn đề cần phản ánh (ví dụ: tụ tập gây ồn, lấn chiếm lòng đường, "
        "đua xe…). Nhắn “hủy” để hủy, “quay lại” để sửa bước trước."
    ),
}
FORM_DESCRIPTION_TOO_SHORT = "Dạ, Anh/Chị vui lòng mô tả rõ hơn một chút để cán bộ nắm được sự việc ạ."
FORM_ASK_WHEN = (
    "Dạ, sự việc xảy ra khi nào ạ? (ví dụ: “khoảng 21 giờ tối qua”). Nếu sự việc đang diễn ra, vui lòng gọi ngay 113."
)
FORM_ASK_WHERE = (
    "Dạ, sự việc xảy ra ở đâu ạ? Anh/Chị nhắn địa chỉ (số nhà, tên đường, phường) hoặc chia sẻ vị trí qua Zalo."
)
FORM_WHERE_HAS_LOCATION = " Em đã có vị trí Anh/Chị gửi; Anh/Chị có thể bấm “Dùng vị trí đã gửi”."
FORM_WHERE_REQUIRED = "Dạ, Anh/Chị vui lòng cho biết địa điểm, hoặc chia sẻ vị trí để cán bộ xác minh ạ."
FORM_ASK_PHOTOS = (
    "Dạ, Anh/Chị có hình ảnh liên quan không ạ? Anh/Chị có thể gửi một hoặc nhiều ảnh; "
    "gửi xong bấm “Xong”. Nếu không có, bấm “Bỏ qua”."
)
FORM_PHOTO_RECEIVED = "Dạ, em đã nhận {count} tệp. Anh/Chị gửi thêm, hoặc bấm “Xong” để tiếp tục."
FORM_PHOTO_LIMIT = "Dạ, phiếu nhận tối đa {limit} tệp đính kèm. Anh/Chị bấm “Xong” để tiếp tục."
FORM_ATTACHMENT_NOTED = "Dạ, em đã nhận tệp đính kèm và sẽ gửi kèm phiếu."
FORM_LOCATION_NOTED = "Dạ, em đã nhận vị trí và sẽ gửi kèm phiếu."
FORM_ASK_ANONYMOUS = (
    "Dạ, Anh/Chị muốn gửi ẩn danh hay để lại danh tính ạ? "
    "Nếu để lại danh tính, cán bộ có thể liên hệ lại với Anh/Chị qua Zalo để xác minh thêm."
)
FORM_SUMMARY = (
    "Dạ, Anh/Chị vui lòng kiểm tra lại thông tin:\n"
    "• Loại: {kind}\n"
    "• Nội dung: {description}\n"
    "• Thời gian: {when}\n"
    "• Địa điểm: {where}\n"
    "• Tệp đính kèm: {attachments}\n"
    "• Danh tính: {identity}\n"
    "Lưu ý: cố ý báo tin sai sự thật có thể bị xử phạt theo quy định.\n"
    "Bấm “Gửi” để gửi đến cán bộ, hoặc “Hủy” để hủy."
)
FORM_SUMMARY_LOCATION = "vị trí đã chia sẻ"
FORM_SUMMARY_NONE = "không có"
FORM_SUMMARY_ANONYMOUS = "ẩn danh"
FORM_SUMMARY_NAMED = "gửi kèm thông tin Zalo của Anh/Chị"
FORM_CHOOSE_BUTTON = "Dạ, Anh/Chị vui lòng chọn một trong các nút bên dưới ạ."
FORM_FIRST_STEP = "Dạ, đây là bước đầu tiên của phiếu."
FORM_SUBMITTED = (
    "Dạ, em đã gửi phiếu của Anh/Chị đến {unit}. Hệ thống đang tạo mã hồ sơ và sẽ gửi cho Anh/Chị "
    "ngay sau đây. Xin cảm ơn Anh/Chị đã phối hợp!"
)
FORM_CANCELLED = "Dạ, em đã hủy phiếu báo tin. Khi cần hỗ trợ thêm, Anh/Chị cứ nhắn cho em ạ."
FORM_EXPIRED = (
    "Dạ, phiếu báo tin Anh/Chị đang điền đã tự hủy do quá {minutes} phút không có phản hồi. "
    "Anh/Chị có thể bắt đầu lại bằng nút “Tố giác / Phản ánh” ạ."
)
FORM_ALREADY_OPEN = "Dạ, Anh/Chị đang có một phiếu báo tin chưa gửi."
FORM_REMINDER = "Dạ, Anh/Chị đang điền dở phiếu báo tin (bước: {step}). Mời Anh/Chị tiếp tục, hoặc nhắn “hủy”."
FORM_STEP_LABELS: dict[str, str] = {
    "kind": "chọn loại tin",
    "description": "mô tả sự việc",
    "when": "thời gian xảy ra",
    "where": "địa điểm",
    "photos": "hình ảnh",
    "anonymous": "ẩn danh hay không",
    "confirm": "xác nhận gửi",
}

# --- Knowledge-base answers -----------------------------------------------------------------------

KB_FOOTER = "Căn cứ: {basis}.\nThông tin cập nhật ngày {reviewed}."
