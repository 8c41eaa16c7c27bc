// Building the page without innerHTML: every text goes in as a text node, so nothing a citizen or an
// editor typed can become markup.

let counter = 0;

/** A fresh element id. */
export function uid(prefix = 'id') {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** h('button', {class: 'primary', onclick: fn}, 'Lưu') */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'value') el.value = value;
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A labelled form control: {label, control, hint?} → wrapper; the control gets an id and aria links. */
export function field(label, control, hint) {
  const id = control.id || uid('f');
  control.id = id;
  const parts = [h('label', { for: id }, label), control];
  if (hint) {
    const hintId = `${id}-hint`;
    control.setAttribute('aria-describedby', [control.getAttribute('aria-describedby'), hintId].filter(Boolean).join(' '));
    parts.push(h('p', { class: 'hint', id: hintId }, hint));
  }
  return h('div', { class: 'field' }, parts);
}

/** A <select> from [[value, label], …]. */
export function select(options, selected, attrs = {}) {
  return h(
    'select',
    attrs,
    options.map(([value, label]) => h('option', { value, selected: String(value) === String(selected ?? '') }, label)),
  );
}

/** Tell screen-reader users about something that changed without moving their focus. */
export function announce(text) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  // A new text node in a cleared live region is announced even when the text repeats.
  window.setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/** A message box inside a view: role=alert for errors, role=status otherwise. */
export function message(kind, text) {
  return h('div', { class: `message message-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}
