"""Safety rules: danger happening now forces "emergency"; past events and questions do not."""

import pytest

from services.intent.nlu.emergency import Assessment, assess
from services.intent.nlu.normalize import Normalizer

pytestmark = pytest.mark.unit

NORMALIZER = Normalizer()


def safety(text: str) -> Assessment:
    return assess(NORMALIZER.normalize(text))


ONGOING = [
    # cries for help and bare alarms
    "cứu",
    "cứu với",
    "cuu toi voi",
    "cứuuuu",
    "kíu vs",
    "cháy",
    "Cháy!!!",
    "cướp kìa",
    "SOS",
    "help me",
    "công an ơi cứu em",
    "gọi 113 không được",
    # fire, smoke, gas
    "nhà tôi đang cháy",
    "chay nha roi",
    "có cháy ở chợ Tân Hương",
    "khói đen bốc lên từ nhà bên cạnh",
    "Báo cháy khẩn cấp",
    "bao chay khan cap",
    "xe máy bốc cháy giữa đường",
    "mùi gas nồng nặc khắp nhà",
    "bình gas bị rò rỉ sắp nổ",
    "có mùi khét, ổ điện đang bốc khói",
    "nhà bên cạnh cháy rồi gọi cứu hỏa",
    # attacks and weapons
    "có người bị đâm ở đầu hẻm",
    "dang bi danh",
    "tôi đang bị một nhóm người đuổi đánh",
    "có đánh nhau ở quán nhậu, có người cầm dao",
    "Có người dí dao vào cổ tôi",
    "nó đang đánh mẹ tôi",
    "ai đó giúp với, chồng tôi đang đánh tôi",
    "tụi nó đang đứng trước nhà dọa giết tôi",
    "tôi bị đánh",
    "con tôi bị bắt cóc",
    "tôi bị nhốt trong phòng",
    "có tiếng súng nổ gần nhà",
    # robbery and intruders in progress
    "có trộm đang ở trong nhà tôi",
    "có người lạ đang cạy cửa nhà tôi",
    "trộm đang vào nhà",
    "thằng trộm còn trong nhà",
    "thằng ăn cướp đang chạy về hướng chợ",
    "Tôi nghĩ có ai đó đang ở trong nhà tôi",
    "vừa bị cướp xong",
    "tôi bị cướp điện thoại",
    "bị cướp xe, nó chạy hướng Lũy Bán Bích",
    # followed or threatened now
    "có người đang theo dõi tôi",
    "Tôi bị theo dõi ngay bây giờ",
    "có người ngoài cửa đe dọa, tôi sợ quá",
    "Có người lạ bám theo tôi từ chợ về",
    # injured, unconscious, drowning, accidents
    "có người đuối nước ở hồ bơi",
    "có người té xe bất tỉnh giữa đường",
    "bị tai nạn chảy máu nhiều lắm",
    "mẹ tôi bị điện giật bất tỉnh",
    "có người nhảy cầu",
    "có người treo cổ",
    "Có đứa bé bị rơi xuống hồ",
    "có người ngã từ giàn giáo xuống",
    "em bị kẹt trong thang máy",
    "bé nhà tôi đi lạc ở chợ",
    "Con tôi bị sốt cao co giật",
    "có người bị thương",
]

NOT_NOW = [
    # the past
    "hôm qua bị trộm xe",
    "tối qua tôi bị giật điện thoại",
    "hôm kia tôi bị nhóm thanh niên đánh",
    "nhà bị trộm đột nhập lấy mất laptop tuần trước",
    "nhà tôi bị trộm lúc cả nhà đi vắng",
    "Hôm qua khu tôi có vụ cháy, giờ cần xin giấy xác nhận",
    "khi đang đi trên đường thì bị giật túi",
    "Bị cướp giật điện thoại lúc 9h sáng nay",
    "con tôi bị bạn học đánh hội đồng hôm thứ hai",
    # formal reports, habits, remote threats
    "tôi muốn tố giác một vụ đánh người tuần trước",
    "Tôi bị cướp điện thoại, muốn trình báo",
    "khu này hay đánh nhau",
    "con tôi hay bị bạn đánh ở trường",
    "bị đe dọa qua tin nhắn đang rất lo",
    "bị dọa giết qua điện thoại",
    "Tôi bị mạo danh cán bộ thuế lừa chuyển tiền",
    # questions, prevention, procedures
    "nếu bị cướp thì phải làm gì",
    "Nếu thấy cháy thì gọi số nào?",
    "Cách sơ cứu người đuối nước",
    "số điện thoại cứu hỏa là gì",
    "số cấp cứu là bao nhiêu",
    "thủ tục PCCC cho quán karaoke",
    "lắp hệ thống báo cháy cho nhà trọ",
    "Làm sao để phòng tránh cháy nổ trong nhà trọ?",
    "căn cước bị cháy một góc làm lại sao",
    "cảnh báo cháy nổ mùa khô",
    "Xin trích lục hồ sơ vụ tai nạn",
    "tra cứu hồ sơ TP-26-000123",
    "nghiên cứu luật cư trú",
    "ủng hộ cứu trợ đồng bào lũ lụt",
    # public order and everyday words that look alike once folded
    "thanh nien chay xe lang lach",
    "xe chay am am ca dem",
    "có một đám người tụ tập nhậu nhẹt",
    "Tụ tập đua xe, lạng lách nguy hiểm quá",
    "hàng xóm hát karaoke",
    "chạy xe máy",
    "tôi đang đăng ký tạm trú online",
    "dang ky nhan ban tin",
    "tôi đang theo dõi tin tức",
    "bị chủ nhà đuổi",
    "bị ngắt kết nối",
    "chờ xíu nha",
    "help",
    "alo",
    "alo công an ơi",
    "thank kiu",
]


@pytest.mark.parametrize("text", ONGOING)
def test_danger_now_forces_emergency(text: str) -> None:
    result = safety(text)
    assert result.force, text
    assert result.rule


@pytest.mark.parametrize("text", NOT_NOW)
def test_past_events_and_questions_are_not_forced(text: str) -> None:
    assert not safety(text).force, text


def test_past_report_vetoes_an_unbacked_emergency() -> None:
    assert safety("hôm qua tôi bị mất xe").veto
    assert safety("số điện thoại cứu hỏa là gì").veto


def test_ongoing_sign_rearms_a_rule_despite_the_past() -> None:
    assert safety("hôm qua nó đánh tôi, giờ nó đang đứng trước nhà dọa giết").force


def test_empty_message() -> None:
    assert safety("") == Assessment(force=False, veto=False, rule=None)
