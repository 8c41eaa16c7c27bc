// The newsroom: editors draft campaigns with a preview of the Zalo message and the reach of the chosen
// OAs and wards; supervisors approve (never their own: four eyes); running campaigns show live progress
// with pause, resume and cancel.

import { news } from './api.js';
import { announce, field, h, message, select, uid } from './dom.js';
import { campaignPercent, dateTime, isoToLocal, localToIso, number } from './format.js';
import { CAMPAIGN_ACTION, CAMPAIGN_CHANGE, CAMPAIGN_STATE, SKIP_REASON, label } from './labels.js';

function section(title, ...children) {
  const id = uid('sec');
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), children);
}

function targetText(ctx, target) {
  if (!target || target.everyone) return 'Tất cả người theo dõi';
  const parts = [];
  if (target.oa_keys?.length) parts.push(`OA: ${target.oa_keys.map((k) => ctx.unitName(k)).join(', ')}`);
  if (target.wards?.length) parts.push(`Phường: ${target.wards.join(', ')}`);
  if (target.topics?.length) parts.push(`Chủ đề: ${target.topics.join(', ')}`);
  return parts.join(' · ') || '—';
}

function channelsText(channels) {
  const parts = [];
  if (channels?.article) parts.push('Bài viết và thông báo (broadcast) trên OA');
  if (channels?.direct) parts.push(`Tin nhắn trực tiếp (${channels.allow_billed ? 'đến 7 ngày, có tính phí' : 'trong 48 giờ miễn phí'})`);
  return parts.join(' · ') || '—';
}

/** The direct message exactly as the news service writes it (services/news/domain.py dm_text). */
function dmText(config, spec) {
  let text = spec.dm_text?.trim() ? spec.dm_text.trim() : `${spec.title.trim()}\n\n${spec.summary.trim()}`;
  if (spec.link) text += `\n\n${config.campaigns.read_more_line.replace('{link}', spec.link)}`;
  return text;
}

/** How the campaign will look in Zalo: the article card of the broadcast and the direct message. */
function zaloPreview(ctx, spec) {
  const { config } = ctx;
  const oaKey = spec.target?.oa_keys?.[0] ?? ctx.session.unit;
  const parts = [h('p', { class: 'phone-oa' }, ctx.unitName(oaKey) || 'Zalo OA')];
  if (spec.channels.article) {
    let cover;
    if (spec.cover_url?.startsWith('https://')) {
      cover = h('img', { src: spec.cover_url, alt: 'Ảnh bìa bài viết', class: 'zalo-cover' });
      cover.addEventListener('error', () =>
        cover.replaceWith(h('div', { class: 'zalo-cover placeholder' }, 'Không tải được ảnh bìa từ địa chỉ này')),
      );
    } else {
      cover = h('div', { class: 'zalo-cover placeholder' }, 'Chưa có ảnh bìa (bắt buộc, địa chỉ https://)');
    }
    parts.push(
      h(
        'div',
        { class: 'zalo-article', 'aria-label': 'Thông báo bài viết' },
        cover,
        h('p', { class: 'zalo-title' }, spec.title || 'Tiêu đề bài viết'),
        h('p', { class: 'zalo-summary' }, spec.summary || 'Tóm tắt bài viết'),
        h('span', { class: 'zalo-button' }, config.campaigns.button_read),
      ),
    );
  }
  if (spec.channels.direct) {
    parts.push(
      h(
        'div',
        { class: 'zalo-bubble', 'aria-label': 'Tin nhắn trực tiếp' },
        h('p', { class: 'pre' }, dmText(config, spec)),
        spec.link ? h('span', { class: 'zalo-button' }, config.campaigns.button_read) : null,
        h('span', { class: 'zalo-button' }, config.campaigns.button_unsubscribe),
      ),
    );
  }
  if (!spec.channels.article && !spec.channels.direct) parts.push(h('p', {}, 'Chưa chọn kênh gửi.'));
  return h('div', { class: 'phone', role: 'group', 'aria-label': 'Xem trước trên Zalo' }, parts);
}

// --- list ----------------------------------------------------------------------------------------------

let listState = '';

