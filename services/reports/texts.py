"""What the citizen reads: polite, short Vietnamese with full diacritics (the intent service's register:
"Dạ, … Anh/Chị … ạ"). Pure formatting functions; nothing here is logged."""

from __future__ import annotations

from datetime import datetime

from services.reports.domain import VN_TZ

KIND_LABELS = {"crime": "tố giác tội phạm", "public_order": "phản ánh an ninh, trật tự"}

STATUS_LABELS = {
    "received": "đã được tiếp nhận, đang chờ cán bộ xem xét",
    "acknowledged": "đã được {unit} tiếp nhận xử lý",
    "investigating": "đang được cán bộ xác minh, xử lý",
    "resolved": "đã được xử lý xong",
    "rejected": "không được tiếp nhận xử lý",
    "transferred": "đã được chuyển đến đơn vị có thẩm quyền xử lý",
}

EMERGENCY_HINT = "Nếu sự việc đang diễn ra, nguy hiểm, Anh/Chị vui lòng gọi ngay 113."


def _date(at: datetime) -> str:
    return at.astimezone(VN_TZ).strftime("%d/%m/%Y")


def ack(code: str, kind: str, unit_name: str, anonymous: bool, urgent: bool) -> str:
    """The acknowledgement of a new report: its code and what happens next."""
    lines = [
        f"Dạ, Công an đã tiếp nhận {KIND_LABELS.get(kind, 'tin báo')} của Anh/Chị. Mã hồ sơ: {code}.",
        f"Hồ sơ được chuyển đến {unit_name}; cán bộ sẽ xem xét và thông báo kết quả qua Zalo này.",
        f"Để tra cứu, Anh/Chị nhắn “tra cứu {code}”.",
    ]
    if anonymous:
        lines.append("Tin được gửi ẩn danh: cán bộ không thấy thông tin Zalo của Anh/Chị.")
    if urgent:
        lines.append(EMERGENCY_HINT)
    return "\n".join(lines)


def status_notice(kind: str, code: str, unit_name: str, reason: str | None) -> str:
    """A status change the citizen is told about (acknowledged, resolved, rejected)."""
    if kind == "acknowledged":
        return (
            f"Dạ, hồ sơ {code} của Anh/Chị đã được {unit_name} tiếp nhận xử lý. "
            "Khi có kết quả, em sẽ thông báo qua Zalo này ạ."
        )
    if kind == "resolved":
        text = f"Dạ, hồ sơ {code} của Anh/Chị đã được xử lý xong."
        if reason:
            text += f" Kết quả: {reason}"
        return text + " Xin cảm ơn Anh/Chị đã phối hợp cùng lực lượng Công an!"
    if kind == "rejected":
        return (
            f"Dạ, hồ sơ {code} của Anh/Chị không được tiếp nhận xử lý. Lý do: {reason or 'không nêu'}. "
            "Nếu cần hỗ trợ thêm, Anh/Chị vui lòng nhắn cho em hoặc liên hệ trực tiếp cơ quan Công an ạ."
        )
    raise ValueError(f"no notice text for {kind}")


def officer_reply(code: str, text: str) -> str:
    return f"Dạ, cán bộ phụ trách hồ sơ {code} nhắn Anh/Chị:\n{text}"


def status_answer(code: str, kind: str, created_at: datetime, status: str, unit_name: str, reason: str | None) -> str:
    label = STATUS_LABELS[status].format(unit=unit_name)
    text = f"Dạ, hồ sơ {code} ({KIND_LABELS.get(kind, 'tin báo')}, gửi ngày {_date(created_at)}) {label}."
    if status == "rejected" and reason:
        text += f" Lý do: {reason}."
    return text


def status_not_found(code: str) -> str:
    """The one answer for a code that does not exist and for a case filed by someone else."""
    return (
        f"Dạ, em không tìm thấy hồ sơ {code} trong các hồ sơ Anh/Chị đã gửi qua kênh Zalo này. "
        "Anh/Chị vui lòng kiểm tra lại mã hồ sơ ạ."
    )


def status_list(items: list[tuple[str, datetime, str]]) -> str:
    """The citizen's recent cases: (code, created_at, status)."""
    if not items:
        return "Dạ, em chưa thấy hồ sơ nào Anh/Chị đã gửi qua kênh Zalo này ạ."
    lines = ["Dạ, các hồ sơ gần đây Anh/Chị đã gửi:"]
    for code, created_at, status in items:
        short = STATUS_LABELS[status].format(unit="đơn vị phụ trách")
        lines.append(f"• {code} ({_date(created_at)}): {short}")
    lines.append("Để xem chi tiết, Anh/Chị nhắn “tra cứu” kèm mã hồ sơ ạ.")
    return "\n".join(lines)
