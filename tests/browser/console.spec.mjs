// Drives the officer console in Debian's headless Chromium, as tests/browser/test_console.py asks, and
// prints one JSON object (the observations) on stdout; the pytest side asserts on it.
//
// Input (environment): CONSOLE_URL, SIM_URL, ARTIFACTS (screenshots folder), OFFICER_UNIT, CASE_A (a case of
// the officer's unit with a photo, anonymous), CASE_B (an urgent case of another unit), LIVE_OA + LIVE_USER
// (a citizen who reports an emergency while the queue is open), CAMPAIGN_OA, CAMPAIGN_TITLE,
// SCHEDULED_ID (an editor's draft scheduled for later), OWN_ID (a draft the supervisor wrote).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const env = process.env;
const CONSOLE = env.CONSOLE_URL;
const ARTIFACTS = env.ARTIFACTS;
const SUPERVISOR = 'chihuy01';
const out = { officer: {}, live: {}, editor: {}, supervisor: {}, a11y: {}, screenshots: [] };
const pageErrors = [];
const cspErrors = [];

fs.mkdirSync(ARTIFACTS, { recursive: true });
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zan-console-profile-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
  viewport: { width: 1280, height: 900 },
  locale: 'vi-VN',
  timezoneId: 'Asia/Ho_Chi_Minh',
});
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(20_000);
page.on('pageerror', (e) => pageErrors.push(e.message));
page.on('console', (m) => {
  if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
});

async function shot(name, fullPage = true) {
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage });
  out.screenshots.push(file);
}

async function citizenSays(oa, user, text) {
  const r = await fetch(`${env.SIM_URL}/_sim/users/${oa}/${user}/text`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text }),
  });
  if (!r.ok) throw new Error(`simulator: ${r.status}`);
}

// Contrast of every visible text against its effective background, and controls without a label.
function auditPage() {
  const parse = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return { r, g, b, a };
  };
  const lum = ({ r, g, b }) => {
    const f = (v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const visible = (el) => {
    if (el.closest('[hidden], .visually-hidden, option, script, style, noscript')) return false;
    const s = getComputedStyle(el);
    return s.visibility !== 'hidden' && s.display !== 'none' && el.getClientRects().length > 0;
  };
  const violations = [];
  for (const el of document.body.querySelectorAll('*')) {
    const text = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent.trim()).join(' ').trim();
    if (!text || !visible(el) || el.disabled || el.closest('button:disabled')) continue;
    const s = getComputedStyle(el);
    const fg = parse(s.color);
    const bg = background(el);
    const [l1, l2] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    const size = parseFloat(s.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) violations.push({ text: text.slice(0, 40), ratio: Math.round(ratio * 100) / 100, color: s.color });
  }
  const unlabelled = [];
  for (const el of document.querySelectorAll('input, select, textarea, button, a[href]')) {
    if (!visible(el) || el.type === 'hidden') continue;
    const named =
      (el.labels && el.labels.length > 0) ||
      el.getAttribute('aria-label') ||
      el.getAttribute('aria-labelledby') ||
      (['BUTTON', 'A'].includes(el.tagName) && el.textContent.trim());
    if (!named) unlabelled.push(el.outerHTML.slice(0, 80));
  }
  return { violations, unlabelled };
}

async function audit(name) {
  const result = await page.evaluate(auditPage);
  out.a11y[name] = result;
}

async function signIn(sub, role, unit, { keyboard = false } = {}) {
  await page.goto(`${CONSOLE}/#/dang-nhap`);
  const subField = page.getByLabel('Mã cán bộ');
  await subField.waitFor();
  if (keyboard) {
    // Keyboard only: Tab to the first field, check the focus is visible, fill, submit with Enter.
    await page.locator('body').click({ position: { x: 5, y: 300 } });
    let reached = false;
    for (let i = 0; i < 12 && !reached; i += 1) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.getAttribute('name') === 'sub');
    }
    out.a11y.keyboard_reaches_sign_in = reached;
    out.a11y.focus_outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    await page.keyboard.press('Control+A');
    await page.keyboard.type(sub);
    await page.getByLabel('Vai trò').selectOption(role);
    await page.getByLabel('Đơn vị').selectOption(unit);
    await subField.focus();
    await page.keyboard.press('Enter');
  } else {
    await subField.fill(sub);
    await page.getByLabel('Vai trò').selectOption(role);
    await page.getByLabel('Đơn vị').selectOption(unit);
    await page.getByRole('button', { name: 'Đăng nhập (phát triển)' }).click();
  }
  await page.locator('#user-name', { hasText: sub }).waitFor();
}