export function renderList(ctx) {
  const { main, config } = ctx;
  const errors = h('div', { class: 'view-errors' });
  const tbody = h('tbody');
  let timer = null;
  let stopped = false;
  const stateSelect = select([['', 'Tất cả'], ...config.campaigns.states.map((s) => [s, CAMPAIGN_STATE[s]])], listState);
  stateSelect.addEventListener('change', () => {
    listState = stateSelect.value;
    load();
  });

  async function load() {
    try {
      const data = await news.list({ state: listState, limit: 100 });
      if (stopped) return;
      errors.replaceChildren();
      tbody.replaceChildren(
        ...(data.campaigns.length
          ? data.campaigns.map((c) =>
              h(
                'tr',
                { dataset: { id: c.id, state: c.state } },
                h('th', { scope: 'row', 'data-label': 'Tiêu đề' }, h('a', { href: `#/tin-tuc/${encodeURIComponent(c.id)}` }, c.title || '(chưa có tiêu đề)')),
                h('td', { 'data-label': 'Trạng thái' }, h('span', { class: `badge campaign-${c.state}` }, label(CAMPAIGN_STATE, c.state))),
                h('td', { 'data-label': 'Đối tượng' }, targetText(ctx, c.target)),
                h('td', { 'data-label': 'Người soạn' }, c.author),
                h('td', { 'data-label': 'Hẹn gửi' }, c.send_at ? dateTime(c.send_at) : 'Ngay khi duyệt'),
                h('td', { 'data-label': 'Cập nhật' }, dateTime(c.updated_at)),
              ),
            )
          : [h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'Chưa có chiến dịch nào.'))]),
      );
    } catch (e) {
      if (stopped) return;
      errors.replaceChildren(message('error', e.userMessage));
      await ctx.handleError(e);
    }
  }

  async function tick() {
    if (stopped) return;
    if (!document.hidden) await load();
    if (!stopped) timer = window.setTimeout(tick, config.poll_interval_ms);
  }

  main.append(
    h('h1', { tabindex: -1 }, 'Tin tức và cảnh báo'),
    h('p', { class: 'actions' }, h('a', { class: 'button primary', href: '#/tin-tuc/moi' }, 'Soạn tin mới')),
    h('form', { class: 'filters', role: 'search', 'aria-label': 'Lọc chiến dịch' }, field('Trạng thái', stateSelect)),
    errors,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'campaigns' },
        h('caption', { class: 'visually-hidden' }, 'Các chiến dịch tin tức, mới nhất trước'),
        h('thead', {}, h('tr', {}, ['Tiêu đề', 'Trạng thái', 'Đối tượng', 'Người soạn', 'Hẹn gửi', 'Cập nhật'].map((t) => h('th', { scope: 'col' }, t)))),
        tbody,
      ),
    ),
  );
  load().then(() => {
    if (!stopped) timer = window.setTimeout(tick, config.poll_interval_ms);
  });
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}

// --- editor --------------------------------------------------------------------------------------------

function checkboxGroup(legend, items, chosen, name) {
  const boxes = items.map(([value, text]) => {
    const id = uid(name);
    const box = h('input', { type: 'checkbox', id, value, name, checked: chosen.includes(value) });
    return { box, el: h('div', { class: 'check' }, box, h('label', { for: id }, text)) };
  });
  const el = h('fieldset', { class: 'checks' }, h('legend', {}, legend), boxes.map((b) => b.el));
  return { el, values: () => boxes.filter((b) => b.box.checked).map((b) => b.box.value), boxes: boxes.map((b) => b.box) };
}

