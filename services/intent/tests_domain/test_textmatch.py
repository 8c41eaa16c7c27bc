"""Text rules the conversation applies itself."""

from __future__ import annotations

import pytest

from services.intent.conversation.model import fold, slug
from services.intent.conversation.textmatch import find_ward, infer_category

pytestmark = pytest.mark.unit


def test_fold_strips_diacritics_and_punctuation() -> None:
    assert fold("Phường Sơn Kỳ, Q. Tân Phú!") == "phuong son ky q tan phu"
    assert fold("HUỶ") == fold("hủy") == "huy"
    assert slug("Tân Sơn Nhì") == "tansonnhi"


@pytest.mark.parametrize(
    ("text", "ward"),
    [
        ("công an phường Sơn Kỳ ở đâu", "Sơn Kỳ"),
        ("cong an phu tho hoa", "Phú Thọ Hòa"),
        ("phường Tân Phú mới", "Tân Phú"),
        ("công an quận Tân Phú", None),
        ("tôi ở Bình Tân", None),
    ],
)
def test_find_ward(directory, text: str, ward: str | None) -> None:
    assert find_ward(text, directory) == ward


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Bị trộm xe máy trước cửa nhà", "theft"),
        ("bi lua chuyen khoan qua dien thoai", "fraud"),
        ("tài khoản facebook bị hack", "cyber"),
        ("Karaoke hát to đến 1 giờ sáng", "noise"),
        ("Quán lấn chiếm vỉa hè", "encroachment"),
        ("thanh niên đua xe lạng lách", "racing"),
        ("có mùi gas và khói trong hẻm", "fire_hazard"),
        ("anh ấy chạy xe rất nhanh", "other"),
        ("tụ tập đông người trước cổng", "gathering"),
        ("chích hút ma túy trong công viên", "drugs"),
        ("tai nạn giao thông ở ngã tư", "traffic"),
    ],
)
def test_infer_category(text: str, category: str) -> None:
    assert infer_category(text) == category
