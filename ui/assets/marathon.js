// Marathon's dashboard (port 8080): apps as a tree of groups, the app page (tasks, scale,
// restart, suspend, destroy, versions with diff and rollback), create and edit (form or
// JSON, the API's validation errors at their fields), deployments, and why apps wait
// (/v2/queue's offer funnel). Live: /v2/events refreshes the open page; while the stream
// is down a banner says so and the page is polled.

import {
  h, fill, link, icon, badge, taskState, fmtCpus, fmtMB, fmtDuration, ago, api, apiRoot,
  banner, confirmDialog, actionButton, pagedTable, searchBox, facts, stackBar, startApp,
  exposureBanner,
} from './lib.js';

const POLL_MS = 3000;
/** With the event stream up, a slow poll still catches what no event announces. */
const SAFETY_POLL_MS = 15000;

// ---------------------------------------------------------------------------------------
// Shared reads and words

const appRoute = id => '/app' + id;
const enc = id => id.split('/').map(encodeURIComponent).join('/');
const appPath = id => 'v2/apps' + enc(id);

async function queueById() {
  const q = await api('v2/queue?embed=lastUnusedOffers');
  return new Map((q.queue || []).filter(i => i.app).map(i => [i.app.id, i]));
}

/** An app's status word: delayed (backing off), waiting (for offers that fit; a
 * deployment can be waiting too), deploying, suspended (0 instances), running. */
function appStatus(app, queued) {
  if (queued && !queued.delay.overdue) return badge('delayed', 'warn');
  if (queued && queued.count > 0) return badge('waiting', 'warn');
  if ((app.deployments || []).length) return badge('deploying', 'info');
  if (app.instances === 0 && !app.tasksRunning) return badge('suspended', 'idle');
  return badge('running', 'ok');
}

function instanceBar(app) {
  const healthy = app.tasksHealthy || 0, unhealthy = app.tasksUnhealthy || 0;
  const running = Math.max(0, (app.tasksRunning || 0) - healthy - unhealthy);
  const staged = app.tasksStaged || 0;
  const parts = [
    { value: healthy, cls: 'healthy', label: 'healthy' },
    { value: running, cls: 'running', label: 'running' },
    { value: unhealthy, cls: 'unhealthy', label: 'unhealthy' },
    { value: staged, cls: 'staged', label: 'staged' },
  ];
  const words = [`${app.tasksRunning || 0} of ${app.instances} running`];
  if (healthy) words.push(`${healthy} healthy`);
  if (unhealthy) words.push(`${unhealthy} unhealthy`);
  if (staged) words.push(`${staged} staged`);
  return stackBar(parts, app.instances, words.join(', '));
}

/** Words for the reasons /v2/queue gives for not using an offer. */
const REASONS = {
  UnfulfilledRole: 'offer from a role the app does not accept',
  UnfulfilledConstraint: 'placement constraint not met (UNIQUE, CLUSTER, LIKE, ...)',
  NoCorrespondingReservationFound: 'no matching reservation',
  AgentMaintenance: 'agent in maintenance',
  InsufficientCpus: 'not enough CPUs',
  InsufficientMemory: 'not enough memory',
  InsufficientDisk: 'not enough disk',
  InsufficientGpus: 'not enough GPUs',
  InsufficientPorts: 'not enough ports (or the fixed ports are taken)',
  DeclinedScarceResources: 'offer has scarce resources (GPUs) the app does not need',
};

/** "Why is it waiting": each funnel step of the last offers (processed, declined), the
 * offers per agent and the backoff left. */