function newKey() {
  return window.crypto?.randomUUID ? window.crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

export function renderEditor(ctx, campaignId) {
  const { main, config } = ctx;
  const heading = h('h1', { tabindex: -1 }, campaignId ? 'Sửa bản nháp' : 'Soạn tin mới');
  const holder = h('div', {}, h('p', {}, 'Đang tải…'));
  main.append(h('p', { class: 'back' }, h('a', { href: '#/tin-tuc' }, '← Danh sách tin')), heading, holder);
  let stopped = false;
  let debounce = null;
  const idempotencyKey = newKey();

  function build(existing) {
    const spec = existing ?? {
      title: '',
      summary: '',
      cover_url: '',
      body: [],
      link: '',
      dm_text: '',
      target: { everyone: false, oa_keys: [], wards: [], topics: [] },
      channels: { article: true, direct: true, allow_billed: false },
      send_at: null,
    };
    const errors = h('div', { class: 'form-errors', tabindex: -1 });
    const title = h('input', { name: 'title', value: spec.title, required: true, autocomplete: 'off' });
    const summary = h('textarea', { name: 'summary', rows: 3 }, spec.summary);
    const cover = h('input', { name: 'cover_url', type: 'url', value: spec.cover_url ?? '', placeholder: 'https://…', autocomplete: 'off' });
    const bodyText = h('textarea', { name: 'body', rows: 6 }, (spec.body ?? []).filter((b) => b.type === 'text').map((b) => b.content).join('\n\n'));
    const link = h('input', { name: 'link', type: 'url', value: spec.link ?? '', placeholder: 'https://…', autocomplete: 'off' });
    const dm = h('textarea', { name: 'dm_text', rows: 3 }, spec.dm_text ?? '');
    const article = h('input', { type: 'checkbox', id: uid('ch'), checked: spec.channels.article });
    const direct = h('input', { type: 'checkbox', id: uid('ch'), checked: spec.channels.direct });
    const billed = h('input', { type: 'checkbox', id: uid('ch'), checked: spec.channels.allow_billed });
    const everyone = h('input', { type: 'radio', name: 'audience', id: uid('aud'), value: 'everyone', checked: Boolean(spec.target.everyone) });
    const chosen = h('input', { type: 'radio', name: 'audience', id: uid('aud'), value: 'chosen', checked: !spec.target.everyone });
    const oas = checkboxGroup('OA đăng bài và nhắn tin', config.oas.map((o) => [o.key, o.name]), spec.target.oa_keys ?? [], 'oa');
    const wards = checkboxGroup('Phường', [...config.wards, ...config.old_wards].map((w) => [w, config.old_wards.includes(w) ? `${w} (tên cũ)` : w]), spec.target.wards ?? [], 'ward');
    const topics = h('input', { name: 'topics', value: (spec.target.topics ?? []).join(', '), autocomplete: 'off', placeholder: 'ví dụ: lừa đảo, giao thông' });
    const sendAt = h('input', { type: 'datetime-local', name: 'send_at', value: isoToLocal(spec.send_at) });
    const reach = h('div', { class: 'reach', 'aria-live': 'polite', id: 'reach' }, 'Chọn đối tượng để xem số người nhận.');
    const previewBox = h('div', {});
    const save = h('button', { type: 'submit', class: 'primary' }, campaignId ? 'Lưu thay đổi' : 'Lưu bản nháp');

    const counters = [];
    const withCounter = (input, max) => {
      const out = h('span', { class: 'counter' });
      const update = () => {
        out.textContent = `${input.value.trim().length}/${max} ký tự`;
        out.classList.toggle('over', input.value.trim().length > max);
      };
      input.addEventListener('input', update);
      counters.push(update);
      update();
      return out;
    };

    const current = () => {
      const everyoneChosen = everyone.checked;
      return {
        title: title.value.trim(),
        summary: summary.value.trim(),
        cover_url: cover.value.trim() || null,
        body: bodyText.value
          .split(/\n\s*\n/)
          .map((t) => t.trim())
          .filter(Boolean)
          .map((content) => ({ type: 'text', content })),
        link: link.value.trim() || null,
        dm_text: dm.value.trim() || null,
        target: everyoneChosen
          ? { everyone: true }
          : {
              oa_keys: oas.values(),
              wards: wards.values(),
              topics: topics.value
                .split(',')
                .map((t) => t.trim())
                .filter(Boolean),
            },
        channels: { article: article.checked, direct: direct.checked, allow_billed: billed.checked },
        send_at: localToIso(sendAt.value),
      };
    };

    const refreshPreview = () => previewBox.replaceChildren(zaloPreview(ctx, current()));

    const refreshReach = () => {
      window.clearTimeout(debounce);
      debounce = window.setTimeout(async () => {
        const spec = current();
        const t = spec.target;
        if (!t.everyone && !t.oa_keys.length && !t.wards.length && !t.topics.length) {
          reach.textContent = 'Chọn đối tượng để xem số người nhận.';
          return;
        }
        try {
          const r = await news.preview(spec.target, spec.channels);
          if (stopped) return;
          reach.replaceChildren(
            h('p', {}, h('strong', { dataset: { followers: r.followers } }, number(r.followers)), ' người theo dõi phù hợp'),
            spec.channels.direct
              ? h('p', {}, h('strong', {}, number(r.reachable_directly)), ` người nhận được tin nhắn trực tiếp ngay (trong ${number(r.window_hours)} giờ kể từ lần tương tác cuối)`)
              : null,
            spec.channels.article
              ? h('p', {}, `Bài viết đăng trên ${r.broadcast_oas.length} OA: ${r.broadcast_oas.map((k) => ctx.unitName(k)).join(', ') || '—'}`)
              : null,
          );
        } catch (e) {
          if (stopped) return;
          reach.replaceChildren(message('error', e.userMessage));
        }
      }, 400);
    };

    const syncAudience = () => {
      const disabled = everyone.checked;
      for (const box of [...oas.boxes, ...wards.boxes, topics]) box.disabled = disabled;
    };

    const form = h(
      'form',
      { class: 'editor', novalidate: true, 'aria-labelledby': heading.id || undefined },
      errors,
      section(
        'Nội dung',
        field('Tiêu đề', title, `Zalo nhận dưới ${config.campaigns.title_max + 1} ký tự.`),
        withCounter(title, config.campaigns.title_max),
        field('Tóm tắt', summary, `Hiện dưới tiêu đề; dưới ${config.campaigns.summary_max + 1} ký tự.`),
        withCounter(summary, config.campaigns.summary_max),
        field('Ảnh bìa (địa chỉ https://)', cover, 'Bắt buộc khi đăng bài viết.'),
        field('Nội dung bài viết', bodyText, 'Mỗi đoạn cách nhau một dòng trống.'),
        field('Liên kết “Xem chi tiết” (https://)', link, 'Bắt buộc khi nhắn tin trực tiếp.'),
        field('Tin nhắn trực tiếp (không bắt buộc)', dm, 'Để trống: dùng tiêu đề và tóm tắt.'),
      ),
      section(
        'Kênh gửi',
        h('div', { class: 'check' }, article, h('label', { for: article.id }, 'Đăng bài viết và gửi thông báo (broadcast) trên OA')),
        h('div', { class: 'check' }, direct, h('label', { for: direct.id }, 'Nhắn tin trực tiếp cho người theo dõi còn trong thời hạn nhắn tin')),
        h('div', { class: 'check' }, billed, h('label', { for: billed.id }, 'Dùng cả thời hạn có tính phí (48 giờ đến 7 ngày)')),
      ),
      section(
        'Đối tượng nhận',
        h(
          'fieldset',
          { class: 'checks' },
          h('legend', {}, 'Gửi cho'),
          h('div', { class: 'check' }, everyone, h('label', { for: everyone.id }, 'Tất cả người theo dõi của mọi OA')),
          h('div', { class: 'check' }, chosen, h('label', { for: chosen.id }, 'Chọn theo OA, phường, chủ đề')),
        ),
        oas.el,
        wards.el,
        field('Chủ đề (phân cách bằng dấu phẩy)', topics),
        reach,
      ),
      section('Thời điểm gửi', field('Hẹn giờ gửi (giờ Việt Nam)', sendAt, 'Để trống: gửi ngay khi được duyệt.')),
      h('div', { class: 'actions' }, save),
    );
    form.addEventListener('input', refreshPreview);
    form.addEventListener('change', (event) => {
      syncAudience();
      refreshPreview();
      if (!['title', 'summary', 'cover_url', 'body', 'link', 'dm_text', 'send_at'].includes(event.target.name)) refreshReach();
    });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      errors.replaceChildren();
      const spec = current();
      const problems = [];
      if (!spec.title) problems.push('Tiêu đề: bắt buộc');
      if (spec.title.length > config.campaigns.title_max) problems.push(`Tiêu đề: dài quá ${config.campaigns.title_max} ký tự`);
      if (!spec.summary) problems.push('Tóm tắt: bắt buộc');
      if (spec.summary.length > config.campaigns.summary_max) problems.push(`Tóm tắt: dài quá ${config.campaigns.summary_max} ký tự`);
      if (problems.length) {
        errors.replaceChildren(message('error', `Chưa lưu được: ${problems.join('; ')}.`));
        errors.focus();
        return;
      }
      save.disabled = true;
      try {
        const saved = campaignId ? await news.edit(campaignId, spec) : await news.create(spec, idempotencyKey);
        announce('Đã lưu bản nháp.');
        ctx.navigate(`#/tin-tuc/${encodeURIComponent(saved.id)}`);
      } catch (e) {
        errors.replaceChildren(message('error', e.userMessage));
        errors.focus();
        save.disabled = false;
        await ctx.handleError(e);
      }
    });

    holder.replaceChildren(
      h(
        'div',
        { class: 'editor-grid' },
        form,
        h('aside', { class: 'preview card', 'aria-labelledby': 'preview-title' }, h('h2', { id: 'preview-title' }, 'Xem trước trên Zalo'), previewBox),
      ),
    );
    syncAudience();
    refreshPreview();
    refreshReach();
  }

  if (campaignId) {
    news
      .get(campaignId)
      .then((c) => {
        if (stopped) return;
        if (c.state !== 'draft') {
          holder.replaceChildren(message('error', 'Chỉ sửa được bản nháp. Chiến dịch này đã được duyệt hoặc đã kết thúc.'));
          return;
        }
        build(c);
      })
      .catch(async (e) => {
        holder.replaceChildren(message('error', e.userMessage));
        await ctx.handleError(e);
      });
  } else {
    build(null);
  }
  return () => {
    stopped = true;
    window.clearTimeout(debounce);
  };
}

