// Sign-in: in production the identity provider (OIDC via oauth2-proxy) signs officers in before the
// console is reached; the development form below exists only when CONSOLE_DEV_LOGIN=true.

import { consoleApi } from './api.js';
import { field, h, message, select } from './dom.js';
import { ROLES } from './labels.js';

export function render(ctx) {
  const { main, config } = ctx;
  if (!config.dev_login) {
    main.append(
      h('h1', { tabindex: -1 }, 'Đăng nhập'),
      h('p', {}, 'Bạn chưa đăng nhập hoặc phiên làm việc đã hết hạn.'),
      h('p', {}, h('a', { class: 'button primary', href: config.sign_in_url }, 'Đăng nhập bằng tài khoản của đơn vị')),
    );
    return null;
  }
  const errors = h('div', { class: 'form-errors' });
  const sub = h('input', {
    name: 'sub',
    required: true,
    value: 'canbo01',
    autocomplete: 'username',
    pattern: '[A-Za-z0-9._@\\-]{1,64}',
    spellcheck: 'false',
  });
  const role = select(
    config.dev_roles.map((r) => [r, ROLES[r] ?? r]),
    'officer',
    { name: 'role' },
  );
  const unit = select(
    config.oas.map((o) => [o.key, o.name]),
    config.oas[0]?.key,
    { name: 'unit' },
  );
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Đăng nhập (phát triển)');
  const form = h(
    'form',
    { class: 'card narrow', novalidate: true, 'aria-labelledby': 'signin-title' },
    h(
      'div',
      { class: 'dev-warning' },
      h('strong', {}, 'CHỈ DÙNG CHO PHÁT TRIỂN. '),
      'Trang này tạo một phiên đăng nhập thử với vai trò và đơn vị tùy chọn. Môi trường thật không có trang này: cán bộ đăng nhập bằng tài khoản của đơn vị qua hệ thống định danh (OIDC).',
    ),
    errors,
    field('Mã cán bộ', sub, 'Chữ không dấu, số hoặc . _ @ - (tối đa 64 ký tự).'),
    field('Vai trò', role),
    field('Đơn vị', unit, 'Cán bộ xử lý chỉ thấy hồ sơ của đơn vị mình; chỉ huy và kiểm tra viên thấy mọi đơn vị.'),
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    errors.replaceChildren();
    if (!sub.checkValidity()) {
      errors.append(message('error', 'Mã cán bộ chưa hợp lệ.'));
      sub.focus();
      return;
    }
    submit.disabled = true;
    try {
      const session = await consoleApi.devSignIn({ sub: sub.value.trim(), role: role.value, unit: unit.value });
      await ctx.onSignedIn(session);
    } catch (e) {
      errors.append(message('error', e.userMessage ?? 'Không đăng nhập được.'));
      submit.disabled = false;
    }
  });
  main.append(h('h1', { tabindex: -1, id: 'signin-title' }, 'Đăng nhập môi trường phát triển'), form);
  return null;
}
