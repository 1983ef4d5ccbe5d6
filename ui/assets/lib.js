// What both dashboards share: building the DOM (text nodes only: nothing a user, a task
// or an API supplies is ever parsed as markup), API calls and their errors, hash routes,
// paged tables, SVG charts, confirmation dialogs and banners.

// ---------------------------------------------------------------------------------------
// DOM

/** Builds an element. `attrs`: `class`, `on<event>` (functions), `dataset`, `value`,
 * `checked`, `disabled`, other names as attributes; children: strings (text nodes),
 * numbers, nodes, arrays of these; null/undefined/false are skipped. */
export function h(tag, attrs, ...children) {
  const el = tag.startsWith('svg:')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A link inside the page (hash route). */
export function link(route, ...children) {
  return h('a', { href: '#' + route }, ...children);
}

/** An icon from the shared sprite, hidden from screen readers (a word always goes with it). */
export function icon(name) {
  const svg = h('svg:svg', { class: 'icon', 'aria-hidden': 'true', focusable: 'false' });
  svg.appendChild(h('svg:use', { href: iconsUrl + '#' + name }));
  return svg;
}
const iconsUrl = new URL('./icons.svg', import.meta.url).pathname;

/** A state shown as a word on a coloured badge (never colour alone). `kind` picks the
 * colour: ok, warn, bad, info, idle. */
export function badge(word, kind) {
  return h('span', { class: 'badge ' + (kind || 'idle') }, word);
}

const TASK_STATE_KINDS = {
  TASK_RUNNING: 'ok', TASK_FINISHED: 'idle', TASK_STAGING: 'info', TASK_STARTING: 'info',
  TASK_KILLING: 'warn', TASK_KILLED: 'idle', TASK_FAILED: 'bad', TASK_ERROR: 'bad',
  TASK_LOST: 'bad', TASK_DROPPED: 'bad', TASK_UNREACHABLE: 'warn', TASK_GONE: 'bad',
  TASK_GONE_BY_OPERATOR: 'bad', TASK_UNKNOWN: 'warn',
};

/** A Mesos task state as a badge: `TASK_RUNNING` shows "running". */
export function taskState(state) {
  const word = (state || 'unknown').replace(/^TASK_/, '').toLowerCase().replace(/_/g, ' ');
  return badge(word, TASK_STATE_KINDS[state] || 'idle');
}

// ---------------------------------------------------------------------------------------
// Formatting

export function fmtCpus(n) {
  return n === undefined || n === null ? '—' : (Math.round(n * 100) / 100).toString();
}

/** Megabytes (Mesos's unit for mem and disk) as B/KB/MB/GB/TB. */
export function fmtMB(mb) {
  if (mb === undefined || mb === null) return '—';
  return fmtBytes(mb * 1024 * 1024);
}

export function fmtBytes(b) {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
  return (i === 0 ? b : b.toFixed(b < 10 ? 1 : 0)) + ' ' + units[i];
}

export function fmtDuration(seconds) {
  if (seconds === undefined || seconds === null || isNaN(seconds)) return '—';
  seconds = Math.max(0, Math.floor(seconds));
  const d = Math.floor(seconds / 86400), hr = Math.floor(seconds / 3600) % 24;
  const m = Math.floor(seconds / 60) % 60, s = seconds % 60;
  if (d) return `${d}d ${hr}h`;
  if (hr) return `${hr}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

/** A time (Date, ISO text or Unix seconds) as "12s ago", with the exact time as a tooltip. */
export function ago(t) {
  if (t === undefined || t === null || t === '') return h('span', {}, '—');
  const date = typeof t === 'number' ? new Date(t * 1000) : new Date(t);
  if (isNaN(date)) return h('span', {}, String(t));
  const secs = (Date.now() - date.getTime()) / 1000;
  const text = secs >= 0 ? fmtDuration(secs) + ' ago' : 'in ' + fmtDuration(-secs);
  return h('time', { datetime: date.toISOString(), title: date.toISOString() }, text);
}

/** Sums the scalar resources of a Mesos resource map or list. */
export function scalars(resources) {
  const out = { cpus: 0, mem: 0, disk: 0, gpus: 0 };
  if (!resources) return out;
  if (Array.isArray(resources)) {
    for (const r of resources) {
      if (r.scalar && r.name in out) out[r.name] += r.scalar.value;
    }
  } else {
    for (const k of Object.keys(out)) out[k] = Number(resources[k] || 0);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// API calls

/** Root of the server's APIs: the dashboards' modules live under `<root>/ui/`. */
export const apiRoot = new URL('../', import.meta.url);

/** An answer other than 2xx, with the server's message and the body it sent. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** Calls `path` (relative to the API root, or an absolute URL) and returns the decoded
 * JSON (or text). Throws ApiError with the server's own message for a non-2xx answer and
 * for a server that cannot be reached. */
export async function api(path, options = {}) {
  const url = new URL(path, apiRoot);
  const init = { method: options.method || 'GET', headers: { Accept: 'application/json' } };
  if (options.body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, `Cannot reach ${url.host}: ${e.message}`, null);
  }
  const text = await response.text();
  let body = text;
  if ((response.headers.get('Content-Type') || '').includes('json') && text) {
    try { body = JSON.parse(text); } catch (_) { /* keep the text */ }
  }
  if (!response.ok) {
    const message = (body && typeof body === 'object' && body.message) ||
      (typeof body === 'string' && body.trim()) || response.statusText;
    throw new ApiError(response.status, `${response.status}: ${message}`, body);
  }
  return body;
}

// ---------------------------------------------------------------------------------------
// Banners, dialogs, action errors

/** The page's banner line: `show(kind, ...content)` or `show(null)` to clear. Each
 * source of trouble owns a key so that one clearing does not hide another's. */
const banners = new Map();
export function banner(key, kind, ...content) {
  const area = document.getElementById('banners');
  if (!kind) { banners.delete(key); } else { banners.set(key, { kind, content }); }
  fill(area, [...banners.values()].map(b =>
    h('div', { class: 'banner ' + b.kind, role: 'alert' }, b.content)));
}

/** A process that listens beyond loopback with authentication off says so in its API
 * (`exposure_warning`: address, flags, message, at `path`); the page shows it for as long
 * as it is open. A refused read (401, 403) means authentication or ACLs are on: no banner. */
export async function exposureBanner(path) {
  let body;
  try { body = await api(path); } catch (_) { document.body.dataset.exposure = 'unknown'; return; }
  const warning = body && body.exposure_warning;
  if (warning && warning.message) {
    banner('exposure', 'bad', h('strong', {}, 'Open to the network. '),
      h('span', { id: 'exposure-warning' }, warning.message));
  }
  // Read by the browser tests: the answer has been looked at.
  document.body.dataset.exposure = warning ? 'open' : 'closed';
}

/** Asks for confirmation in a modal dialog; resolves true on "confirm". `extra` is an
 * optional node (a form field) shown in the dialog; it is read by the caller. */
export function confirmDialog(title, text, confirmWord, extra) {
  return new Promise(resolve => {
    const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'dialog-title' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'dialog-title' }, title),
        h('p', {}, text),
        extra || null,
        h('div', { class: 'actions' },
          h('button', { value: 'cancel', type: 'submit', class: 'secondary' }, 'Cancel'),
          h('button', { value: 'confirm', type: 'submit', class: 'danger', id: 'dialog-confirm' },
            confirmWord))));
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'confirm');
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    const field = extra && extra.querySelector && extra.querySelector('input');
    (field || dialog.querySelector('#dialog-confirm')).focus();
  });
}

/** A button that runs `action` (async) and shows its outcome in `status` next to it:
 * the API's error message stays until the next try. */
export function actionButton(label, action, opts = {}) {
  const status = h('span', { class: 'action-status', role: 'status' });
  const button = h('button', { type: 'button', class: opts.class || '', id: opts.id, title: opts.title },
    opts.icon ? icon(opts.icon) : null, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    fill(status);
    try {
      const done = await action();
      if (done !== false && opts.done) fill(status, h('span', { class: 'ok-text' }, opts.done));
    } catch (e) {
      fill(status, h('span', { class: 'error-text' }, e.message));
    } finally {
      button.disabled = false;
    }
  });
  return h('span', { class: 'action' }, button, status);
}

// ---------------------------------------------------------------------------------------
// Tables: paged, so a list of 10,000 rows renders one page at a time

/** A table over `rows` with `columns` ([{title, cell(row) -> node|text, sort?(row)}]),
 * `pageSize` rows per page and pager buttons. Returns {el, update(rows)}: updating
 * keeps the page the user is on. */
export function pagedTable(columns, opts = {}) {
  const pageSize = opts.pageSize || 50;
  let rows = [];
  let page = 0;
  const body = h('tbody');
  const info = h('span', { class: 'pager-info', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', class: 'secondary', onclick: () => { page--; render(); } }, '‹ Previous');
  const next = h('button', { type: 'button', class: 'secondary', onclick: () => { page++; render(); } }, 'Next ›');
  const table = h('table', { class: 'list' + (opts.class ? ' ' + opts.class : '') },
    opts.caption ? h('caption', {}, opts.caption) : null,
    h('thead', {}, h('tr', {}, columns.map(c => h('th', { scope: 'col' }, c.title)))),
    body);
  const el = h('div', { class: 'paged' }, h('div', { class: 'table-scroll' }, table),
    h('div', { class: 'pager' }, prev, info, next));
  let drawn = null;
  function render() {
    const pages = Math.max(1, Math.ceil(rows.length / pageSize));
    page = Math.min(Math.max(page, 0), pages - 1);
    const shown = rows.slice(page * pageSize, (page + 1) * pageSize);
    // Redrawn only when what it shows changed (or every 30 s, for the "ago" times), so
    // that a refresh does not take away the keyboard focus or a half-done click.
    const key = JSON.stringify([rows.length, page, Math.floor(Date.now() / 30000),
      shown.map(opts.key || (r => r))]);
    if (key === drawn) return;
    drawn = key;
    const focused = body.contains(document.activeElement) ? focusPath(body, document.activeElement) : null;
    fill(body, shown.length ? shown.map(r => h('tr', opts.rowAttrs ? opts.rowAttrs(r) : {},
      columns.map(c => h('td', { 'data-label': c.title }, c.cell(r)))))
      : h('tr', {}, h('td', { colspan: columns.length, class: 'empty' }, opts.empty || 'Nothing to show.')));
    fill(info, rows.length ? `${page * pageSize + 1}–${page * pageSize + shown.length} of ${rows.length}` : '0 of 0');
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
    if (focused) restoreFocus(body, focused);
  }
  render();
  return { el, update(newRows) { rows = newRows; render(); } };
}

/** Where `el` is inside `root`, as child indexes, to find its replacement after a redraw. */
function focusPath(root, el) {
  const path = [];
  for (let n = el; n && n !== root; n = n.parentElement) {
    path.unshift([...n.parentElement.children].indexOf(n));
  }
  return path;
}

function restoreFocus(root, path) {
  let n = root;
  for (const i of path) { n = n && n.children[i]; }
  if (n && n.focus) n.focus({ preventScroll: true });
}

/** A search box that calls `onchange(text)` as the user types. */
export function searchBox(label, onchange, id) {
  const input = h('input', { type: 'search', placeholder: label, 'aria-label': label, id });
  input.addEventListener('input', () => onchange(input.value.trim().toLowerCase()));
  return input;
}

/** A page that is one filtered, paged list: `load()` gives the rows, `fields(row)` the
 * texts the search box matches. */
export function listPage({ title, columns, load, fields, searchLabel, searchId, tableOpts }) {
  let filter = '';
  let all = [];
  const table = pagedTable(columns, { empty: 'Nothing matches.', ...tableOpts });
  const show = () => table.update(all.filter(r => !filter ||
    fields(r).some(f => f !== undefined && f !== null && String(f).toLowerCase().includes(filter))));
  const el = h('div', {}, h('h1', {}, title),
    h('div', { class: 'toolbar' }, searchBox(searchLabel, t => { filter = t; show(); }, searchId)),
    table.el);
  return { title, el, async refresh() { const rows = await load(); if (rows) { all = rows; show(); } } };
}

/** Key/value rows for a details panel. */
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(p => p).map(([k, v]) =>
    [h('dt', {}, k), h('dd', {}, v === undefined || v === null || v === '' ? '—' : v)]));
}

// ---------------------------------------------------------------------------------------
// Charts

/** An SVG chart of `series` ([{label, values:[number], cls}]) over the last samples,
 * scaled to `max`, with a text summary for screen readers. */
export function lineChart(series, max, opts = {}) {
  const width = 300, height = 80;
  const svg = h('svg:svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img',
    'aria-label': opts.label || '', preserveAspectRatio: 'none' });
  const top = max > 0 ? max : 1;
  for (const s of series) {
    const n = s.values.length;
    if (n === 0) continue;
    const step = width / Math.max(1, (opts.samples || n) - 1);
    const offset = width - (n - 1) * step;
    const pts = s.values.map((v, i) =>
      `${(offset + i * step).toFixed(1)},${(height - (Math.min(v, top) / top) * (height - 2) - 1).toFixed(1)}`);
    if (s.area) {
      svg.appendChild(h('svg:polygon', { class: 'area ' + (s.cls || ''),
        points: `${offset.toFixed(1)},${height} ${pts.join(' ')} ${width},${height}` }));
    }
    svg.appendChild(h('svg:polyline', { class: 'line ' + (s.cls || ''), points: pts.join(' ') }));
  }
  return svg;
}

/** A horizontal bar split into parts ([{value, cls, label}]) out of `total`, with the
 * numbers written beside it. */
export function stackBar(parts, total, text) {
  const bar = h('div', { class: 'stackbar', role: 'img', 'aria-label': text });
  const whole = Math.max(total, parts.reduce((a, p) => a + p.value, 0), 1);
  for (const p of parts) {
    if (p.value <= 0) continue;
    const seg = h('span', { class: 'seg ' + p.cls, title: `${p.label}: ${p.value}` });
    seg.style.width = (100 * p.value / whole) + '%';
    bar.appendChild(seg);
  }
  return h('div', { class: 'stackbar-wrap' }, bar, h('span', { class: 'stackbar-text' }, text));
}

// ---------------------------------------------------------------------------------------
// Routing and refreshing

/** Hash routing: `routes` is [[RegExp, (match, view) => page]], a page being
 * {title, el, refresh?(): Promise, stop?()}. The current page's refresh runs every
 * `interval` ms and when `refreshNow()` is called; errors show in a banner and the page
 * keeps what it showed last. */
export function startApp({ routes, interval, nav, onRefreshError }) {
  const main = document.getElementById('main');
  let current = null;
  let timer = null;
  let busy = false;
  let again = false;

  async function refresh() {
    if (!current || !current.refresh) return;
    if (busy) { again = true; return; }
    busy = true;
    const page = current;
    try {
      await page.refresh();
      banner('refresh', null);
    } catch (e) {
      if (page === current) {
        banner('refresh', 'bad', (onRefreshError && onRefreshError(e)) || e.message,
          ' — showing what was last loaded; retrying.');
      }
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  }

  function show() {
    const route = location.hash.replace(/^#/, '') || '/';
    const [path, query] = route.split('?');
    const params = new URLSearchParams(query || '');
    if (current && current.stop) current.stop();
    current = null;
    for (const [pattern, make] of routes) {
      const m = path.match(pattern);
      if (m) {
        current = make(m.slice(1).map(decodeURIComponent), params);
        break;
      }
    }
    if (!current) current = { title: 'Not found', el: h('p', {}, 'No page at ', route, '. ', link('/', 'Go to the overview.')) };
    document.title = current.title + ' · ' + document.querySelector('meta[name=app]').content;
    fill(main, current.el);
    for (const a of nav.querySelectorAll('a')) {
      const target = a.getAttribute('href').slice(1);
      const active = target === '/' ? path === '/' : path.startsWith(target);
      if (active) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    main.focus({ preventScroll: true });
    refresh();
  }

  window.addEventListener('hashchange', show);
  show();
  timer = setInterval(refresh, interval);
  return {
    refreshNow: refresh,
    setInterval(ms) { clearInterval(timer); timer = setInterval(refresh, ms); },
  };
}