// --- one campaign: approval, progress, lifecycle ------------------------------------------------------

function progressView(ctx, campaign, progress) {
  const percent = campaignPercent(progress?.state ?? campaign.state, progress, campaign.channels);
  const labelId = uid('progress');
  const a = progress?.article_broadcast ?? {};
  const d = progress?.direct_messages ?? {};
  const skipped = (reasons) =>
    Object.entries(reasons ?? {})
      .map(([k, v]) => `${label(SKIP_REASON, k)}: ${number(v)}`)
      .join(', ');
  const rows = [];
  if (campaign.channels.article) {
    rows.push(
      h(
        'tr',
        {},
        h('th', { scope: 'row' }, 'Bài viết (broadcast)'),
        h('td', { 'data-label': 'Mục tiêu' }, `${number(a.targeted)} OA`),
        h('td', { 'data-label': 'Đã gửi' }, number(a.sent)),
        h('td', { 'data-label': 'Lỗi' }, number(a.failed)),
        h('td', { 'data-label': 'Bỏ qua' }, `${number(a.skipped)}${a.skipped ? ` (${skipped(a.skipped_by_reason)})` : ''}`),
        h('td', { 'data-label': 'Đang chờ' }, number(a.in_flight)),
      ),
    );
  }
  if (campaign.channels.direct) {
    rows.push(
      h(
        'tr',
        {},
        h('th', { scope: 'row' }, 'Tin nhắn trực tiếp'),
        h('td', { 'data-label': 'Mục tiêu' }, `${number(d.reachable)} / ${number(d.targeted)} người`),
        h('td', { 'data-label': 'Đã gửi' }, number(d.sent)),
        h('td', { 'data-label': 'Lỗi' }, number(d.failed)),
        h('td', { 'data-label': 'Bỏ qua' }, `${number(d.skipped)}${d.skipped ? ` (${skipped(d.skipped_by_reason)})` : ''}`),
        h('td', { 'data-label': 'Đang chờ' }, `${number(d.in_flight)}${d.remaining ? ` · còn ${number(d.remaining)}` : ''}`),
      ),
    );
  }
  const bar = h('progress', { max: 100, value: percent, 'aria-labelledby': labelId, dataset: { percent } });
  return h(
    'div',
    {},
    h('p', { class: 'percent', id: labelId }, 'Đã xử lý ', h('strong', { class: 'percent-value', dataset: { percent } }, `${percent} %`), ` · ${label(CAMPAIGN_STATE, progress?.state ?? campaign.state)}`),
    bar,
    d.rate_per_s && progress?.state === 'running'
      ? h('p', { class: 'meta' }, `Tốc độ ${d.rate_per_s} tin/giây; dự kiến xong sau khoảng ${Math.ceil((d.eta_s ?? 0) / 60)} phút.`)
      : null,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'progress-table' },
        h('caption', { class: 'visually-hidden' }, 'Tiến độ theo kênh'),
        h('thead', {}, h('tr', {}, ['Kênh', 'Mục tiêu', 'Đã gửi', 'Lỗi', 'Bỏ qua', 'Đang chờ'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, rows),
      ),
    ),
  );
}

