// Vietnamese names of everything the APIs return as codes.

export const ROLES = {
  officer: 'Cán bộ xử lý',
  supervisor: 'Chỉ huy',
  auditor: 'Kiểm tra viên',
  editor: 'Biên tập viên',
};

export const CASE_STATUS = {
  received: 'Mới tiếp nhận',
  acknowledged: 'Đã nhận xử lý',
  investigating: 'Đang xác minh',
  resolved: 'Đã giải quyết',
  rejected: 'Không tiếp nhận',
  transferred: 'Đã chuyển đơn vị',
};

// What the button that moves a case to a status says.
export const CASE_ACTION = {
  acknowledged: 'Tiếp nhận xử lý',
  investigating: 'Bắt đầu xác minh',
  resolved: 'Đã giải quyết xong',
  rejected: 'Không tiếp nhận',
};

export const KIND = { crime: 'Tố giác tội phạm', public_order: 'An ninh, trật tự' };
export const PRIORITY = { urgent: 'Khẩn cấp', normal: 'Thường' };
export const SOURCE = { form: 'Biểu mẫu trên Zalo', emergency: 'Tin nhắn khẩn cấp' };

export const CATEGORY = {
  theft: 'Trộm cắp',
  fraud: 'Lừa đảo',
  cyber: 'Tội phạm mạng',
  violence: 'Bạo lực, đánh nhau',
  drugs: 'Ma túy',
  gambling: 'Cờ bạc',
  racing: 'Đua xe',
  traffic: 'Giao thông',
  fire_hazard: 'Nguy cơ cháy nổ',
  noise: 'Tiếng ồn',
  encroachment: 'Lấn chiếm',
  gathering: 'Tụ tập đông người',
  other: 'Khác',
};

export const CHANGE = {
  created: 'Tạo hồ sơ',
  assigned: 'Phân công',
  status_changed: 'Đổi trạng thái',
  transferred: 'Chuyển đơn vị',
  note_added: 'Ghi chú / trả lời',
  closed: 'Đóng hồ sơ',
};

export const ATTACHMENT_STATE = {
  pending: 'đang tải về',
  stored: 'đã lưu',
  failed: 'tải thất bại',
  rejected: 'bị từ chối (không phải ảnh hợp lệ)',
  skipped: 'bỏ qua',
};

export const CAMPAIGN_STATE = {
  draft: 'Bản nháp',
  approved: 'Đã duyệt, chờ gửi',
  running: 'Đang gửi',
  paused: 'Tạm dừng',
  finished: 'Hoàn tất',
  cancelled: 'Đã hủy',
};

export const CAMPAIGN_ACTION = {
  approve: 'Duyệt và cho phép gửi',
  pause: 'Tạm dừng',
  resume: 'Tiếp tục gửi',
  cancel: 'Hủy chiến dịch',
};

export const CAMPAIGN_CHANGE = {
  created: 'Tạo bản nháp',
  edited: 'Sửa',
  approved: 'Duyệt',
  started: 'Bắt đầu gửi',
  paused: 'Tạm dừng',
  resumed: 'Tiếp tục',
  cancelled: 'Hủy',
  finished: 'Hoàn tất',
};

export const SKIP_REASON = {
  unfollowed: 'đã bỏ theo dõi',
  opted_out: 'đã từ chối nhận tin',
  window_closed: 'quá thời hạn nhắn tin',
  cancelled: 'chiến dịch bị hủy',
  not_reachable: 'không liên lạc được',
  expired: 'hết hạn',
  other: 'lý do khác',
};

// Campaign fields as the news API names them in validation errors.
export const CAMPAIGN_FIELD = {
  title: 'Tiêu đề',
  summary: 'Tóm tắt',
  cover_url: 'Ảnh bìa',
  body: 'Nội dung bài viết',
  link: 'Liên kết “Xem chi tiết”',
  dm_text: 'Tin nhắn trực tiếp',
  channels: 'Kênh gửi',
  target: 'Đối tượng nhận',
  'target.oa_keys': 'OA',
  'target.wards': 'Phường',
  'target.topics': 'Chủ đề',
  send_at: 'Thời điểm gửi',
};

// The news API's validation messages (English) in Vietnamese; anything else is shown as it comes.
const NEWS_MESSAGES = [
  [/^required for an article/, 'bắt buộc khi đăng bài viết (Zalo cần ảnh bìa)'],
  [/^required for direct messages/, 'bắt buộc khi nhắn tin trực tiếp (tin nhắn dẫn đến liên kết này)'],
  [/^required$/, 'bắt buộc'],
  [/^must be an https:\/\/ URL$/, 'phải là địa chỉ bắt đầu bằng https://'],
  [/^image URL must be https:\/\/$/, 'địa chỉ ảnh phải bắt đầu bằng https://'],
  [/^(\d+) characters; Zalo accepts fewer than (\d+)$/, (m) => `${m[1]} ký tự; Zalo chỉ nhận dưới ${m[2]} ký tự`],
  [/^an article needs a body or a link$/, 'bài viết cần có nội dung hoặc liên kết'],
  [/^choose at least one channel$/, 'chọn ít nhất một kênh gửi'],
  [/^choose everyone, OAs, wards or topics$/, 'chọn “tất cả”, hoặc OA, phường, chủ đề'],
  [/^everyone cannot be combined/, '“tất cả” không kết hợp được với tiêu chí khác'],
  [/^matches no follower$/, 'không có người theo dõi nào phù hợp'],
  [/^is in the past$/, 'đã qua'],
  [/^must include a timezone$/, 'thiếu múi giờ'],
  [/^unknown OA: (.*)$/, (m) => `OA không tồn tại: ${m[1]}`],
  [/^unknown ward: (.*)$/, (m) => `phường không tồn tại: ${m[1]}`],
  [/^no OA to publish the article on/, 'không có OA nào để đăng bài cho các phường này; hãy bật nhắn tin trực tiếp'],
  [/^the direct message would be (\d+) characters; Zalo accepts at most (\d+)$/, (m) => `tin nhắn sẽ dài ${m[1]} ký tự; Zalo nhận tối đa ${m[2]}`],
];

export function newsMessage(text) {
  for (const [pattern, out] of NEWS_MESSAGES) {
    const m = String(text).match(pattern);
    if (m) return typeof out === 'function' ? out(m) : out;
  }
  return String(text);
}

export function label(table, code) {
  return table[code] ?? code ?? '—';
}
