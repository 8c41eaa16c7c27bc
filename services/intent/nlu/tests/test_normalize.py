"""Normalisation: NFC, case, folding, teencode, elongations, typos, run-together words, case codes."""

import unicodedata

import pytest

from services.intent.nlu.normalize import Normalizer, fold, is_syllable, telex, vi_regex

pytestmark = pytest.mark.unit

NORMALIZER = Normalizer()


def norm(text: str) -> str:
    return NORMALIZER.normalize(text).text


def folded(text: str) -> str:
    return NORMALIZER.normalize(text).folded


def test_fold_removes_diacritics_and_case() -> None:
    assert fold("Phường SƠN KỲ, Đăng Ký") == "phuong son ky, dang ky"


def test_decomposed_input_is_composed_first() -> None:
    decomposed = unicodedata.normalize("NFD", "đăng ký tạm trú")
    assert norm(decomposed) == "đăng ký tạm trú"
    assert folded(decomposed) == "dang ky tam tru"


def test_old_style_tone_placement_is_modernised() -> None:
    assert norm("Hoà Thạnh khoẻ thuý") == "hòa thạnh khỏe thúy"
    assert norm("quý") == "quý"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("k dc", "không được"),
        ("ko bik", "không biết"),
        ("hok", "không"),
        ("đc", "được"),
        ("sdt", "số điện thoại"),
        ("sđt", "số điện thoại"),
        ("cccd", "căn cước công dân"),
        ("cmnd", "chứng minh nhân dân"),
        ("làm ntn", "làm như thế nào"),
        ("hỏi j", "hỏi gì"),
        ("sao z", "sao vậy"),
        ("mk hỏi", "mình hỏi"),
        ("vậy ak", "vậy à"),
        ("đi vs em", "đi với em"),
        ("tks ad", "cảm ơn admin"),
        ("hix", "hic"),
        ("dạ ạ", "dạ ạ"),
    ],
)
def test_teencode_is_expanded(raw: str, expected: str) -> None:
    assert norm(raw) == expected


def test_ambiguous_abbreviations_follow_context() -> None:
    assert norm("đk tạm trú") == "đăng ký tạm trú"
    assert norm("dk xe máy") == "đăng ký xe máy"
    assert norm("k dk") == "không được"
    assert norm("phí bn") == "phí bao nhiêu"
    assert norm("bn ơi") == "bạn ơi"
    assert norm("50 k") == "50 nghìn"
    assert norm("p.Tân Quý") == "phường tân quý"
    assert norm("thank kiu") == "cảm ơn kiu"


def test_elongations_are_collapsed() -> None:
    assert norm("alooo") == "alo"
    assert norm("cứuuuu tôiiii") == "cứu tôi"
    assert folded("cuuuuu") == "cuu"  # keeps the real double letter of "cứu" typed without marks
    assert norm("điiiii") == "đi"


def test_playful_spellings_are_undone() -> None:
    assert norm("fường sơn kỳ") == "phường sơn kỳ"
    assert norm("wá trời") == "quá trời"
    assert norm("đag bị") == "đang bị"


def test_one_letter_typos_in_long_words_are_fixed() -> None:
    assert folded("thuogn tru") == "thuong tru"
    assert folded("phuonng") == "phuong"
    assert folded("dnag ky") == "dnag ky"  # shorter than 5 letters: left alone


def test_unknown_real_syllables_are_not_corrected() -> None:
    assert is_syllable("nghieng")
    assert folded("nghiêng") == "nghieng"


def test_run_together_words_are_split() -> None:
    assert norm("dangky tamtru") == "đăng ký tạm trú"


def test_case_codes_are_canonical_tokens() -> None:
    for raw in ("mã TP-26-000123", "mã tp 26 000123", "mã tp26000123", "mã TP-26-123", "mã TP 2026 000123"):
        result = NORMALIZER.normalize(raw)
        assert result.case_codes == ("TP-26-000123",), raw
        assert result.tokens[-1] == "TP-26-000123"


def test_number_shapes_that_are_not_case_codes() -> None:
    assert NORMALIZER.normalize("xe 59 12345").case_codes == ()
    assert NORMALIZER.normalize("sdt 0912345678").case_codes == ()
    assert NORMALIZER.normalize("tp 26 123").case_codes == ()  # loose and lower-case: not trusted


def test_telex_keeps_every_mark() -> None:
    assert telex("cháy") == "chays"
    assert telex("chạy") == "chayj"
    assert telex("đường") == "dduwowngf"
    assert telex("xe") == "xe"


def test_vi_regex_matches_exact_plain_or_toneless_spellings_only() -> None:
    regex = vi_regex("cháy nhà")
    for text in ("cháy nhà", "chay nha", "cháy nha", "chaý nhà"):
        assert regex.search(NORMALIZER.normalize(text).telex), text
    assert not regex.search(NORMALIZER.normalize("chạy nhà").telex)
    assert not vi_regex("=mờ").search(NORMALIZER.normalize("mo").telex)
