// One case: what the citizen reported (anonymous reporters stay anonymous), photos through the console's
// proxy, what can be done next (only the transitions the state machine allows), history and audit trail.

import { reports } from './api.js';
import { announce, field, h, message, select, uid } from './dom.js';
import { dateTime, mapLink, number } from './format.js';
import { forget } from './desk.js';
import { ATTACHMENT_STATE, CASE_ACTION, CASE_STATUS, CATEGORY, CHANGE, KIND, PRIORITY, ROLES, SOURCE, label } from './labels.js';

function dl(rows) {
  return h(
    'dl',
    { class: 'facts' },
    rows.filter(Boolean).map(([term, value]) => [h('dt', {}, term), h('dd', {}, value ?? '—')]),
  );
}

function section(title, ...children) {
  const id = uid('sec');
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), children);
}

function counter(textarea, max) {
  const out = h('span', { class: 'counter', 'aria-live': 'off' });
  const update = () => {
    out.textContent = `${textarea.value.length}/${max} ký tự`;
    out.classList.toggle('over', textarea.value.length > max);
  };
  textarea.addEventListener('input', update);
  update();
  return out;
}

function historyEntry(ctx, e) {
  const who = `${e.actor}${e.actor_role ? ` (${label(ROLES, e.actor_role)})` : ''}`;
  const lines = [];
  if (e.change === 'assigned') lines.push(`Phân công cho ${e.assignee}`);
  if ((e.change === 'status_changed' || e.change === 'closed') && e.to_status)
    lines.push(`${label(CASE_STATUS, e.from_status)} → ${label(CASE_STATUS, e.to_status)}`);
  if (e.change === 'transferred') lines.push(`Chuyển từ ${ctx.unitName(e.from_unit)} sang ${ctx.unitName(e.to_unit)}`);
  if (e.reason) {
    const what = { created: 'Định tuyến', transferred: 'Lý do chuyển' }[e.change] ?? 'Kết quả / lý do';
    lines.push(`${what}: ${e.reason}`);
  }
  if (e.note) lines.push(`Ghi chú nội bộ: ${e.note}`);
  if (e.reply) lines.push(`Trả lời người dân: ${e.reply}`);
  return h(
    'li',
    { class: `history-${e.change}` },
    h('p', { class: 'history-head' }, h('strong', {}, label(CHANGE, e.change)), ` · ${who} · `, h('time', { datetime: e.at }, dateTime(e.at))),
    lines.map((t) => h('p', { class: 'history-line' }, t)),
  );
}

function photos(c) {
  if (!c.attachments.length) return h('p', {}, 'Người báo tin không gửi ảnh hay tệp nào.');
  return h(
    'ul',
    { class: 'photos' },
    c.attachments.map((a, i) => {
      const name = `Ảnh ${i + 1}`;
      if (a.state !== 'stored') {
        return h('li', { class: 'photo-missing' }, `${name}: ${label(ATTACHMENT_STATE, a.state)}`);
      }
      const src = reports.attachmentUrl(c.id, a.id);
      return h(
        'li',
        {},
        h(
          'figure',
          {},
          h(
            'a',
            { href: src, target: '_blank', rel: 'noopener noreferrer', 'aria-label': `${name}: mở ảnh cỡ đầy đủ trong thẻ mới` },
            h('img', { src, alt: `${name} người báo tin gửi kèm hồ sơ ${c.code}`, loading: 'lazy', class: 'case-photo' }),
          ),
          h('figcaption', {}, `${name}${a.size ? ` · ${number(Math.ceil(a.size / 1024))} KB` : ''}`),
        ),
      );
    }),
  );
}