async function signOut() {
  await page.getByRole('button', { name: 'Đăng xuất' }).click();
  await page.getByLabel('Mã cán bộ').waitFor();
}

async function statusButtons() {
  return page.$$eval('.status-actions [data-status]', (els) => els.map((e) => e.dataset.status).sort());
}

async function caseStatus(status) {
  await page.locator(`.badges [data-status="${status}"]`).waitFor();
}

try {
  // --- sign-in page -----------------------------------------------------------------------------------
  await page.goto(`${CONSOLE}/`);
  await page.getByLabel('Mã cán bộ').waitFor();
  out.sign_in_text = await page.locator('main').innerText();
  out.dev_banner = await page.locator('#dev-banner').innerText();
  out.lang = await page.evaluate(() => document.documentElement.lang);
  await shot('sign-in');
  await audit('sign_in');

  // --- officer: the unit's queue, a live case, one case resolved ---------------------------------------
  await signIn('canbo-tsn', 'officer', env.OFFICER_UNIT, { keyboard: true });
  out.officer.nav = await page.$$eval('#nav a:not([hidden])', (els) => els.map((e) => e.textContent.trim()));
  await page.locator(`tr.case-row[data-code="${env.CASE_A}"]`).waitFor();
  const rows = () => page.$$eval('tr.case-row', (els) => els.map((e) => ({ ...e.dataset })));
  out.officer.rows = await rows();
  await page.evaluate(() => {
    window.zanSamePage = true;
  });
  await citizenSays(env.LIVE_OA, env.LIVE_USER, '#baotin');
  await citizenSays(env.LIVE_OA, env.LIVE_USER, 'Cứu với, có cướp đang cầm dao trong nhà tôi ở hẻm 5');
  const fresh = page.locator('tr.case-row.is-new[data-priority="urgent"]');
  await fresh.first().waitFor({ timeout: 45_000 });
  out.live.code = await fresh.first().getAttribute('data-code');
  out.live.same_page = await page.evaluate(() => window.zanSamePage === true);
  out.live.first_row_priority = await page.locator('tr.case-row').first().getAttribute('data-priority');
  // The live region is filled 50 ms after the row appears (cleared first, so repeats are announced).
  await page
    .waitForFunction(() => (document.getElementById('announcer')?.textContent || '').length > 0, null, {
      timeout: 10_000,
    })
    .catch(() => {});
  out.live.announced = await page.locator('#announcer').innerText();
  out.officer.rows_after = await rows();
  await shot('desk');
  await audit('desk');
  await page.setViewportSize({ width: 390, height: 844 });
  await shot('desk-phone');
  out.a11y.phone_overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  await page.setViewportSize({ width: 1280, height: 900 });

  await page.locator(`tr.case-row[data-code="${env.CASE_A}"] a`).click();
  await page.locator('.facts').waitFor();
  await page.waitForFunction(() => {
    const imgs = [...document.querySelectorAll('img.case-photo')];
    return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);
  });
  out.officer.case_heading = await page.locator('main h1').innerText();
  out.officer.photos_loaded = await page.$$eval('img.case-photo', (imgs) => imgs.filter((i) => i.naturalWidth > 0).length);
  out.officer.photo_src = await page.locator('img.case-photo').first().getAttribute('src');
  out.officer.reporter = await page.locator('xpath=//dt[normalize-space()="Người báo tin"]/following-sibling::dd[1]').innerText();
  out.officer.map_link = await page.locator('a.map-link').getAttribute('href');
  out.officer.description = await page.locator('.description').innerText();
  await shot('case');
  await audit('case');

  out.officer.offered = {};
  out.officer.offered.received = await statusButtons();
  await page.getByRole('button', { name: 'Giao cho tôi' }).click();
  await page.locator('xpath=//dt[normalize-space()="Người xử lý"]/following-sibling::dd[1]', { hasText: 'canbo-tsn' }).waitFor();
  await page.locator('.status-actions [data-status="acknowledged"]').click();
  await caseStatus('acknowledged');
  out.officer.offered.acknowledged = await statusButtons();
  await page.locator('.status-actions [data-status="investigating"]').click();
  await caseStatus('investigating');
  out.officer.offered.investigating = await statusButtons();
  await page.getByLabel('Ghi chú (không gửi cho người dân)').fill('Đã xác minh tại hiện trường, có camera hẻm 12.');
  await page.getByRole('button', { name: 'Lưu ghi chú' }).click();
  await page.locator('.history li', { hasText: 'có camera hẻm 12' }).waitFor();
  await page.getByLabel('Kết quả hoặc lý do (người dân sẽ nhận được)').fill(env.RESOLUTION);
  await page.locator('.status-actions [data-status="resolved"]').click();
  await caseStatus('resolved');
  out.officer.offered.resolved = await statusButtons();
  out.officer.history = await page.$$eval('.history li', (els) => els.length);
  await signOut();

  // --- auditor: read-only, with the audit trail -----------------------------------------------------------
  await signIn('kiemtra01', 'auditor', 'tanphu');
  await page.goto(`${CONSOLE}/#/ho-so/${encodeURIComponent(env.CASE_A)}`);
  await page.locator('table.audit tbody tr').first().waitFor();
  out.auditor = {
    audit_rows: await page.locator('table.audit tbody tr').count(),
    audit_actions: await page.$$eval('table.audit tbody tr td:nth-child(4)', (tds) => [...new Set(tds.map((t) => t.textContent))]),
    status_buttons: await page.locator('.status-actions').count(),
    read_only: await page.getByText('Vai trò của bạn chỉ được xem hồ sơ.').isVisible(),
  };
  await signOut();

  // --- editor: a draft with its Zalo preview and reach ------------------------------------------------
  await signIn('bientap01', 'editor', 'tanphu');
  out.editor.nav = await page.$$eval('#nav a:not([hidden])', (els) => els.map((e) => e.textContent.trim()));
  await page.getByRole('link', { name: 'Soạn tin mới' }).click();
  await page.getByLabel('Tiêu đề').fill(env.CAMPAIGN_TITLE);
  await page.getByLabel('Tóm tắt').fill('Công an phường cảnh báo thủ đoạn giả danh cán bộ gọi điện yêu cầu chuyển tiền.');
  await page.getByLabel('Ảnh bìa (địa chỉ https://)').fill('https://cdn.congan-tanphu.example/canh-bao.jpg');
  await page.getByLabel('Nội dung bài viết').fill('Không chuyển tiền cho người lạ.\n\nGọi 113 khi nghi ngờ.');
  await page.getByLabel('Liên kết “Xem chi tiết” (https://)').fill('https://congan-tanphu.example/tin/canh-bao');
  const oaName = await page.evaluate(
    (key) => fetch('/console/api/config').then((r) => r.json()).then((c) => c.oas.find((o) => o.key === key).name),
    env.CAMPAIGN_OA,
  );
  await page.getByLabel(oaName, { exact: true }).check();
  const followers = page.locator('#reach [data-followers]');
  await followers.waitFor();
  out.editor.reach_followers = Number(await followers.getAttribute('data-followers'));
  out.editor.preview_title = await page.locator('.zalo-title').innerText();
  out.editor.preview_buttons = await page.$$eval('.zalo-button', (els) => els.map((e) => e.textContent.trim()));
  out.editor.preview_dm = await page.locator('.zalo-bubble .pre').innerText();
  await shot('newsroom-editor');
  await audit('newsroom_editor');
  await page.getByRole('button', { name: 'Lưu bản nháp' }).click();
  await page.locator('.badges [data-state="draft"]').waitFor();
  out.editor.campaign_id = decodeURIComponent(new URL(page.url()).hash.split('/')[2]);
  out.editor.can_approve = (await page.locator('[data-action="approve"]').count()) > 0;
  await page.getByRole('link', { name: 'Sửa bản nháp' }).click();
  await page.getByLabel('Tóm tắt').fill('Công an phường cảnh báo: không chuyển tiền theo yêu cầu qua điện thoại.');
  await page.getByRole('button', { name: 'Lưu thay đổi' }).click();
  await page.locator('.history li', { hasText: 'Sửa' }).waitFor();
  out.editor.edited_summary = await page.locator('.zalo-summary').innerText();
  await signOut();

  // --- supervisor: four eyes, approval, live progress, pause/resume/cancel ---------------------------
  await signIn(SUPERVISOR, 'supervisor', 'tanphu');
  out.supervisor.nav = await page.$$eval('#nav a:not([hidden])', (els) => els.map((e) => e.textContent.trim()));
  await page.goto(`${CONSOLE}/#/ho-so/${encodeURIComponent(env.CASE_B)}`);
  await page.getByLabel('Đơn vị nhận').selectOption(env.TRANSFER_TO);
  await page.getByLabel('Lý do chuyển (nội bộ)').fill('Địa bàn thuộc phường khác.');
  await page.getByRole('button', { name: 'Chuyển hồ sơ' }).click();
  await caseStatus('transferred');
  out.supervisor.transferred_unit = await page
    .locator('xpath=//dt[normalize-space()="Đơn vị xử lý"]/following-sibling::dd[1]')
    .innerText();
  out.supervisor.offered_after_transfer = await statusButtons();
  await page.goto(`${CONSOLE}/#/tin-tuc/${encodeURIComponent(env.OWN_ID)}`);
  await page.locator('.badges [data-state="draft"]').waitFor();
  out.supervisor.own_approve_enabled = await page.getByRole('button', { name: 'Duyệt và cho phép gửi' }).isEnabled();
  out.supervisor.own_hint = await page.locator('.hint', { hasText: 'bốn mắt' }).innerText();

  await page.goto(`${CONSOLE}/#/tin-tuc/${encodeURIComponent(out.editor.campaign_id)}`);
  await page.locator('[data-action="approve"]').click();
  const seen = new Set();
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const p = await page.locator('.percent-value').getAttribute('data-percent').catch(() => null);
    if (p !== null) seen.add(Number(p));
    if (p === '100') break;
    await page.waitForTimeout(250);
  }
  out.supervisor.percents = [...seen].sort((a, b) => a - b);
  out.supervisor.final_state = await page.locator('.badges [data-state]').getAttribute('data-state');
  await shot('campaign-progress');
  await audit('campaign');

  await page.goto(`${CONSOLE}/#/tin-tuc/${encodeURIComponent(env.SCHEDULED_ID)}`);
  await page.locator('[data-action="approve"]').click();
  await page.locator('.badges [data-state="approved"]').waitFor();
  await page.locator('[data-action="pause"]').click();
  await page.locator('.badges [data-state="paused"]').waitFor();
  out.supervisor.paused_actions = await page.$$eval('[data-action]', (els) => els.filter((e) => !e.hidden).map((e) => e.dataset.action));
  await page.locator('[data-action="resume"]').click();
  await page.locator('.badges [data-state="approved"]').waitFor();
  await page.locator('[data-action="cancel"]').click();
  await page.getByRole('button', { name: 'Xác nhận hủy' }).click();
  await page.locator('.badges [data-state="cancelled"]').waitFor();
  out.supervisor.lifecycle = 'approved→paused→approved→cancelled';
  await shot('campaign-cancelled');
} catch (e) {
  out.error = String(e?.stack ?? e);
  await shot('failure').catch(() => {});
} finally {
  out.page_errors = pageErrors;
  out.csp_errors = cspErrors;
  process.stdout.write(`${JSON.stringify(out)}\n`);
  await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
process.exitCode = out.error ? 1 : 0;
