// Calls to the console server: its own /console/api and the proxied /api/reports and /api/news.
// Every call sends X-Requested-By (the server refuses state changes without it: see pages.py).

import { CAMPAIGN_FIELD, newsMessage } from './labels.js';

export class ApiError extends Error {
  constructor(status, code, detail, body) {
    super(detail || code);
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.body = body;
  }

  /** What to tell the officer, in Vietnamese. */
  get userMessage() {
    if (this.status === 0) return 'Không kết nối được máy chủ. Kiểm tra mạng rồi thử lại.';
    if (this.status === 401) return 'Phiên đăng nhập đã hết hạn hoặc không hợp lệ. Vui lòng đăng nhập lại.';
    if (this.status === 403) return 'Bạn không có quyền thực hiện thao tác này.';
    if (this.status === 404) return 'Không tìm thấy, hoặc bạn không có quyền xem mục này.';
    if (this.code === 'version_conflict' || this.code === 'conflict')
      return 'Dữ liệu vừa được người khác cập nhật. Trang đã tải lại bản mới nhất, vui lòng kiểm tra rồi thử lại.';
    if (this.code === 'invalid_transition' || this.code === 'invalid_state')
      return 'Thao tác này không còn phù hợp với trạng thái hiện tại. Trang đã tải lại bản mới nhất.';
    if (this.status === 422 && this.body?.fields) {
      const parts = Object.entries(this.body.fields).map(
        ([name, text]) => `${CAMPAIGN_FIELD[name] ?? name}: ${newsMessage(text)}`,
      );
      return `Chưa lưu được: ${parts.join('; ')}.`;
    }
    if (this.status === 502 || this.status === 504 || this.status === 503)
      return 'Dịch vụ tạm thời không phản hồi. Vui lòng thử lại sau ít phút.';
    if (this.status === 400) return `Yêu cầu không hợp lệ (${this.detail ?? this.code}).`;
    return `Có lỗi xảy ra (mã ${this.status}).`;
  }
}

async function call(method, url, body, headers = {}) {
  const init = {
    method,
    credentials: 'same-origin',
    cache: 'no-store',
    headers: { Accept: 'application/json', 'X-Requested-By': 'zan-console', ...headers },
  };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new ApiError(0, 'network', 'network error', null);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data?.error ?? `http_${response.status}`, data?.detail, data);
  return data;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '' || value === false) continue;
    q.set(key, Array.isArray(value) ? value.join(',') : String(value));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

const R = '/api/reports/v1';
const N = '/api/news/v1';

export const consoleApi = {
  config: () => call('GET', '/console/api/config'),
  session: () => call('GET', '/console/api/session'),
  devSignIn: (form) => call('POST', '/console/api/dev/sign-in', form),
  signOut: () => call('POST', '/console/api/sign-out', {}),
};

export const reports = {
  list: (params) => call('GET', `${R}/cases${query(params)}`),
  get: (ref) => call('GET', `${R}/cases/${encodeURIComponent(ref)}`),
  status: (ref, body) => call('POST', `${R}/cases/${encodeURIComponent(ref)}/status`, body),
  transfer: (ref, body) => call('POST', `${R}/cases/${encodeURIComponent(ref)}/transfer`, body),
  assign: (ref, body) => call('POST', `${R}/cases/${encodeURIComponent(ref)}/assign`, body),
  note: (ref, body) => call('POST', `${R}/cases/${encodeURIComponent(ref)}/notes`, body),
  reply: (ref, body) => call('POST', `${R}/cases/${encodeURIComponent(ref)}/replies`, body),
  audit: (params) => call('GET', `${R}/audit${query(params)}`),
  attachmentUrl: (caseId, attachmentId) =>
    `${R}/cases/${encodeURIComponent(caseId)}/attachments/${encodeURIComponent(attachmentId)}`,
};

export const news = {
  list: (params) => call('GET', `${N}/campaigns${query(params)}`),
  get: (id) => call('GET', `${N}/campaigns/${encodeURIComponent(id)}`),
  create: (spec, idempotencyKey) => call('POST', `${N}/campaigns`, spec, { 'Idempotency-Key': idempotencyKey }),
  edit: (id, spec) => call('PATCH', `${N}/campaigns/${encodeURIComponent(id)}`, spec),
  act: (id, action) => call('POST', `${N}/campaigns/${encodeURIComponent(id)}/${action}`, {}),
  progress: (id) => call('GET', `${N}/campaigns/${encodeURIComponent(id)}/progress`),
  preview: (target, channels) => call('POST', `${N}/preview`, { target, channels }),
};