function details(ctx, c) {
  const reporter = c.reporter.anonymous
    ? h('strong', { class: 'anonymous' }, 'Ẩn danh')
    : `Người dân (mã ẩn danh hóa: ${c.reporter.pseudonym ?? '—'})`;
  const location = c.location
    ? [
        h(
          'a',
          { href: mapLink(c.location.latitude, c.location.longitude), target: '_blank', rel: 'noopener noreferrer', class: 'map-link' },
          'Xem trên bản đồ (OpenStreetMap, mở thẻ mới)',
        ),
        h(
          'span',
          { class: 'meta' },
          ` ${Number(c.location.latitude).toFixed(5)}, ${Number(c.location.longitude).toFixed(5)}${c.location.name ? ` · ${c.location.name}` : ''}`,
        ),
      ]
    : 'Người báo tin không gửi vị trí';
  return section(
    'Nội dung tin báo',
    h('p', { class: 'description' }, c.description),
    dl([
      ['Người báo tin', reporter],
      ['Thời điểm xảy ra (theo người báo)', c.occurred_at_text],
      ['Địa điểm (theo người báo)', c.place_text],
      ['Vị trí', location],
      ['Phường', c.ward ?? c.ward_named],
      ['Gửi lúc', h('time', { datetime: c.created_at }, dateTime(c.created_at))],
      ['Gửi qua', `${ctx.unitName(c.oa_key)} · ${label(SOURCE, c.source)}`],
      ['Đơn vị xử lý', ctx.unitName(c.unit)],
      ['Người xử lý', c.assignee ?? 'Chưa phân công'],
      c.priority_reason ? ['Lý do khẩn cấp', c.priority_reason] : null,
      c.acknowledged_at ? ['Tiếp nhận lúc', dateTime(c.acknowledged_at)] : null,
      c.closed_at ? ['Đóng lúc', dateTime(c.closed_at)] : null,
      c.status_reason ? ['Kết quả / lý do', c.status_reason] : null,
    ]),
  );
}