export function renderDetail(ctx, campaignId) {
  const { main, config, session } = ctx;
  const title = h('h1', { tabindex: -1 }, 'Chiến dịch');
  const badges = h('p', { class: 'badges' });
  const result = h('div', { class: 'result', tabindex: -1 });
  const body = h('div', { class: 'case-grid' }, h('p', {}, 'Đang tải…'));
  const progressBox = h('div', { 'aria-live': 'off' }, h('p', {}, 'Đang tải tiến độ…'));
  let campaign = null;
  let progress = null;
  let stopped = false;
  let timer = null;
  let busy = false;

  const sources = (action) => config.campaigns.action_sources[action] ?? [];

  function actionButtons(c) {
    const out = [];
    if (c.state === 'draft') out.push(h('a', { class: 'button', href: `#/tin-tuc/${encodeURIComponent(c.id)}/sua` }, 'Sửa bản nháp'));
    const supervisor = session.role === 'supervisor';
    if (supervisor && sources('approve').includes(c.state)) {
      const own = c.author === session.sub || (c.editors ?? []).includes(session.sub);
      if (own) {
        const why = uid('why');
        out.push(
          h('button', { type: 'button', disabled: true, 'aria-describedby': why }, CAMPAIGN_ACTION.approve),
          h('p', { class: 'hint', id: why }, 'Bạn đã soạn hoặc sửa tin này nên không tự duyệt được (nguyên tắc bốn mắt). Cần một chỉ huy khác duyệt.'),
        );
      } else {
        out.push(h('button', { type: 'button', class: 'primary', dataset: { action: 'approve' }, onclick: () => act('approve') }, CAMPAIGN_ACTION.approve));
      }
    }
    if (supervisor && sources('pause').includes(c.state))
      out.push(h('button', { type: 'button', dataset: { action: 'pause' }, onclick: () => act('pause') }, CAMPAIGN_ACTION.pause));
    if (supervisor && sources('resume').includes(c.state))
      out.push(h('button', { type: 'button', class: 'primary', dataset: { action: 'resume' }, onclick: () => act('resume') }, CAMPAIGN_ACTION.resume));
    const mayCancel = supervisor || (session.role === 'editor' && c.state === 'draft' && c.author === session.sub);
    if (mayCancel && sources('cancel').includes(c.state)) {
      const confirmBox = h('div', { class: 'confirm', hidden: true, role: 'group', 'aria-label': 'Xác nhận hủy' });
      const cancel = h('button', { type: 'button', class: 'danger', dataset: { action: 'cancel' } }, CAMPAIGN_ACTION.cancel);
      cancel.addEventListener('click', () => {
        confirmBox.hidden = false;
        cancel.hidden = true;
        confirmBox.querySelector('button').focus();
      });
      confirmBox.append(
        h('p', {}, 'Hủy chiến dịch? Tin chưa gửi sẽ không được gửi nữa.'),
        h('button', { type: 'button', class: 'danger', onclick: () => act('cancel') }, 'Xác nhận hủy'),
        h(
          'button',
          {
            type: 'button',
            onclick: () => {
              confirmBox.hidden = true;
              cancel.hidden = false;
              cancel.focus();
            },
          },
          'Không hủy',
        ),
      );
      out.push(cancel, confirmBox);
    }
    return out.length ? out : [h('p', {}, 'Không có thao tác nào cho vai trò của bạn ở trạng thái này.')];
  }

  function draw() {
    const c = campaign;
    title.textContent = c.title || '(chưa có tiêu đề)';
    ctx.setTitle(c.title || 'Chiến dịch');
    badges.replaceChildren(h('span', { class: `badge campaign-${c.state}`, dataset: { state: c.state } }, label(CAMPAIGN_STATE, c.state)));
    const history = h(
      'ol',
      { class: 'history' },
      (c.history ?? []).map((e) =>
        h('li', {}, h('p', { class: 'history-head' }, h('strong', {}, label(CAMPAIGN_CHANGE, e.change)), ` · ${e.by ?? ''} · `, h('time', { datetime: e.at }, dateTime(e.at)))),
      ),
    );
    body.replaceChildren(
      h(
        'div',
        { class: 'col-main' },
        c.state === 'draft' ? null : section('Tiến độ gửi', progressBox),
        section(
          'Thông tin',
          h(
            'dl',
            { class: 'facts' },
            [
              ['Người soạn', `${c.author}${c.author_unit ? ` · ${ctx.unitName(c.author_unit)}` : ''}`],
              ['Người sửa', (c.editors ?? []).join(', ') || '—'],
              ['Người duyệt', c.approved_by ?? 'Chưa duyệt'],
              ['Đối tượng', targetText(ctx, c.target)],
              ['Kênh gửi', channelsText(c.channels)],
              ['Liên kết', c.link ?? '—'],
              ['Hẹn gửi', c.send_at ? dateTime(c.send_at) : 'Ngay khi duyệt'],
              ['Tạo lúc', dateTime(c.created_at)],
            ].map(([t, v]) => [h('dt', {}, t), h('dd', {}, v)]),
          ),
        ),
        section('Lịch sử', history),
      ),
      h(
        'div',
        { class: 'col-side' },
        section('Thao tác', h('div', { class: 'actions stacked' }, actionButtons(c))),
        h('aside', { class: 'preview card', 'aria-labelledby': 'preview-title' }, h('h2', { id: 'preview-title' }, 'Xem trước trên Zalo'), zaloPreview(ctx, c)),
      ),
    );
    if (progress) progressBox.replaceChildren(progressView(ctx, campaign, progress));
  }

  async function loadCampaign() {
    campaign = await news.get(campaignId);
    if (!stopped) draw();
  }

  async function loadProgress() {
    if (!campaign || campaign.state === 'draft') return;
    progress = await news.progress(campaignId);
    if (stopped) return;
    if (progress.state !== campaign.state) {
      await loadCampaign();
      announce(`Chiến dịch: ${label(CAMPAIGN_STATE, campaign.state)}.`);
    }
    progressBox.replaceChildren(progressView(ctx, campaign, progress));
  }

  async function act(action) {
    if (busy) return;
    busy = true;
    for (const b of body.querySelectorAll('button')) b.disabled = true;
    result.replaceChildren();
    let text = null;
    let failure = null;
    try {
      campaign = await news.act(campaignId, action);
      if (campaign.state !== 'draft') progress = await news.progress(campaignId).catch(() => progress);
      text = `Đã thực hiện: ${CAMPAIGN_ACTION[action]}. Trạng thái: ${label(CAMPAIGN_STATE, campaign.state)}.`;
    } catch (e) {
      failure = e;
      campaign = await news.get(campaignId).catch(() => campaign);
    }
    // Drawn once everything is known, so the buttons come back only when they can be used again.
    busy = false;
    draw();
    result.replaceChildren(failure ? message('error', failure.userMessage) : message('success', text));
    if (text) announce(text);
    result.focus();
    if (failure) await ctx.handleError(failure);
  }

  async function poll() {
    if (stopped) return;
    const final = campaign && config.campaigns.final.includes(campaign.state) && progress;
    if (!document.hidden && !busy && !final) {
      try {
        if (campaign?.state === 'draft') await loadCampaign();
        else await loadProgress();
      } catch {
        /* the next poll tries again */
      }
    }
    if (!stopped) timer = window.setTimeout(poll, campaign?.state === 'draft' ? config.poll_interval_ms : config.progress_poll_ms);
  }

  main.append(h('p', { class: 'back' }, h('a', { href: '#/tin-tuc' }, '← Danh sách tin')), title, badges, result, body);
  loadCampaign()
    .then(loadProgress)
    .then(() => {
      timer = window.setTimeout(poll, config.progress_poll_ms);
    })
    .catch(async (e) => {
      body.replaceChildren(message('error', e.userMessage ?? 'Không tải được chiến dịch.'));
      await ctx.handleError(e);
    });
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}

