// The case desk: the unit's queue (every unit for supervisors and auditors), urgent first, filtered as
// the officer API allows, refreshed by polling so new cases appear without reloading the page.

import { reports } from './api.js';
import { announce, field, h, message, select } from './dom.js';
import { ago, clock, dateTime } from './format.js';
import { CASE_STATUS, CATEGORY, KIND, PRIORITY, label } from './labels.js';

const OPEN_STATUSES = ['received', 'acknowledged', 'investigating', 'transferred'];
const PAGE = 50;

// Kept while the officer moves between the queue and a case.
const filters = { status: 'open', kind: '', priority: '', unit: '', ward: '', q: '', from: '', to: '', mine: false, order: 'urgent_first' };
const fresh = new Set(); // cases that arrived while the queue was open and were not opened yet

export function forget(caseId) {
  fresh.delete(caseId);
}

function params(session, cursor) {
  const p = { order: filters.order, limit: PAGE, cursor };
  p.status = filters.status === 'open' ? OPEN_STATUSES : filters.status;
  p.kind = filters.kind;
  p.priority = filters.priority;
  p.ward = filters.ward;
  p.q = filters.q.trim();
  if (filters.from) p.created_from = `${filters.from}T00:00:00`;
  if (filters.to) p.created_to = `${filters.to}T23:59:59`;
  if (session.role !== 'officer') p.unit = filters.unit;
  if (filters.mine) p.assignee = session.sub;
  return p;
}

function filterForm(ctx, onChange) {
  const { config, session } = ctx;
  const controls = [];
  const bind = (el, key, prop = 'value') => {
    el.addEventListener('change', () => {
      filters[key] = prop === 'checked' ? el.checked : el.value;
      onChange();
    });
    return el;
  };
  controls.push(
    field(
      'Trạng thái',
      bind(
        select(
          [['open', 'Đang mở (chưa xong)'], ['', 'Tất cả'], ...config.cases.statuses.map((s) => [s, CASE_STATUS[s]])],
          filters.status,
        ),
        'status',
      ),
    ),
    field('Mức độ', bind(select([['', 'Tất cả'], ['urgent', 'Khẩn cấp'], ['normal', 'Thường']], filters.priority), 'priority')),
    field('Loại tin', bind(select([['', 'Tất cả'], ...Object.entries(KIND)], filters.kind), 'kind')),
  );
  if (session.role !== 'officer') {
    controls.push(
      field('Đơn vị', bind(select([['', 'Tất cả đơn vị'], ...config.oas.map((o) => [o.key, o.name])], filters.unit), 'unit')),
    );
  }
  controls.push(
    field('Phường', bind(select([['', 'Tất cả'], ...config.wards.map((w) => [w, w])], filters.ward), 'ward')),
    field('Gửi từ ngày', bind(h('input', { type: 'date', value: filters.from }), 'from')),
    field('Đến ngày', bind(h('input', { type: 'date', value: filters.to }), 'to')),
    field('Sắp xếp', bind(select([['urgent_first', 'Khẩn cấp trước'], ['newest', 'Mới nhất trước']], filters.order), 'order')),
  );
  const search = h('input', { type: 'search', value: filters.q, placeholder: 'Mã hồ sơ, nội dung…' });
  const mine = bind(h('input', { type: 'checkbox', checked: filters.mine }), 'mine', 'checked');
  const mineId = 'filter-mine';
  mine.id = mineId;
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Lọc hồ sơ', id: 'case-filters' },
    controls,
    field('Tìm kiếm', search),
    h('div', { class: 'field checkbox' }, mine, h('label', { for: mineId }, 'Chỉ hồ sơ giao cho tôi')),
    h('div', { class: 'field actions' }, h('button', { type: 'submit' }, 'Tìm')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    filters.q = search.value;
    onChange();
  });
  // Folded on phones (the queue comes first there), open on wider screens.
  return h(
    'details',
    { class: 'filters-box', open: window.matchMedia('(min-width: 761px)').matches },
    h('summary', {}, 'Bộ lọc và tìm kiếm'),
    form,
  );
}