function actions(ctx, c, act) {
  const { config, session } = ctx;
  if (!session.sections.case_write) {
    return section('Xử lý hồ sơ', h('p', {}, 'Vai trò của bạn chỉ được xem hồ sơ.'));
  }
  const final = config.cases.final.includes(c.status);
  const allowed = config.cases.transitions[c.status] ?? [];
  const parts = [];
  if (!final) {
    const assignee = h('input', { value: c.assignee ?? session.sub, autocomplete: 'off', maxlength: 100 });
    parts.push(
      h(
        'form',
        { class: 'action-form', 'aria-label': 'Phân công' },
        h('h3', {}, 'Phân công'),
        field('Mã cán bộ xử lý', assignee),
        h(
          'div',
          { class: 'actions' },
          h(
            'button',
            { type: 'button', onclick: () => act(`Đã giao hồ sơ cho ${session.sub}.`, () => reports.assign(c.id, { assignee: session.sub, version: c.version })) },
            'Giao cho tôi',
          ),
          h('button', { type: 'submit' }, 'Phân công'),
        ),
      ),
    );
    parts[parts.length - 1].addEventListener('submit', (event) => {
      event.preventDefault();
      const who = assignee.value.trim();
      if (!who) return assignee.focus();
      act(`Đã giao hồ sơ cho ${who}.`, () => reports.assign(c.id, { assignee: who, version: c.version }));
    });
    const targets = allowed.filter((s) => s !== 'transferred');
    if (targets.length) {
      const reason = h('textarea', { rows: 3, maxlength: config.cases.reason_max });
      const reasonField = field(
        'Kết quả hoặc lý do (người dân sẽ nhận được)',
        reason,
        'Bắt buộc khi không tiếp nhận; nên ghi kết quả khi đã giải quyết xong.',
      );
      parts.push(
        h(
          'div',
          { class: 'action-form', role: 'group', 'aria-label': 'Cập nhật trạng thái' },
          h('h3', {}, 'Cập nhật trạng thái'),
          h('p', {}, 'Hiện tại: ', h('strong', {}, label(CASE_STATUS, c.status))),
          reasonField,
          h(
            'div',
            { class: 'actions status-actions' },
            targets.map((to) =>
              h(
                'button',
                {
                  type: 'button',
                  class: to === 'rejected' ? 'danger' : 'primary',
                  dataset: { status: to },
                  onclick: () => {
                    const text = reason.value.trim();
                    if (to === 'rejected' && !text) {
                      reason.setAttribute('aria-invalid', 'true');
                      reason.focus();
                      announce('Cần ghi lý do không tiếp nhận để gửi cho người dân.');
                      return;
                    }
                    act(`Đã chuyển trạng thái: ${label(CASE_STATUS, to)}.`, () =>
                      reports.status(c.id, { status: to, reason: text || null, version: c.version }),
                    );
                  },
                },
                label(CASE_ACTION, to),
              ),
            ),
          ),
        ),
      );
    }
    if (allowed.includes('transferred')) {
      const others = config.oas.filter((o) => o.key !== c.unit);
      const unit = select(others.map((o) => [o.key, o.name]), others[0]?.key);
      const why = h('input', { maxlength: config.cases.transfer_reason_max, autocomplete: 'off' });
      const form = h(
        'form',
        { class: 'action-form', 'aria-label': 'Chuyển đơn vị' },
        h('h3', {}, 'Chuyển đơn vị'),
        field('Đơn vị nhận', unit),
        field('Lý do chuyển (nội bộ)', why),
        h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Chuyển hồ sơ')),
      );
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        act(`Đã chuyển hồ sơ sang ${ctx.unitName(unit.value)}.`, () =>
          reports.transfer(c.id, { unit: unit.value, reason: why.value.trim() || null, version: c.version }),
        );
      });
      parts.push(form);
    }
  } else {
    parts.push(h('p', {}, `Hồ sơ đã đóng (${label(CASE_STATUS, c.status)}). Vẫn có thể ghi chú và nhắn cho người dân.`));
  }
  const reply = h('textarea', { rows: 3 });
  const replyForm = h(
    'form',
    { class: 'action-form', 'aria-label': 'Trả lời người dân' },
    h('h3', {}, 'Trả lời người dân'),
    field('Nội dung gửi qua Zalo', reply, 'Người dân nhận tin nhắn qua OA đã gửi tin báo (kể cả người báo ẩn danh).'),
    counter(reply, config.cases.reply_max),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Gửi cho người dân')),
  );
  replyForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = reply.value.trim();
    if (!text || text.length > config.cases.reply_max) return reply.focus();
    act('Đã gửi tin nhắn cho người dân.', () => reports.reply(c.id, { text }));
  });
  const note = h('textarea', { rows: 3 });
  const noteForm = h(
    'form',
    { class: 'action-form', 'aria-label': 'Ghi chú nội bộ' },
    h('h3', {}, 'Ghi chú nội bộ'),
    field('Ghi chú (không gửi cho người dân)', note),
    counter(note, config.cases.note_max),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Lưu ghi chú')),
  );
  noteForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = note.value.trim();
    if (!text || text.length > config.cases.note_max) return note.focus();
    act('Đã lưu ghi chú.', () => reports.note(c.id, { text }));
  });
  parts.push(replyForm, noteForm);
  return section('Xử lý hồ sơ', parts);
}

function auditTrail(ctx, c) {
  const body = h('div', {}, h('p', {}, 'Đang tải nhật ký…'));
  const box = section('Nhật ký truy cập', body);
  if (!ctx.session.sections.audit) {
    body.replaceChildren(
      h('p', {}, 'Mọi lần xem và thao tác trên hồ sơ đều được ghi vào nhật ký truy cập; chỉ kiểm tra viên xem được nhật ký này.'),
    );
    return box;
  }
  reports
    .audit({ case_id: c.id, limit: 100 })
    .then((page) => {
      body.replaceChildren(
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'audit' },
            h('caption', { class: 'visually-hidden' }, 'Nhật ký truy cập hồ sơ, mới nhất trước'),
            h('thead', {}, h('tr', {}, ['Thời điểm', 'Người', 'Vai trò', 'Thao tác', 'Kết quả', 'Địa chỉ IP'].map((t) => h('th', { scope: 'col' }, t)))),
            h(
              'tbody',
              {},
              page.items.map((e) =>
                h(
                  'tr',
                  {},
                  h('td', { 'data-label': 'Thời điểm' }, dateTime(e.at)),
                  h('td', { 'data-label': 'Người' }, e.actor),
                  h('td', { 'data-label': 'Vai trò' }, label(ROLES, e.role)),
                  h('td', { 'data-label': 'Thao tác' }, e.action),
                  h('td', { 'data-label': 'Kết quả' }, String(e.status ?? '')),
                  h('td', { 'data-label': 'Địa chỉ IP' }, e.ip ?? '—'),
                ),
              ),
            ),
          ),
        ),
      );
    })
    .catch((e) => body.replaceChildren(message('error', e.userMessage)));
  return box;
}

