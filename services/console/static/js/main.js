// The console's entry point: who is signed in, the header, and the hash routes.
//   #/dang-nhap            development sign-in (or the way to the real one)
//   #/ho-so, #/ho-so/<id>  case desk and one case
//   #/tin-tuc, #/tin-tuc/moi, #/tin-tuc/<id>, #/tin-tuc/<id>/sua   newsroom

import { consoleApi } from './api.js';
import { h, message } from './dom.js';
import { ROLES } from './labels.js';
import * as signin from './signin.js';
import * as desk from './desk.js';
import * as casePage from './case.js';
import * as newsroom from './newsroom.js';

const state = { config: null, session: null, cleanup: null, generation: 0 };

function unitName(key) {
  return state.config?.oas.find((o) => o.key === key)?.name ?? key ?? '';
}

function home() {
  if (!state.session) return '#/dang-nhap';
  return state.session.sections.desk ? '#/ho-so' : '#/tin-tuc';
}

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function renderHeader() {
  const s = state.session;
  const devMode = Boolean(state.config?.dev_login || s?.mode === 'dev');
  document.getElementById('dev-banner').hidden = !devMode;
  const nav = document.getElementById('nav');
  nav.hidden = !s;
  for (const link of nav.querySelectorAll('a[data-section]')) {
    link.hidden = !s?.sections?.[link.dataset.section];
  }
  const user = document.getElementById('user');
  user.hidden = !s;
  if (s) {
    document.getElementById('user-name').textContent = s.sub;
    document.getElementById('user-role').textContent = [ROLES[s.role] ?? s.role, unitName(s.unit)]
      .filter(Boolean)
      .join(' · ');
  }
}

function markCurrentNav(section) {
  for (const link of document.querySelectorAll('#nav a[data-section]')) {
    if (link.dataset.section === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

async function loadSession() {
  const session = await consoleApi.session();
  state.session = session?.signed_in ? session : null;
  renderHeader();
}

/** Called by views on any API error: a 401 means the session is gone. */
async function handleError(error) {
  if (error?.status === 401) {
    await loadSession();
    if (!state.session) navigate('#/dang-nhap');
  }
}

function forbidden(main) {
  main.append(
    h('h1', { tabindex: -1 }, 'Không có quyền truy cập'),
    message('error', 'Vai trò của bạn không dùng được khu vực này.'),
    h('p', {}, h('a', { href: home() }, 'Về trang làm việc của bạn')),
  );
}

async function route() {
  const hash = location.hash || '';
  if (hash && !hash.startsWith('#/')) return; // an in-page anchor (the skip link)
  state.generation += 1;
  const generation = state.generation;
  if (state.cleanup) state.cleanup();
  state.cleanup = null;
  const main = document.getElementById('main');
  main.replaceChildren();
  const parts = hash.slice(2).split('/').filter(Boolean).map(decodeURIComponent);
  const ctx = {
    config: state.config,
    session: state.session,
    main,
    navigate,
    handleError,
    unitName,
    isCurrent: () => generation === state.generation,
    setTitle: (text) => {
      document.title = `${text} – Zalo An ninh`;
    },
    onSignedIn: async (session) => {
      state.session = session;
      renderHeader();
      navigate(home());
    },
  };
  if (!state.session) {
    if (parts[0] !== 'dang-nhap') {
      location.replace('#/dang-nhap');
      return;
    }
    markCurrentNav(null);
    state.cleanup = signin.render(ctx) ?? null;
  } else if (parts[0] === 'ho-so') {
    markCurrentNav('desk');
    if (!state.session.sections.desk) forbidden(main);
    else state.cleanup = (parts[1] ? casePage.render(ctx, parts[1]) : desk.render(ctx)) ?? null;
  } else if (parts[0] === 'tin-tuc') {
    markCurrentNav('newsroom');
    if (!state.session.sections.newsroom) forbidden(main);
    else if (parts[1] === 'moi') state.cleanup = newsroom.renderEditor(ctx, null) ?? null;
    else if (parts[1] && parts[2] === 'sua') state.cleanup = newsroom.renderEditor(ctx, parts[1]) ?? null;
    else if (parts[1]) state.cleanup = newsroom.renderDetail(ctx, parts[1]) ?? null;
    else state.cleanup = newsroom.renderList(ctx) ?? null;
  } else {
    location.replace(home());
    return;
  }
  const heading = main.querySelector('h1');
  if (heading) {
    document.title = `${heading.textContent} – Zalo An ninh`;
    heading.focus({ preventScroll: false });
  }
}

async function signOut() {
  try {
    const answer = await consoleApi.signOut();
    state.session = null;
    renderHeader();
    if (answer?.redirect && answer.redirect !== '/') {
      location.assign(answer.redirect);
      return;
    }
  } catch {
    state.session = null;
  }
  navigate('#/dang-nhap');
}

async function boot() {
  const main = document.getElementById('main');
  try {
    state.config = await consoleApi.config();
    await loadSession();
  } catch (e) {
    main.replaceChildren(
      h('h1', { tabindex: -1 }, 'Không mở được bàn làm việc'),
      message('error', e.userMessage ?? 'Có lỗi xảy ra khi tải trang. Vui lòng tải lại trang.'),
    );
    return;
  }
  document.getElementById('sign-out').addEventListener('click', signOut);
  document.querySelector('.skip-link').addEventListener('click', (event) => {
    event.preventDefault();
    main.focus();
  });
  window.addEventListener('hashchange', route);
  route();
}

boot();