function row(ctx, c) {
  const isNew = fresh.has(c.id);
  return h(
    'tr',
    {
      class: ['case-row', c.priority === 'urgent' ? 'urgent' : '', isNew ? 'is-new' : ''].filter(Boolean).join(' '),
      dataset: { id: c.id, code: c.code, unit: c.unit, priority: c.priority, status: c.status },
    },
    h(
      'th',
      { scope: 'row', 'data-label': 'Mã hồ sơ' },
      h('a', { href: `#/ho-so/${encodeURIComponent(c.id)}` }, c.code),
      isNew ? h('span', { class: 'badge badge-new' }, 'Mới') : null,
    ),
    h('td', { 'data-label': 'Mức độ' }, h('span', { class: `badge priority-${c.priority}` }, label(PRIORITY, c.priority))),
    h('td', { 'data-label': 'Trạng thái' }, h('span', { class: `badge status-${c.status}` }, label(CASE_STATUS, c.status))),
    h(
      'td',
      { 'data-label': 'Nội dung', class: 'excerpt-cell' },
      h('span', { class: 'excerpt' }, c.excerpt),
      h('span', { class: 'meta' }, `${label(KIND, c.kind)} · ${label(CATEGORY, c.category)}`),
    ),
    h('td', { 'data-label': 'Đơn vị' }, ctx.unitName(c.unit)),
    h('td', { 'data-label': 'Phường' }, c.ward ?? '—'),
    h('td', { 'data-label': 'Người xử lý' }, c.assignee ?? h('span', { class: 'meta' }, 'Chưa phân công')),
    h(
      'td',
      { 'data-label': 'Gửi lúc' },
      h('time', { datetime: c.created_at }, dateTime(c.created_at)),
      h('span', { class: 'meta' }, ago(c.created_at)),
    ),
    h('td', { 'data-label': 'Ảnh', class: 'num' }, c.attachments ? String(c.attachments) : '—'),
  );
}

export function render(ctx) {
  const { main, session, config } = ctx;
  const everyUnit = session.role !== 'officer';
  const status = h('p', { class: 'status-line', id: 'queue-status' }, 'Đang tải…');
  const errors = h('div', { class: 'view-errors' });
  const tbody = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, 'Tải thêm hồ sơ');
  const table = h(
    'table',
    { class: 'queue', 'aria-describedby': 'queue-status' },
    h('caption', { class: 'visually-hidden' }, 'Danh sách hồ sơ, khẩn cấp trước'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Mã hồ sơ', 'Mức độ', 'Trạng thái', 'Nội dung', 'Đơn vị', 'Phường', 'Người xử lý', 'Gửi lúc', 'Ảnh'].map((t) =>
          h('th', { scope: 'col' }, t),
        ),
      ),
    ),
    tbody,
  );
  let first = []; // the first page, refreshed by every poll
  let extra = []; // further pages the officer asked for
  let cursor = null;
  let seen = null; // ids already shown: anything else in a poll is new
  let timer = null;
  let stopped = false;
  let generation = 0;

  function draw() {
    const ids = new Set(first.map((c) => c.id));
    const items = [...first, ...extra.filter((c) => !ids.has(c.id))];
    tbody.replaceChildren(
      ...(items.length
        ? items.map((c) => row(ctx, c))
        : [h('tr', {}, h('td', { colspan: 9, class: 'empty' }, 'Không có hồ sơ nào khớp bộ lọc.'))]),
    );
    more.hidden = !cursor;
    status.textContent = `${items.length} hồ sơ · cập nhật lúc ${clock()} · tự làm mới mỗi ${Math.round(config.poll_interval_ms / 1000)} giây`;
  }

  async function load(reset) {
    const mine = ++generation;
    if (reset) {
      seen = null;
      extra = [];
    }
    try {
      const page = await reports.list(params(session));
      if (stopped || mine !== generation) return;
      errors.replaceChildren();
      const arrived = seen ? page.items.filter((c) => !seen.has(c.id)) : [];
      seen = new Set([...(seen ?? []), ...page.items.map((c) => c.id)]);
      for (const c of arrived) fresh.add(c.id);
      first = page.items;
      if (reset || !extra.length) cursor = page.next_cursor;
      draw();
      if (arrived.length) {
        const urgent = arrived.filter((c) => c.priority === 'urgent').length;
        announce(`Có ${arrived.length} hồ sơ mới${urgent ? `, trong đó ${urgent} hồ sơ khẩn cấp` : ''}.`);
      }
    } catch (e) {
      if (stopped) return;
      errors.replaceChildren(message('error', e.userMessage ?? 'Không tải được danh sách hồ sơ.'));
      status.textContent = `Không tải được danh sách lúc ${clock()}; sẽ thử lại.`;
      await ctx.handleError(e);
    }
  }

  async function tick() {
    if (stopped) return;
    if (!document.hidden) await load(false);
    if (!stopped) timer = window.setTimeout(tick, config.poll_interval_ms);
  }

  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const page = await reports.list(params(session, cursor));
      extra = [...extra, ...page.items];
      for (const c of page.items) seen?.add(c.id);
      cursor = page.next_cursor;
      draw();
    } catch (e) {
      errors.replaceChildren(message('error', e.userMessage));
    } finally {
      more.disabled = false;
    }
  });

  main.append(
    h('h1', { tabindex: -1 }, 'Hàng đợi hồ sơ'),
    h('p', { class: 'lead' }, everyUnit ? 'Tất cả đơn vị' : `Đơn vị: ${ctx.unitName(session.unit)}`),
    filterForm(ctx, () => load(true)),
    errors,
    status,
    h('div', { class: 'table-wrap' }, table),
    h('div', { class: 'actions' }, more),
  );
  load(true).then(() => {
    if (!stopped) timer = window.setTimeout(tick, config.poll_interval_ms);
  });
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}