export function render(ctx, ref) {
  const { main, config } = ctx;
  forget(ref);
  const title = h('h1', { tabindex: -1 }, 'Hồ sơ');
  const badges = h('p', { class: 'badges' });
  const notice = h('div', { class: 'view-errors' });
  const result = h('div', { class: 'result', tabindex: -1 });
  const body = h('div', { class: 'case-grid' }, h('p', {}, 'Đang tải hồ sơ…'));
  let current = null;
  let busy = false;
  let stopped = false;
  let timer = null;

  function draw() {
    const c = current;
    title.textContent = `Hồ sơ ${c.code}`;
    ctx.setTitle(`Hồ sơ ${c.code}`);
    badges.replaceChildren(
      h('span', { class: `badge status-${c.status}`, dataset: { status: c.status } }, label(CASE_STATUS, c.status)),
      h('span', { class: `badge priority-${c.priority}` }, label(PRIORITY, c.priority)),
      h('span', { class: 'badge badge-plain' }, `${label(KIND, c.kind)} · ${label(CATEGORY, c.category)}`),
      c.reporter.anonymous ? h('span', { class: 'badge badge-plain' }, 'Người báo ẩn danh') : null,
    );
    body.replaceChildren(
      h(
        'div',
        { class: 'col-main' },
        details(ctx, c),
        section(`Ảnh người báo tin gửi (${c.attachments.length})`, photos(c)),
        section('Lịch sử xử lý', h('ol', { class: 'history', reversed: true }, [...c.history].reverse().map((e) => historyEntry(ctx, e)))),
        auditTrail(ctx, c),
      ),
      h('div', { class: 'col-side' }, actions(ctx, c, act)),
    );
  }

  async function load() {
    current = await reports.get(ref);
    if (!stopped) draw();
  }

  async function act(successText, call) {
    if (busy) return;
    busy = true;
    for (const b of body.querySelectorAll('button')) b.disabled = true;
    result.replaceChildren();
    let failure = null;
    try {
      await call();
    } catch (e) {
      failure = e;
    }
    try {
      current = await reports.get(ref);
    } catch (e) {
      if (!failure && e.status === 404) {
        // Transferred away: the case now belongs to a unit this officer does not see.
        busy = false;
        announce(`${successText} Hồ sơ không còn thuộc đơn vị của bạn.`);
        ctx.navigate('#/ho-so');
        return;
      }
    }
    // Drawn once everything is known, so the buttons come back only when they can be used again.
    busy = false;
    if (stopped) return;
    draw();
    result.replaceChildren(failure ? message('error', failure.userMessage ?? 'Không thực hiện được.') : message('success', successText));
    if (!failure) announce(successText);
    result.focus();
    if (failure) await ctx.handleError(failure);
  }

  async function poll() {
    if (stopped) return;
    if (!document.hidden && !busy && current) {
      try {
        const latest = await reports.get(ref);
        if (!stopped && latest.version !== current.version) {
          const reload = h('button', { type: 'button', onclick: () => { current = latest; notice.replaceChildren(); draw(); } }, 'Xem bản mới');
          notice.replaceChildren(h('div', { class: 'message message-info', role: 'status' }, `Hồ sơ vừa có thay đổi (phiên bản ${latest.version}). `, reload));
        }
      } catch {
        /* the next poll tries again */
      }
    }
    if (!stopped) timer = window.setTimeout(poll, config.poll_interval_ms);
  }

  main.append(h('p', { class: 'back' }, h('a', { href: '#/ho-so' }, '← Quay lại hàng đợi')), title, badges, notice, result, body);
  load()
    .then(() => {
      timer = window.setTimeout(poll, config.poll_interval_ms);
    })
    .catch(async (e) => {
      body.replaceChildren(message('error', e.userMessage ?? 'Không tải được hồ sơ.'));
      await ctx.handleError(e);
    });
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}
