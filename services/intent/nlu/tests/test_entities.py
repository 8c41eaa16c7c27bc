"""Entities: wards, units, case codes and sub-cases."""

import pytest

from services.intent.nlu.entities import Entities, extract
from services.intent.nlu.normalize import Normalizer

pytestmark = pytest.mark.unit

NORMALIZER = Normalizer()


def entities(text: str) -> Entities:
    return extract(NORMALIZER.normalize(text))


OLD_WARDS = (
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


@pytest.mark.parametrize("ward", OLD_WARDS)
@pytest.mark.parametrize("prefix", ["", "phường ", "p.", "p ", "P. ", "fường ", "phuong "])
def test_every_old_ward_with_any_prefix(ward: str, prefix: str) -> None:
    assert entities(f"tôi ở {prefix}{ward}").ward == ward


@pytest.mark.parametrize("ward", OLD_WARDS)
def test_wards_without_diacritics(ward: str) -> None:
    from services.intent.nlu.normalize import fold

    assert entities(f"cong an {fold(ward)} o dau").ward == ward


def test_spelling_variants_of_ward_names() -> None:
    assert entities("p. Sơn Kì").ward == "Sơn Kỳ"
    assert entities("tân quí").ward == "Tân Quý"
    assert entities("Tân Thới Hoà").ward == "Tân Thới Hòa"
    assert entities("p.sonky").ward == "Sơn Kỳ"


def test_new_ward_tan_phu_needs_the_word_phuong() -> None:
    assert entities("phường Tân Phú mới").ward == "Tân Phú"
    assert entities("p tan phu").ward == "Tân Phú"
    assert entities("công an quận Tân Phú").ward is None
    assert entities("tôi ở Tân Phú").ward is None


def test_no_ward() -> None:
    assert entities("đăng ký tạm trú").ward is None
    assert entities("sân bay tân sơn nhất").ward is None


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("số điện thoại đội hình sự", "hinhsu"),
        ("cảnh sát kinh tế", "kinhte"),
        ("đội ma túy", "kinhte"),
        ("địa chỉ CSGT", "csgt"),
        ("cảnh sát giao thông ở đâu", "csgt"),
        ("đội PCCC", "pccc"),
        ("số cứu hỏa", "pccc"),
        ("đội quản lý hành chính", "qlhc"),
        ("đội an ninh", "anninh"),
        ("công an quận Tân Phú", "tanphu"),
        ("lên quận làm giấy tờ", "tanphu"),
        ("quán karaoke ồn", None),
        ("an ninh trật tự khu phố", None),
    ],
)
def test_units(text: str, unit: str | None) -> None:
    assert entities(text).unit == unit


def test_first_mentioned_unit_wins() -> None:
    assert entities("csgt hay đội hình sự").unit == "csgt"


def test_case_code_entity() -> None:
    assert entities("hồ sơ hs 26 000045 sao rồi").case_code == "HS-26-000045"
    assert entities("mã TSN-26-12").case_code == "TSN-26-000012"
    assert entities("hồ sơ của tôi").case_code is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("làm căn cước cho con 10 tuổi", {"child"}),
        ("nhập khẩu cho bé mới sinh", {"child"}),
        ("căn cước cho trẻ dưới 14 tuổi", {"child"}),
        ("con gái tôi 16 tuổi làm căn cước", set()),
        ("bé 6 tháng tuổi", {"child"}),
        ("làm lại căn cước bị mất", {"lost"}),
        ("đánh rơi cccd", {"lost"}),
        ("làm căn cước mất bao lâu", set()),
        ("mất bao nhiêu tiền", set()),
        ("cccd bị hỏng chip", {"damaged"}),
        ("thẻ căn cước bị rách", {"damaged"}),
        ("cccd hư rồi", {"damaged"}),
        ("mở tài khoản vneid", set()),
        ("đăng ký xe máy", {"motorbike"}),
        ("sang tên xe mô tô", {"motorbike"}),
        ("đăng ký ô tô", {"car"}),
        ("xe hơi 7 chỗ", {"car"}),
        ("gia hạn tạm trú", {"renew"}),
        ("xóa đăng ký thường trú", {"delete"}),
        ("cắt khẩu ở quê", {"delete"}),
        ("mất cccd của con 8 tuổi", {"lost", "child"}),
        ("hủy nhận tin", {"unsubscribe"}),
        ("đăng ký nhận tin", {"subscribe"}),
        ("đổi phường nhận tin", {"change_ward"}),
        ("tin mới nhất", {"latest"}),
    ],
)
def test_subcases(text: str, expected: set[str]) -> None:
    assert entities(text).subcases == expected