function whyWaiting(item) {
  const s = item.processedOffersSummary || {};
  const rows = (s.rejectSummaryLastOffers || []).filter(r => r.processed > 0 || r.declined > 0);
  const worst = rows.reduce((a, r) => (r.declined > (a ? a.declined : 0) ? r : a), null);
  const delay = item.delay || {};
  const el = h('div', { class: 'panel why-waiting' },
    h('h2', {}, 'Why is it waiting?'),
    facts([
      ['Instances waiting', String(item.count)],
      ['Waiting since', ago(item.since)],
      ['Backoff', delay.overdue ? 'none: launches as soon as an offer fits'
        : `${fmtDuration(delay.timeLeftSeconds)} left before the next launch`],
      ['Offers looked at', `${s.processedOffersCount || 0}, of which ${s.unusedOffersCount || 0} did not fit`],
      ['Last unused offer', ago(s.lastUnusedOfferAt)],
      ['Main reason', worst ? h('strong', { class: 'main-reason' }, worst.reason, ': ', REASONS[worst.reason] || '') : 'no offer refused yet'],
    ]),
    rows.length ? h('table', { class: 'list funnel' },
      h('caption', {}, 'Last offer of each agent through the checks, in order'),
      h('thead', {}, h('tr', {}, ['Check', 'Offers reaching it', 'Refused here', ''].map(t => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows.map(r => h('tr', { dataset: { reason: r.reason } },
        h('td', {}, r.reason, h('br'), h('span', { class: 'muted' }, REASONS[r.reason] || '')),
        h('td', {}, String(r.processed)), h('td', {}, String(r.declined)),
        h('td', {}, stackBar([{ value: r.declined, cls: 'declined', label: 'refused' },
          { value: r.processed - r.declined, cls: 'used', label: 'passed' }], r.processed,
        `${r.declined} of ${r.processed} refused`)))))) : null,
    (item.lastUnusedOffers || []).length ? h('table', { class: 'list' },
      h('caption', {}, 'Last unused offer per agent'),
      h('thead', {}, h('tr', {}, ['Agent', 'Why not used', 'When'].map(t => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, item.lastUnusedOffers.map(u => h('tr', {},
        h('td', {}, (u.offer && u.offer.hostname) || '—'),
        h('td', {}, (u.reason || []).join(', ')),
        h('td', {}, ago(u.timestamp)))))) : null,
    delay.overdue ? null : actionButton('Launch now (reset backoff)',
      () => api(`v2/queue${enc(item.app.id)}/delay`, { method: 'DELETE' }), { class: 'secondary', done: 'Backoff reset.' }));
  return el;
}

// ---------------------------------------------------------------------------------------
// Applications: a tree of groups

function appsPage() {
  const collapsed = new Set();
  let filter = '';
  let apps = [];
  let queue = new Map();
  const table = pagedTable([
    { title: 'Name', cell: r => r.group
      ? h('span', {}, indent(r.depth), h('button', { type: 'button', class: 'small secondary',
        'aria-expanded': String(!collapsed.has(r.group)), onclick: () => { toggle(r.group); } },
      collapsed.has(r.group) ? '▸' : '▾'), ' ', icon('folder'), ' ', r.group, ` (${r.count} apps)`)
      : h('span', {}, indent(r.depth), link(appRoute(r.app.id), r.app.id.split('/').pop())) },
    { title: 'Status', cell: r => r.group ? '' : appStatus(r.app, queue.get(r.app.id)) },
    { title: 'Instances', cell: r => r.group ? '' : instanceBar(r.app) },
    { title: 'CPUs', cell: r => r.group ? '' : fmtCpus(r.app.cpus) },
    { title: 'Memory', cell: r => r.group ? '' : fmtMB(r.app.mem) },
  ], { pageSize: 100, empty: 'No application yet. Create one.', rowAttrs: r => r.group ? { class: 'group' } : { dataset: { app: r.app.id } } });
  const indent = depth => h('span', { class: 'tree-indent', style: null }, '\u00a0\u00a0'.repeat(depth));
  function toggle(group) { if (collapsed.has(group)) collapsed.delete(group); else collapsed.add(group); show(); }
  function show() {
    const rows = [];
    const seen = new Set();
    const shown = apps.filter(a => !filter || a.id.toLowerCase().includes(filter));
    for (const app of shown) {
      const parts = app.id.split('/').filter(p => p);
      let hidden = false;
      for (let i = 1; i < parts.length; i++) {
        const group = '/' + parts.slice(0, i).join('/');
        if (!hidden && !seen.has(group)) {
          seen.add(group);
          rows.push({ group, depth: i - 1, count: shown.filter(a => a.id.startsWith(group + '/')).length });
        }
        if (collapsed.has(group)) hidden = true;
      }
      if (!hidden) rows.push({ app, depth: parts.length - 1 });
    }
    table.update(rows);
  }
  const el = h('div', {}, h('h1', {}, 'Applications'),
    h('div', { class: 'toolbar' },
      searchBox('Filter by id', t => { filter = t; show(); }, 'app-filter'),
      h('a', { class: 'button', href: '#/new', id: 'create-app' }, 'Create app')),
    table.el);
  return {
    title: 'Applications', el,
    async refresh() {
      const [list, q] = await Promise.all([
        api('v2/apps?embed=apps.counts&embed=apps.deployments&embed=apps.lastTaskFailure'), queueById()]);
      apps = (list.apps || []).sort((a, b) => a.id.localeCompare(b.id));
      queue = q;
      show();
    },
  };
}

// ---------------------------------------------------------------------------------------
// One application

/** Fields of an app definition that Marathon writes and a client does not send. */
const OUTPUT_ONLY = ['version', 'versionInfo', 'tasks', 'tasksStaged', 'tasksRunning', 'tasksHealthy',
  'tasksUnhealthy', 'deployments', 'lastTaskFailure', 'readinessCheckResults', 'taskStats'];

function definition(app) {
  const copy = { ...app };
  for (const k of OUTPUT_ONLY) delete copy[k];
  return copy;
}

function taskEndpoints(t) {
  return (t.ports || []).length
    ? (t.ports || []).map((p, i) => [i ? ' ' : null, h('a', { href: `http://${t.host}:${p}`, target: '_blank', rel: 'noopener' }, `${t.host}:${p}`)])
    : t.host;
}

function taskHealth(t) {
  const results = t.healthCheckResults || [];
  if (!results.length) return '—';
  return results.every(r => r.alive) ? badge('healthy', 'ok') : badge('unhealthy', 'bad');
}

function appPage([id], params) {
  const head = h('div');
  const toolbar = h('div', { class: 'toolbar' });
  const why = h('div');
  const info = h('div', { class: 'panel' });
  const failure = h('div');
  const tasks = pagedTable([
    { title: 'Task', cell: t => t.id },
    { title: 'Endpoints', cell: taskEndpoints },
    { title: 'State', cell: t => taskState(t.state) },
    { title: 'Health', cell: taskHealth },
    { title: 'Started', cell: t => ago(t.startedAt || t.stagedAt) },
    { title: 'Version', cell: t => t.version || '—' },
    { title: 'Actions', cell: t => h('span', { class: 'action' },
      actionButton('Kill', () => killTask(t, false), { class: 'small secondary', title: 'Kill; Marathon starts a replacement' }),
      actionButton('Kill & scale', () => killTask(t, true), { class: 'small secondary', title: 'Kill and lower the instance count' })) },
  ], { empty: 'No task.', rowAttrs: t => ({ dataset: { task: t.id } }) });
  const versions = h('div');
  const config = h('pre', { class: 'json', id: 'app-config' });
  const el = h('div', {}, head, toolbar, why, info, failure, h('h2', {}, 'Tasks'), tasks.el,
    h('h2', {}, 'Versions'), versions, h('h2', {}, 'Configuration'), config);
  let current = null;
  let drawn = false;

  async function killTask(t, scale) {
    const word = scale ? 'Kill and scale down' : 'Kill';
    if (!await confirmDialog(`${word}?`, `Task ${t.id} on ${t.host} is killed` +
      (scale ? ' and the app keeps one instance fewer.' : '; Marathon starts a replacement.'), word)) return false;
    await api(`${appPath(id)}/tasks/${encodeURIComponent(t.id)}${scale ? '?scale=true' : ''}`, { method: 'DELETE' });
    await page.refresh();
  }

  function drawToolbar() {
    const scaleInput = h('input', { type: 'number', min: 0, id: 'scale-to', 'aria-label': 'Instances' });
    fill(toolbar,
      actionButton('Scale', async () => {
        scaleInput.value = String(current.instances);
        if (!await confirmDialog('Scale ' + id, 'Number of instances:', 'Scale', h('p', {}, scaleInput))) return false;
        await api(appPath(id), { method: 'PUT', body: { instances: Number(scaleInput.value) } });
        await page.refresh();
      }, { icon: 'scale', id: 'scale', done: 'Scaling.' }),
      actionButton('Restart', async () => {
        if (!await confirmDialog('Restart ' + id + '?', 'Every instance is replaced by a new one, following the upgrade strategy.', 'Restart')) return false;
        await api(appPath(id) + '/restart', { method: 'POST' });
        await page.refresh();
      }, { icon: 'restart', class: 'secondary', id: 'restart', done: 'Restarting.' }),
      actionButton('Suspend', async () => {
        if (!await confirmDialog('Suspend ' + id + '?', 'Scales the app to 0 instances; its definition is kept.', 'Suspend')) return false;
        await api(appPath(id), { method: 'PUT', body: { instances: 0 } });
        await page.refresh();
      }, { icon: 'pause', class: 'secondary', id: 'suspend', done: 'Suspending.' }),
      h('a', { class: 'button secondary', href: '#/edit' + id, id: 'edit' }, icon('edit'), 'Edit'),
      actionButton('Destroy', async () => {
        if (!await confirmDialog('Destroy ' + id + '?', 'Kills every task and deletes the app and its versions.', 'Destroy')) return false;
        await api(appPath(id), { method: 'DELETE' });
        location.hash = '#/';
      }, { icon: 'trash', class: 'danger', id: 'destroy' }));
  }

  const page = {
    title: id, el,
    async refresh() {
      const [got, queue] = await Promise.all([
        api(appPath(id) + '?embed=app.counts&embed=app.deployments&embed=app.lastTaskFailure&embed=app.tasks'),
        queueById()]);
      const app = got.app;
      current = app;
      const queued = queue.get(id);
      fill(head, h('h1', {}, id, ' ', appStatus(app, queued)), instanceBar(app));
      if (!drawn) { drawToolbar(); drawn = true; }
      fill(why, queued && (queued.count > 0 || !queued.delay.overdue) ? whyWaiting(queued) : null);
      const docker = app.container && app.container.docker;
      fill(info, facts([
        ['Command', app.cmd || (app.args ? app.args.join(' ') : null)],
        ['Image', docker ? docker.image : null],
        ['Network', (app.networks || []).map(n => n.mode + (n.name ? ' ' + n.name : '')).join(', ') || (docker && docker.network)],
        ['Instances', String(app.instances)],
        ['CPUs / memory / disk', `${fmtCpus(app.cpus)} / ${fmtMB(app.mem)} / ${fmtMB(app.disk)}`],
        ['Constraints', (app.constraints || []).map(c => c.join(':')).join(', ')],
        ['Labels', Object.entries(app.labels || {}).map(([k, v]) => `${k}=${v}`).join(', ')],
        ['Environment', Object.entries(app.env || {}).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ')],
        ['Health checks', (app.healthChecks || []).map(c => c.protocol + (c.path ? ' ' + c.path : '')).join(', ')],
        ['Deployments', (app.deployments || []).length ? link('/deployments', (app.deployments || []).map(d => d.id).join(', ')) : 'none'],
        ['Version', app.version],
        ['Last config change', ago(app.versionInfo && app.versionInfo.lastConfigChangeAt)],
        ['Last scaling', ago(app.versionInfo && app.versionInfo.lastScalingAt)],
      ]));
      const f = app.lastTaskFailure;
      fill(failure, f ? h('div', { class: 'panel' }, h('h2', {}, 'Last task failure'),
        facts([['Task', f.taskId], ['State', taskState(f.state)], ['Message', f.message], ['Host', f.host], ['When', ago(f.timestamp)]])) : null);
      tasks.update(app.tasks || []);
      config.textContent = JSON.stringify(definition(app), null, 2);
      if (!versions.firstChild || params.get('versions') === 'reload') await drawVersions();
    },
  };

  async function drawVersions() {
    const list = (await api(appPath(id) + '/versions')).versions || [];
    const diffArea = h('div', { id: 'diff' });
    const rows = pagedTable([
      { title: 'Version', cell: v => v },
      { title: '', cell: v => v === current.version ? badge('current', 'ok') : h('span', { class: 'action' },
        h('button', { type: 'button', class: 'small secondary', onclick: () => showDiff(v, diffArea) }, 'Diff with current'),
        actionButton('Roll back', async () => {
          if (!await confirmDialog('Roll back to ' + v + '?', 'The app returns to this configuration through a new deployment.', 'Roll back')) return false;
          await api(appPath(id), { method: 'PUT', body: { version: v } });
          fill(versions);
          await page.refresh();
        }, { class: 'small', icon: 'rollback' })) },
    ], { pageSize: 10 });
    rows.update(list);
    fill(versions, rows.el, diffArea);
  }

  async function showDiff(v, area) {
    try {
      const old = await api(`${appPath(id)}/versions/${encodeURIComponent(v)}`);
      fill(area, h('h3', {}, `Changes from ${v} to the current version`),
        diff(JSON.stringify(definition(old), null, 2), JSON.stringify(definition(current), null, 2)));
    } catch (e) {
      fill(area, h('p', { class: 'error-text' }, e.message));
    }
  }
  return page;
}

/** A line diff (longest common subsequence) of two texts, as added and removed lines. */
function diff(a, b) {
  const x = a.split('\n'), y = b.split('\n');
  const n = x.length, m = y.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out = [];
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) { out.push(h('div', {}, '  ' + x[i])); i++; j++; }
    else if (j < m && (i === n || lcs[i][j + 1] >= lcs[i + 1][j])) { out.push(h('div', { class: 'add' }, '+ ' + y[j])); j++; }
    else { out.push(h('div', { class: 'del' }, '- ' + x[i])); i++; }
  }
  return h('div', { class: 'diff', role: 'region', 'aria-label': 'Differences' }, out);
}

// ---------------------------------------------------------------------------------------
// Create and edit

/** The form's fields: name, label, input kind, and the API paths whose errors it shows. */
const FIELDS = [
  { name: 'id', label: 'ID', hint: 'e.g. /prod/web', paths: [/^\/id/] },
  { name: 'cmd', label: 'Command', kind: 'textarea', wide: true, hint: 'run by /bin/sh -c; $PORT0 holds the first port', paths: [/^\/cmd/, /^\/args/] },
  { name: 'cpus', label: 'CPUs', type: 'number', step: 'any', paths: [/^\/cpus/] },
  { name: 'mem', label: 'Memory (MB)', type: 'number', step: 'any', paths: [/^\/mem/] },
  { name: 'disk', label: 'Disk (MB)', type: 'number', step: 'any', paths: [/^\/disk/] },
  { name: 'instances', label: 'Instances', type: 'number', step: '1', paths: [/^\/instances/] },
  { name: 'image', label: 'Docker image', hint: 'empty: run the command without a container image', paths: [/^\/container/] },
  { name: 'network', label: 'Network', kind: 'select', options: ['host', 'container/bridge'], paths: [/^\/networks/] },
  { name: 'ports', label: 'Ports', kind: 'textarea', hint: 'one per line: "port [name]" on host networking, "containerPort:hostPort [name]" on bridge; 0 = any', paths: [/^\/portDefinitions/, /^\/container\/portMappings/, /^\/container\/docker\/portMappings/, /^\/ports/] },
  { name: 'env', label: 'Environment', kind: 'textarea', hint: 'KEY=value, one per line', paths: [/^\/env/] },
  { name: 'labels', label: 'Labels', kind: 'textarea', hint: 'KEY=value, one per line', paths: [/^\/labels/] },
  { name: 'constraints', label: 'Constraints', kind: 'textarea', hint: 'field:OPERATOR[:value], one per line, e.g. hostname:UNIQUE', paths: [/^\/constraints/] },
  { name: 'health', label: 'Health check', kind: 'select', options: ['', 'HTTP', 'TCP', 'COMMAND'], hint: 'empty: none', paths: [/^\/healthChecks/] },
  { name: 'healthPath', label: 'Health check path or command', hint: 'HTTP: a path like /health; COMMAND: a shell command', paths: [] },
];

const lines = text => text.split('\n').map(l => l.trim()).filter(l => l);
const pairs = text => Object.fromEntries(lines(text).map(l => {
  const i = l.indexOf('=');
  return i < 0 ? [l, ''] : [l.slice(0, i), l.slice(i + 1)];
}));

/** The definition the form describes, on top of `base` (the app being edited, so that
 * fields the form does not show are kept). */
function formToApp(v, base) {
  const app = { ...base };
  app.id = v.id;
  if (v.cmd.trim()) { app.cmd = v.cmd; delete app.args; } else delete app.cmd;
  for (const k of ['cpus', 'mem', 'disk', 'instances']) {
    if (v[k] !== '') app[k] = Number(v[k]);
  }
  const bridge = v.network === 'container/bridge';
  const ports = lines(v.ports).map(l => {
    const [spec, name] = l.split(/\s+/);
    const [a, b] = spec.split(':');
    const p = bridge ? { containerPort: Number(a), hostPort: Number(b || 0), protocol: 'tcp' } : { port: Number(a), protocol: 'tcp' };
    if (name) p.name = name;
    return p;
  });
  app.networks = [{ mode: v.network }];
  if (v.image.trim()) {
    const container = { ...(base.container || {}), type: 'DOCKER' };
    container.docker = { ...((base.container && base.container.docker) || {}), image: v.image.trim() };
    delete container.docker.network;
    delete container.docker.portMappings;
    if (bridge) container.portMappings = ports; else delete container.portMappings;
    app.container = container;
  } else if (app.container && app.container.type === 'DOCKER') {
    delete app.container;
  }
  if (!bridge) app.portDefinitions = ports; else delete app.portDefinitions;
  delete app.ports;
  app.env = pairs(v.env);
  app.labels = pairs(v.labels);
  app.constraints = lines(v.constraints).map(l => l.split(':'));
  if (v.health) {
    const check = { protocol: v.health };
    if (v.health === 'HTTP') { check.path = v.healthPath || '/'; check.portIndex = 0; }
    if (v.health === 'TCP') check.portIndex = 0;
    if (v.health === 'COMMAND') check.command = { value: v.healthPath };
    app.healthChecks = [check];
  } else {
    app.healthChecks = [];
  }
  return app;
}

/** The form's values for a definition. */
function appToForm(app) {
  const docker = app.container && app.container.docker;
  const bridge = (app.networks || []).some(n => n.mode === 'container/bridge') || (docker && docker.network === 'BRIDGE');
  const mappings = (app.container && app.container.portMappings) || (docker && docker.portMappings) || [];
  const check = (app.healthChecks || [])[0];
  return {
    id: app.id || '', cmd: app.cmd || (app.args || []).join(' '),
    cpus: app.cpus ?? '', mem: app.mem ?? '', disk: app.disk ?? '', instances: app.instances ?? '',
    image: docker ? docker.image : '', network: bridge ? 'container/bridge' : 'host',
    ports: bridge ? mappings.map(p => `${p.containerPort}:${p.hostPort || 0}${p.name ? ' ' + p.name : ''}`).join('\n')
      : (app.portDefinitions || []).map(p => `${p.port}${p.name ? ' ' + p.name : ''}`).join('\n'),
    env: Object.entries(app.env || {}).filter(([, v]) => typeof v === 'string').map(([k, v]) => `${k}=${v}`).join('\n'),
    labels: Object.entries(app.labels || {}).map(([k, v]) => `${k}=${v}`).join('\n'),
    constraints: (app.constraints || []).map(c => c.join(':')).join('\n'),
    health: check ? (check.protocol || 'HTTP').replace(/^MESOS_/, '') : '',
    healthPath: check ? (check.path || (check.command && check.command.value) || '') : '',
  };
}

function editPage([id]) {
  const creating = !id;
  let base = creating ? { id: '', cmd: '', cpus: 0.1, mem: 64, disk: 0, instances: 1, networks: [{ mode: 'host' }], portDefinitions: [] } : null;
  const inputs = {};
  const errors = {};
  const general = h('div', { class: 'field-error', id: 'error-general', role: 'alert' });
  const form = h('form', { class: 'app-form', novalidate: true, id: 'app-form' },
    FIELDS.map(f => {
      const attrs = { id: 'app-' + f.name, name: f.name };
      const input = f.kind === 'textarea' ? h('textarea', { ...attrs, rows: 3 })
        : f.kind === 'select' ? h('select', attrs, f.options.map(o => h('option', { value: o }, o || 'none')))
          : h('input', { ...attrs, type: f.type || 'text', step: f.step });
      inputs[f.name] = input;
      errors[f.name] = h('div', { class: 'field-error', id: 'error-' + f.name, role: 'alert' });
      input.setAttribute('aria-describedby', 'error-' + f.name);
      return h('div', { class: 'field' + (f.wide ? ' wide' : ''), dataset: { field: f.name } },
        h('label', { for: 'app-' + f.name }, f.label), input,
        f.hint ? h('span', { class: 'hint' }, f.hint) : null, errors[f.name]);
    }));
  const json = h('textarea', { id: 'app-json', rows: 24, 'aria-label': 'App definition as JSON', spellcheck: 'false' });
  const jsonErrors = h('div', { class: 'field-error', id: 'error-json', role: 'alert' });
  const jsonPane = h('div', { hidden: true }, json, jsonErrors);
  let jsonMode = false;
  const modeButton = h('button', { type: 'button', class: 'secondary', id: 'json-mode' }, 'Edit as JSON');
  const submit = h('button', { type: 'button', id: 'submit-app' }, creating ? 'Create app' : 'Save changes');
  const el = h('div', {}, h('h1', {}, creating ? 'Create an application' : 'Edit ' + id),
    h('div', { class: 'toolbar' }, modeButton), general, form, jsonPane,
    h('div', { class: 'toolbar' }, submit, link(creating ? '/' : appRoute(id), 'Cancel')));

  const values = () => Object.fromEntries(Object.entries(inputs).map(([k, i]) => [k, i.value]));
  const setValues = v => { for (const [k, i] of Object.entries(inputs)) i.value = String(v[k] ?? ''); };
  function clearErrors() {
    fill(general); fill(jsonErrors);
    for (const [k, e] of Object.entries(errors)) { fill(e); e.parentElement.classList.remove('invalid'); }
  }

  modeButton.addEventListener('click', () => {
    clearErrors();
    if (!jsonMode) {
      json.value = JSON.stringify(formToApp(values(), base), null, 2);
    } else {
      let parsed;
      try { parsed = JSON.parse(json.value); } catch (e) { fill(jsonErrors, 'Not valid JSON: ', e.message); return; }
      base = parsed;
      setValues(appToForm(parsed));
    }
    jsonMode = !jsonMode;
    form.hidden = jsonMode;
    jsonPane.hidden = !jsonMode;
    fill(modeButton, jsonMode ? 'Edit as form' : 'Edit as JSON');
  });

  /** Puts each of the API's messages next to the field its path names. */
  function showErrors(e) {
    const details = (e.body && Array.isArray(e.body.details)) ? e.body.details : [];
    fill(general, e.message);
    for (const d of details) {
      const text = `${d.path}: ${(d.errors || []).join('; ')}`;
      if (jsonMode) { jsonErrors.appendChild(h('div', {}, text)); continue; }
      const f = FIELDS.find(f => f.paths.some(p => p.test(d.path || '')));
      const target = f ? errors[f.name] : general;
      // At a field, the path is shown only when it names a part of the field's value.
      const plain = f && f.paths.some(p => p.source === `^\\${d.path}`);
      target.appendChild(h('div', {}, f ? (d.errors || []).join('; ') + (plain ? '' : ` (${d.path})`) : text));
      if (f) target.parentElement.classList.add('invalid');
    }
    const first = form.querySelector('.invalid input, .invalid textarea, .invalid select');
    if (first && !jsonMode) first.focus();
  }

  submit.addEventListener('click', async () => {
    clearErrors();
    submit.disabled = true;
    try {
      const body = jsonMode ? json.value : JSON.stringify(formToApp(values(), base));
      let appId = id;
      if (creating) {
        const created = await api('v2/apps', { method: 'POST', body });
        appId = created.id;
      } else {
        await api(appPath(id), { method: 'PUT', body });
      }
      location.hash = '#' + appRoute(appId);
    } catch (e) {
      showErrors(e);
    } finally {
      submit.disabled = false;
    }
  });

  if (creating) setValues(appToForm(base));
  return {
    title: creating ? 'Create app' : 'Edit ' + id, el,
    async refresh() {
      if (base) return;
      base = definition((await api(appPath(id))).app);
      setValues(appToForm(base));
    },
  };
}

// ---------------------------------------------------------------------------------------
// Deployments and the queue

function deploymentsPage() {
  const table = pagedTable([
    { title: 'Deployment', cell: d => h('span', {}, d.id, h('br'), h('span', { class: 'muted' }, 'version ', d.version)) },
    { title: 'Apps', cell: d => (d.affectedApps || []).map((a, i) => [i ? ', ' : null, link(appRoute(a), a)]) },
    { title: 'Progress', cell: d => stackBar([{ value: Math.max(0, d.currentStep - 1), cls: 'used', label: 'steps done' }],
      d.totalSteps, `step ${d.currentStep} of ${d.totalSteps}`) },
    { title: 'Current actions', cell: d => (d.currentActions || []).map(a => h('div', {}, a.action, ' ', a.app || a.pod || '',
      (a.readinessCheckResults || []).length ? ` (${a.readinessCheckResults.filter(r => r.ready).length}/${a.readinessCheckResults.length} ready)` : '')) },
    { title: 'Steps', cell: d => h('ol', {}, (d.steps || []).map(s => h('li', {}, (s.actions || []).map(a => `${a.action} ${a.app || a.pod || ''}`).join(', ')))) },
    { title: 'Actions', cell: d => h('span', { class: 'action' },
      actionButton('Roll back', async () => {
        if (!await confirmDialog('Roll back this deployment?', 'A new deployment returns the apps to where they were before it.', 'Roll back')) return false;
        await api('v2/deployments/' + encodeURIComponent(d.id), { method: 'DELETE' });
      }, { class: 'small secondary', icon: 'rollback', done: 'Rolling back.' }),
      actionButton('Force cancel', async () => {
        if (!await confirmDialog('Cancel this deployment?', 'The deployment stops where it is, without rolling back: the apps stay half-deployed.', 'Cancel deployment')) return false;
        await api('v2/deployments/' + encodeURIComponent(d.id) + '?force=true', { method: 'DELETE' });
      }, { class: 'small danger', done: 'Cancelled.' })) },
  ], { empty: 'No deployment is running.' });
  return {
    title: 'Deployments', el: h('div', {}, h('h1', {}, 'Deployments'), table.el),
    async refresh() { table.update(await api('v2/deployments')); },
  };
}

function queuePage() {
  const list = h('div', { id: 'queue' });
  return {
    title: 'Waiting apps', el: h('div', {}, h('h1', {}, 'Why apps wait'),
      h('p', { class: 'muted' }, 'Apps with instances not yet launched, with the checks the last offers failed and the launch backoff.'), list),
    async refresh() {
      const items = [...(await queueById()).values()];
      fill(list, items.length ? items.map(i => h('section', {}, h('h2', {}, link(appRoute(i.app.id), i.app.id)), whyWaiting(i)))
        : h('p', {}, 'No app is waiting: every instance is launched.'));
    },
  };
}

// ---------------------------------------------------------------------------------------
// Live updates

const EVENT_TYPES = ['status_update_event', 'instance_changed_event', 'instance_health_changed_event',
  'health_status_changed_event', 'unhealthy_instance_kill_event', 'failed_health_check_event',
  'api_post_event', 'app_terminated_event', 'group_change_success', 'group_change_failed',
  'deployment_info', 'deployment_success', 'deployment_failed', 'deployment_step_success',
  'deployment_step_failure'];

function liveUpdates(app) {
  let soon = null;
  const refreshSoon = () => {
    if (!soon) soon = setTimeout(() => { soon = null; app.refreshNow(); }, 250);
  };
  let source = null;
  // Leaving the page closes the stream: a browser holds six connections per host, and
  // streams still open from pages left behind (the back-forward cache keeps them) would
  // leave the next page of the same Marathon waiting for a free one.
  window.addEventListener('pagehide', () => { if (source) source.close(); source = null; });
  window.addEventListener('pageshow', e => { if (e.persisted && !source) connect(); });
  function connect() {
    source = new EventSource(new URL('v2/events', apiRoot));
    // Marathon names each frame (`event: <type>`); an unnamed one arrives as 'message'.
    for (const type of [...EVENT_TYPES, 'message']) source.addEventListener(type, refreshSoon);
    source.addEventListener('open', () => {
      banner('events', null);
      app.setInterval(SAFETY_POLL_MS);
      document.body.dataset.live = 'events';
      refreshSoon();
    });
    source.addEventListener('error', () => {
      banner('events', 'warn', 'Live updates from /v2/events are disconnected: refreshing every ',
        String(POLL_MS / 1000), ' s until the connection is back.');
      app.setInterval(POLL_MS);
      document.body.dataset.live = 'polling';
      // A refused stream (not 200) is not retried by the browser: try again later.
      if (source && source.readyState === EventSource.CLOSED) setTimeout(() => { if (source) connect(); }, 10000);
    });
  }
  connect();
}

async function showLeader() {
  try {
    const info = await api('v2/info');
    fill(document.getElementById('leader'), `Marathon ${info.version} · leader ${info.leader || 'none'}`);
  } catch (_) { /* the refresh banner reports an unreachable API */ }
}

const app = startApp({
  interval: POLL_MS,
  nav: document.getElementById('nav'),
  onRefreshError: e => e.status === 0 ? `Cannot reach Marathon (${e.message}).` : `Marathon answered ${e.message}.`,
  routes: [
    [/^\/$/, appsPage],
    [/^\/new$/, () => editPage([])],
    [/^\/edit(\/.+)$/, editPage],
    [/^\/app(\/.+)$/, appPage],
    [/^\/deployments$/, deploymentsPage],
    [/^\/queue$/, queuePage],
  ],
});
liveUpdates(app);
exposureBanner('v2/info/exposure');
showLeader();
setInterval(showLeader, 30000);
