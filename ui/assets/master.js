// The master's dashboard (port 5050): overview, agents, frameworks, tasks, sandboxes and
// live logs, roles and quota, flags. Reads /master/state-summary, /master/tasks,
// /metrics/snapshot, /master/roles, /master/flags (also once at start: `exposure_warning`)
// and the operator API (/api/v1); an
// agent's /state and /files/* on the agent's own address (its pid).

import {
  h, fill, link, icon, badge, taskState, fmtCpus, fmtMB, fmtDuration, ago, scalars, api,
  ApiError, banner, confirmDialog, actionButton, pagedTable, searchBox, facts, lineChart,
  listPage, startApp, exposureBanner,
} from './lib.js';

const REFRESH_MS = 2000;
/** Samples kept for the charts: five minutes at one per refresh. */
const HISTORY = 150;
const TERMINAL = new Set(['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_ERROR', 'TASK_LOST',
  'TASK_DROPPED', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR']);

// ---------------------------------------------------------------------------------------
// Cluster-wide samples and leadership, kept whatever page is open

const history = [];
let version = null;

async function sample() {
  const m = await api('metrics/snapshot');
  history.push({ t: Date.now(), m });
  if (history.length > HISTORY) history.shift();
  await followLeader(m);
  return m;
}

/** A standby says so and links to the leader (read from this master's /master/state,
 * which names the leader it knows). */
async function followLeader(metrics) {
  const header = document.getElementById('leader');
  if (!version) version = await api('version').catch(() => null);
  if (metrics['master/elected'] === 1) {
    banner('leader', null);
    fill(header, 'leading · Mesos ', version ? version.version : '?', ' · up ',
      fmtDuration(metrics['master/uptime_secs']));
    return;
  }
  const state = await api('master/state');
  const info = state.leader_info;
  if (!info || !state.leader) {
    banner('leader', 'warn', 'This master is a standby and no leader is elected yet: ',
      'the dashboard shows data once a master leads.');
    fill(header, 'standby · no leader');
    return;
  }
  const address = (info.address && (info.address.hostname || info.address.ip)) || info.hostname;
  const port = (info.address && info.address.port) || info.port;
  const url = `${location.protocol}//${address}:${port}/${location.hash}`;
  banner('leader', 'warn', 'This master is a standby, not the leader: its data is empty. ',
    'The leading master is ', h('a', { href: url, id: 'leader-link' }, `${address}:${port}`), '.');
  fill(header, 'standby · leader ', `${address}:${port}`);
}

/** The agent's HTTP base URL from its pid (`slave(1)@ip:port`), as tools reach agents. */
function agentUrl(agent) {
  const at = (agent.pid || '').split('@')[1] || `${agent.hostname}:${agent.port || 5051}`;
  return `${location.protocol}//${at}`;
}

function agentStatus(a) {
  if (a.drain_info) return badge((a.drain_info.state || 'draining').toLowerCase(), 'warn');
  if (a.deactivated) return badge('deactivated', 'warn');
  return a.active ? badge('active', 'ok') : badge('inactive', 'bad');
}

function usage(used, total) {
  const u = scalars(used), t = scalars(total);
  return [
    `${fmtCpus(u.cpus)} / ${fmtCpus(t.cpus)} CPUs`, h('br'),
    `${fmtMB(u.mem)} / ${fmtMB(t.mem)} mem`, h('br'),
    `${fmtMB(u.disk)} / ${fmtMB(t.disk)} disk`,
  ];
}

function attributes(attrs) {
  const entries = Object.entries(attrs || {});
  return entries.length ? entries.map(([k, v]) => `${k}:${v}`).join('; ') : '—';
}

/** Tasks on one line of a table: id links to the task page. */
function taskColumns(opts = {}) {
  return [
    { title: 'Task', cell: t => link(`/tasks/${encodeURIComponent(t.framework_id)}/${encodeURIComponent(t.id)}`, t.id) },
    { title: 'Name', cell: t => t.name || '—' },
    { title: 'State', cell: t => taskState(t.state) },
    opts.noFramework ? null : { title: 'Framework', cell: t => link(`/frameworks/${encodeURIComponent(t.framework_id)}`, t.framework_id) },
    opts.noAgent ? null : { title: 'Agent', cell: t => link(`/agents/${encodeURIComponent(t.slave_id)}`, t.slave_id) },
    { title: 'Resources', cell: t => { const r = scalars(t.resources); return `${fmtCpus(r.cpus)} CPUs, ${fmtMB(r.mem)}`; } },
    { title: 'Updated', cell: t => ago(lastStatusTime(t)) },
  ].filter(c => c);
}

function lastStatusTime(t) {
  const s = t.statuses || [];
  return s.length ? s[s.length - 1].timestamp : undefined;
}

function matches(text, ...fields) {
  return !text || fields.some(f => f && String(f).toLowerCase().includes(text));
}

// ---------------------------------------------------------------------------------------
// Overview

function overviewPage() {
  const leaderPanel = h('div', { class: 'panel' });
  const agentsPanel = h('div', { class: 'panel' });
  const frameworksPanel = h('div', { class: 'panel' });
  const tasksPanel = h('div', { class: 'panel' });
  const charts = h('div', { class: 'panels' });
  const agents = pagedTable([
    { title: 'Agent', cell: a => link(`/agents/${encodeURIComponent(a.id)}`, a.hostname) },
    { title: 'Status', cell: agentStatus },
    { title: 'Used / total', cell: a => usage(a.used_resources, a.resources) },
  ], { pageSize: 10, empty: 'No agent has registered.' });
  const tasks = pagedTable(taskColumns(), { pageSize: 10, empty: 'No active task.' });
  const el = h('div', {},
    h('h1', {}, 'Cluster overview'),
    h('div', { class: 'panels' }, leaderPanel, agentsPanel, frameworksPanel, tasksPanel),
    h('h2', {}, 'Resources allocated (line) and total (dashed), last five minutes'), charts,
    h('h2', {}, 'Agents'), h('div', { id: 'overview-agents' }, agents.el),
    h('h2', {}, 'Active tasks'), h('div', { id: 'overview-tasks' }, tasks.el));

  async function refresh() {
    const [m, summary, recent] = await Promise.all([
      sample(), api('master/state-summary'), api('master/tasks?limit=200&order=desc')]);
    fill(leaderPanel, h('h2', {}, 'Master'), facts([
      ['Hostname', summary.hostname],
      ['Cluster', summary.cluster],
      ['Version', version && version.version],
      ['Elected', m['master/elected'] === 1 ? badge('leader', 'ok') : badge('standby', 'warn')],
      ['Uptime', fmtDuration(m['master/uptime_secs'])],
    ]));
    fill(agentsPanel, h('h2', {}, 'Agents'), facts([
      ['Active', m['master/slaves_active']],
      ['Inactive', m['master/slaves_inactive']],
      ['Unreachable', m['master/slaves_unreachable']],
      ['Disconnected', m['master/slaves_disconnected']],
    ]));
    fill(frameworksPanel, h('h2', {}, 'Frameworks'), facts([
      ['Active', m['master/frameworks_active']],
      ['Inactive', m['master/frameworks_inactive']],
      ['Disconnected', m['master/frameworks_disconnected']],
      ['Offers outstanding', m['master/outstanding_offers']],
    ]));
    const states = ['staging', 'starting', 'running', 'killing', 'finished', 'failed', 'killed',
      'lost', 'error', 'dropped', 'unreachable', 'gone'];
    fill(tasksPanel, h('h2', {}, 'Tasks by state'), h('div', { class: 'facts', id: 'task-counts' },
      states.filter(s => m[`master/tasks_${s}`] > 0).map(s =>
        [h('dt', {}, taskState('TASK_' + s.toUpperCase())), h('dd', {}, m[`master/tasks_${s}`])])),
      states.every(s => !m[`master/tasks_${s}`]) ? h('p', { class: 'muted' }, 'No task yet.') : null);
    fill(charts, ['cpus', 'mem', 'disk'].map(kind => {
      const used = history.map(s => s.m[`master/${kind}_used`] || 0);
      const total = history.map(s => s.m[`master/${kind}_total`] || 0);
      const max = Math.max(1, ...total, ...used);
      const now = { used: used[used.length - 1], total: total[total.length - 1] };
      const show = kind === 'cpus' ? fmtCpus : fmtMB;
      const label = `${kind === 'cpus' ? 'CPUs' : kind}: ${show(now.used)} of ${show(now.total)} allocated`;
      return h('div', { class: 'panel' }, h('h2', {}, label),
        lineChart([{ values: total, cls: 'total' }, { values: used, cls: 'used', area: true }], max,
          { samples: HISTORY, label }),
        h('div', { class: 'legend' }, `${Math.round(100 * (now.used || 0) / Math.max(now.total || 0, 1e-9))}% allocated`));
    }));
    agents.update(summary.slaves || []);
    tasks.update((recent.tasks || []).filter(t => !TERMINAL.has(t.state)));
  }
  return { title: 'Overview', el, refresh };
}

// ---------------------------------------------------------------------------------------
// Agents

function agentsPage() {
  return listPage({
    title: 'Agents',
    columns: [
      { title: 'ID', cell: a => link(`/agents/${encodeURIComponent(a.id)}`, a.id) },
      { title: 'Hostname', cell: a => a.hostname },
      { title: 'Status', cell: agentStatus },
      { title: 'Used / total', cell: a => usage(a.used_resources, a.resources) },
      { title: 'Attributes', cell: a => attributes(a.attributes) },
      { title: 'Registered', cell: a => ago(a.registered_time) },
    ],
    load: async () => (await api('master/state-summary')).slaves || [],
    fields: a => [a.id, a.hostname, attributes(a.attributes)],
    searchLabel: 'Filter by id, hostname, attribute',
    searchId: 'agent-filter',
  });
}

async function operatorCall(type, agentId, extra = {}) {
  const field = type.toLowerCase();
  await api('api/v1', { method: 'POST', body: { type, [field]: { agent_id: { value: agentId }, ...extra } } });
}

function agentPage([id]) {
  const info = h('div', { class: 'panel' });
  const actions = h('div', { class: 'toolbar' });
  const executorsEl = h('div');
  const tasks = pagedTable(taskColumns({ noAgent: true }), { empty: 'No task on this agent.' });
  let filter = '';
  let agentTasks = [];
  const showTasks = () => tasks.update(agentTasks.filter(t => matches(filter, t.id, t.name, t.state)));
  const el = h('div', {}, h('h1', {}, 'Agent ', id), actions, info,
    h('h2', {}, 'Tasks'),
    h('div', { class: 'toolbar' }, searchBox('Filter tasks', t => { filter = t; showTasks(); })),
    tasks.el, h('h2', {}, 'Executors (from the agent)'), executorsEl);

  function act(type, label, text, opts = {}) {
    return actionButton(label, async () => {
      let grace = null;
      const extra = opts.grace ? h('label', {}, 'Grace period for tasks, seconds (empty: each task\'s own) ',
        grace = h('input', { type: 'number', min: 0, id: 'grace-seconds' })) : null;
      if (!await confirmDialog(`${label} agent?`, text, label, extra)) return false;
      const body = {};
      if (grace && grace.value !== '') body.max_grace_period = { seconds: Number(grace.value) };
      await operatorCall(type, id, body);
      await page.refresh();
    }, { class: opts.danger ? 'danger' : 'secondary', done: 'Done.', id: 'agent-' + type.toLowerCase() });
  }

  let drawnActions = null;
  const page = {
    title: 'Agent ' + id, el,
    async refresh() {
      const summary = await api('master/state-summary');
      const agent = (summary.slaves || []).find(a => a.id === id);
      if (!agent) {
        fill(info, h('p', {}, 'This master does not know agent ', id,
          ' (it may be unreachable or gone). ', link('/agents', 'All agents.')));
        return;
      }
      fill(info, facts([
        ['Hostname', agent.hostname], ['Address', agentUrl(agent)], ['Status', agentStatus(agent)],
        ['Version', agent.version], ['Registered', ago(agent.registered_time)],
        ['Used / total', usage(agent.used_resources, agent.resources)],
        ['Offered', usage(agent.offered_resources, agent.resources)],
        ['Ports', (agent.resources && agent.resources.ports) || '—'],
        ['Attributes', attributes(agent.attributes)],
      ]));
      // Redrawn only when the state changes, so an error shown next to a button stays.
      const key = `${agent.active}/${agent.deactivated}/${!!agent.drain_info}`;
      if (key !== drawnActions) {
        drawnActions = key;
        fill(actions,
          act('DRAIN_AGENT', 'Drain', 'Draining kills the agent\'s tasks and sends it no new offers; the agent stays registered.', { danger: true, grace: true }),
          agent.deactivated || agent.drain_info
            ? act('REACTIVATE_AGENT', 'Reactivate', 'The agent will receive offers again.')
            : act('DEACTIVATE_AGENT', 'Deactivate', 'The agent will receive no new offers; its tasks keep running.'));
      }
      // The agent's own /state holds its tasks: the master's /tasks would be the whole
      // cluster's list (megabytes at 10,000 tasks) to keep a few of them.
      try {
        const state = await api(agentUrl(agent) + '/state');
        agentTasks = agentStateTasks(state);
        showTasks();
        fill(executorsEl, executorTable(agent, state));
      } catch (e) {
        agentTasks = [];
        showTasks();
        fill(executorsEl, h('p', { class: 'error-text' }, 'The agent did not answer: ', e.message));
      }
    },
  };
  return page;
}

/** An agent's executors from its /state: `{ f: framework, e: executor, done }`. */
function agentExecutors(state) {
  const rows = [];
  for (const f of [...(state.frameworks || []), ...(state.completed_frameworks || [])]) {
    for (const e of [...(f.executors || []), ...(f.completed_executors || [])]) {
      rows.push({ f, e, done: (f.completed_executors || []).includes(e) });
    }
  }
  return rows;
}

/** Every task an agent's /state lists: running, queued and completed. */
function agentStateTasks(state) {
  return agentExecutors(state).flatMap(({ e }) =>
    [...(e.tasks || []), ...(e.queued_tasks || []), ...(e.completed_tasks || [])]);
}

function executorTable(agent, state) {
  const rows = agentExecutors(state);
  const table = pagedTable([
    { title: 'Executor', cell: r => r.e.id },
    { title: 'Framework', cell: r => link(`/frameworks/${encodeURIComponent(r.f.id)}`, r.f.name || r.f.id) },
    { title: 'Status', cell: r => r.done ? badge('terminated', 'idle') : badge('running', 'ok') },
    { title: 'Tasks', cell: r => String((r.e.tasks || []).length + (r.e.queued_tasks || []).length) },
    { title: 'Resources', cell: r => { const s = scalars(r.e.resources); return `${fmtCpus(s.cpus)} CPUs, ${fmtMB(s.mem)}`; } },
    { title: 'Sandbox', cell: r => link(sandboxRoute(agent.id, r.e.directory), icon('folder'), 'Browse') },
  ], { empty: 'No executor on this agent.', key: r => [r.f.id, r.e.id, r.done, (r.e.tasks || []).length] });
  table.update(rows);
  return table.el;
}

function sandboxRoute(agentId, path) {
  return `/sandbox/${encodeURIComponent(agentId)}?path=${encodeURIComponent(path)}`;
}

function logRoute(agentId, path) {
  return `/log/${encodeURIComponent(agentId)}?path=${encodeURIComponent(path)}`;
}

// ---------------------------------------------------------------------------------------
// Frameworks

function frameworksPage() {
  return listPage({
    title: 'Frameworks',
    columns: [
      { title: 'ID', cell: f => link(`/frameworks/${encodeURIComponent(f.id)}`, f.id) },
      { title: 'Name', cell: f => f.name },
      { title: 'Status', cell: f => f.active ? badge('active', 'ok') : badge('inactive', 'warn') },
      { title: 'Role', cell: f => f.role || (f.roles || []).join(', ') || '—' },
      { title: 'Running tasks', cell: f => String(f.TASK_RUNNING || 0) },
      { title: 'Allocated', cell: f => { const s = scalars(f.used_resources); return `${fmtCpus(s.cpus)} CPUs, ${fmtMB(s.mem)}`; } },
    ],
    load: async () => (await api('master/state-summary')).frameworks || [],
    fields: f => [f.id, f.name],
    searchLabel: 'Filter by id or name',
  });
}

function frameworkPage([id]) {
  const info = h('div', { class: 'panel' });
  const tasks = pagedTable(taskColumns({ noFramework: true }), { empty: 'No task.' });
  const el = h('div', {}, h('h1', {}, 'Framework ', id), info, h('h2', {}, 'Tasks (active and completed)'), tasks.el);
  return {
    title: 'Framework ' + id, el,
    async refresh() {
      const all = await api('master/frameworks');
      const done = (all.completed_frameworks || []).find(f => f.id === id);
      const f = (all.frameworks || []).find(x => x.id === id) || done;
      if (!f) { fill(info, h('p', {}, 'No framework ', id, ' is known to this master.')); return; }
      const used = scalars(f.used_resources), offered = scalars(f.offered_resources);
      fill(info, facts([
        ['Name', f.name], ['Status', done ? badge('completed', 'idle') : f.active ? badge('active', 'ok') : badge('inactive', 'warn')],
        ['Role', f.role || (f.roles || []).join(', ')], ['Principal', f.principal], ['User', f.user],
        ['Hostname', f.hostname], ['Web UI', f.webui_url ? h('a', { href: f.webui_url }, f.webui_url) : null],
        ['Registered', ago(f.registered_time)], ['Failover timeout', fmtDuration(f.failover_timeout)],
        ['Allocated', `${fmtCpus(used.cpus)} CPUs, ${fmtMB(used.mem)} mem, ${fmtMB(used.disk)} disk`],
        ['Offers outstanding', `${(f.offers || []).length} (${fmtCpus(offered.cpus)} CPUs, ${fmtMB(offered.mem)})`],
        ['Capabilities', (f.capabilities || []).join(', ')],
      ]));
      tasks.update([...(f.tasks || []), ...(f.unreachable_tasks || []), ...(f.completed_tasks || [])]);
    },
  };
}

// ---------------------------------------------------------------------------------------
// Tasks

function tasksPage(_, params) {
  let filter = params.get('q') || '';
  let which = params.get('show') || 'active';
  let all = [];
  let last = 0;
  const table = pagedTable(taskColumns(), { empty: 'No task matches.' });
  const show = () => table.update(all.filter(t =>
    (which === 'all' || (which === 'active') !== TERMINAL.has(t.state)) &&
    matches(filter, t.id, t.name, t.state, t.framework_id, t.slave_id)));
  const select = h('select', { 'aria-label': 'Which tasks', id: 'task-which' },
    ['active', 'completed', 'all'].map(v => h('option', { value: v, selected: v === which }, v)));
  select.addEventListener('change', () => { which = select.value; show(); });
  const search = searchBox('Search id, name, state, framework, agent', t => { filter = t; show(); }, 'task-filter');
  search.value = filter;
  const el = h('div', {}, h('h1', {}, 'Tasks'), h('div', { class: 'toolbar' }, select, search), table.el);
  return {
    title: 'Tasks', el,
    async refresh() {
      // The whole list is read at most every 5 s: at 10,000 tasks it is megabytes.
      if (Date.now() - last < 5000 && all.length > 1000) return;
      last = Date.now();
      all = (await api('master/tasks?limit=-1&order=desc')).tasks || [];
      show();
    },
  };
}

/** Where a task's sandbox is: asks the task's agent (its /state names the directory of
 * the executor that ran the task). */
async function findSandbox(task) {
  const summary = await api('master/state-summary');
  const agent = (summary.slaves || []).find(a => a.id === task.slave_id);
  if (!agent) throw new ApiError(0, `The agent ${task.slave_id} is not registered`, null);
  const state = await api(agentUrl(agent) + '/state');
  const executorId = task.executor_id || task.id;
  for (const f of [...(state.frameworks || []), ...(state.completed_frameworks || [])]) {
    if (f.id !== task.framework_id) continue;
    for (const e of [...(f.executors || []), ...(f.completed_executors || [])]) {
      const ids = [...(e.tasks || []), ...(e.queued_tasks || []), ...(e.completed_tasks || [])].map(t => t.id);
      if (e.id === executorId || ids.includes(task.id)) return { agent, directory: e.directory };
    }
  }
  throw new ApiError(0, `The agent has no sandbox for task ${task.id} (it may have been garbage collected)`, null);
}

function taskPage([frameworkId, taskId]) {
  const info = h('div', { class: 'panel' });
  const sandbox = h('div', { class: 'toolbar', id: 'task-sandbox' });
  const history = pagedTable([
    { title: 'State', cell: s => taskState(s.state) },
    { title: 'When', cell: s => ago(s.timestamp) },
    { title: 'Source', cell: s => (s.source || '').replace(/^SOURCE_/, '').toLowerCase() || '—' },
    { title: 'Reason', cell: s => s.reason || '—' },
    { title: 'Message', cell: s => s.message || '—' },
    { title: 'Healthy', cell: s => s.healthy === undefined ? '—' : s.healthy ? badge('healthy', 'ok') : badge('unhealthy', 'bad') },
  ], { empty: 'No status yet.' });
  const el = h('div', {}, h('h1', {}, 'Task ', taskId), sandbox, info, h('h2', {}, 'State history'), history.el);
  let sandboxShown = false;
  return {
    title: 'Task ' + taskId, el,
    async refresh() {
      const found = await api(`master/tasks?limit=-1&framework_id=${encodeURIComponent(frameworkId)}&task_id=${encodeURIComponent(taskId)}`);
      const t = (found.tasks || [])[0];
      if (!t) { fill(info, h('p', {}, 'The master knows no task ', taskId, ' of framework ', frameworkId, '.')); return; }
      const r = scalars(t.resources);
      fill(info, facts([
        ['Name', t.name], ['State', taskState(t.state)],
        ['Framework', link(`/frameworks/${encodeURIComponent(t.framework_id)}`, t.framework_id)],
        ['Agent', link(`/agents/${encodeURIComponent(t.slave_id)}`, t.slave_id)],
        ['Executor', t.executor_id], ['Role', t.role],
        ['Resources', `${fmtCpus(r.cpus)} CPUs, ${fmtMB(r.mem)} mem, ${fmtMB(r.disk)} disk`],
        ['Ports', t.resources && t.resources.ports],
        ['Container', t.container ? t.container.type + (t.container.docker ? ' ' + t.container.docker.image : '') : null],
        ['Labels', t.labels && t.labels.labels ? t.labels.labels.map(l => `${l.key}=${l.value || ''}`).join(', ') : null],
      ]));
      history.update([...(t.statuses || [])].reverse());
      if (!sandboxShown) {
        sandboxShown = true;
        try {
          const { agent, directory } = await findSandbox(t);
          fill(sandbox,
            h('a', { class: 'button', href: '#' + logRoute(agent.id, directory + '/stdout'), id: 'open-stdout' }, 'stdout'),
            h('a', { class: 'button', href: '#' + logRoute(agent.id, directory + '/stderr'), id: 'open-stderr' }, 'stderr'),
            h('a', { class: 'button secondary', href: '#' + sandboxRoute(agent.id, directory) }, icon('folder'), 'Sandbox'));
        } catch (e) {
          sandboxShown = false;
          fill(sandbox, h('span', { class: 'error-text' }, 'Sandbox: ', e.message));
        }
      }
    },
  };
}

// ---------------------------------------------------------------------------------------
// Sandbox browser and log view (the agent's /files API)

async function agentById(agentId) {
  const summary = await api('master/state-summary');
  const agent = (summary.slaves || []).find(a => a.id === agentId);
  if (!agent) throw new ApiError(0, `The agent ${agentId} is not registered`, null);
  return agent;
}

function sandboxPage([agentId], params) {
  const path = params.get('path') || '';
  const table = pagedTable([
    { title: 'Name', cell: f => {
      const name = f.path.split('/').pop();
      return f.mode && f.mode.startsWith('d')
        ? link(sandboxRoute(agentId, f.path), icon('folder'), name)
        : link(logRoute(agentId, f.path), icon('file'), name);
    } },
    { title: 'Mode', cell: f => f.mode },
    { title: 'Size', cell: f => String(f.size) },
    { title: 'Modified', cell: f => ago(f.mtime) },
    { title: 'Download', cell: f => f.mode && f.mode.startsWith('d') ? '' : downloadLink(f.path) },
  ], { empty: 'Empty directory.' });
  let base = null;
  const downloadLink = p => base ? h('a', { href: `${base}/files/download?path=${encodeURIComponent(p)}` }, icon('download'), 'Download') : '';
  const parent = path.replace(/\/[^/]*$/, '');
  const el = h('div', {}, h('h1', {}, 'Sandbox'), h('p', { class: 'muted' }, 'Agent ', link(`/agents/${encodeURIComponent(agentId)}`, agentId), ' · ', path),
    h('p', {}, link(sandboxRoute(agentId, parent), '↑ Parent directory')), table.el);
  return {
    title: 'Sandbox', el,
    async refresh() {
      if (!base) base = agentUrl(await agentById(agentId));
      const list = await api(`${base}/files/browse?path=${encodeURIComponent(path)}`);
      table.update([...list].sort((a, b) => a.path.localeCompare(b.path)));
    },
  };
}

/** The log view: reads the file from its end and keeps reading from the last offset
 * while "follow" is on; at most MAX_SHOWN bytes are kept on screen. */
function logPage([agentId], params) {
  const path = params.get('path') || '';
  const CHUNK = 65536, TAIL = 65536, MAX_SHOWN = 1 << 20;
  const pre = h('pre', { class: 'log', id: 'log', tabindex: '0', 'aria-label': 'File content' });
  const status = h('span', { class: 'muted', role: 'status' });
  const follow = h('input', { type: 'checkbox', id: 'follow', checked: true });
  const download = h('a', { class: 'button secondary', id: 'download' }, icon('download'), 'Download');
  const el = h('div', {}, h('h1', {}, path.split('/').pop()),
    h('p', { class: 'muted' }, 'Agent ', link(`/agents/${encodeURIComponent(agentId)}`, agentId), ' · ',
      link(sandboxRoute(agentId, path.replace(/\/[^/]*$/, '')), path)),
    h('div', { class: 'toolbar' }, h('label', {}, follow, ' Follow (read new output every second)'), download, status),
    pre);
  let base = null;
  let offset = null;
  let shown = 0;

  function add(text) {
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.appendChild(document.createTextNode(text));
    shown += text.length;
    while (shown > MAX_SHOWN && pre.firstChild) {
      shown -= pre.firstChild.textContent.length;
      pre.removeChild(pre.firstChild);
    }
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }

  const timer = setInterval(() => { if (follow.checked) read().catch(showError); }, 1000);
  function showError(e) { fill(status, h('span', { class: 'error-text' }, e.message)); }
  let reading = false;

  async function read() {
    if (reading) return;
    reading = true;
    try {
      if (!base) {
        base = agentUrl(await agentById(agentId));
        download.href = `${base}/files/download?path=${encodeURIComponent(path)}`;
      }
      const file = `${base}/files/read?path=${encodeURIComponent(path)}`;
      if (offset === null) {
        const size = (await api(`${file}&offset=-1`)).offset;
        offset = Math.max(0, size - TAIL);
        if (offset > 0) add(`[… ${offset} earlier bytes not shown; use Download for the whole file]\n`);
      }
      for (;;) {
        const chunk = await api(`${file}&offset=${offset}&length=${CHUNK}`);
        if (!chunk.data) break;
        add(chunk.data);
        offset = chunk.offset + chunk.data.length;
        if (chunk.data.length < CHUNK) break;
      }
      fill(status, `${offset} bytes read`);
    } finally {
      reading = false;
    }
  }
  return { title: path.split('/').pop() || 'Log', el, refresh: () => read().catch(showError), stop: () => clearInterval(timer) };
}

// ---------------------------------------------------------------------------------------
// Roles, weights, quota; flags

function rolesPage() {
  const roles = pagedTable([
    { title: 'Role', cell: r => r.name },
    { title: 'Weight', cell: r => String(r.weight) },
    { title: 'Frameworks', cell: r => String((r.frameworks || []).length) },
    { title: 'Allocated', cell: r => { const s = scalars(r.resources); return `${fmtCpus(s.cpus)} CPUs, ${fmtMB(s.mem)} mem, ${fmtMB(s.disk)} disk`; } },
  ], { empty: 'No role is in use.' });
  const quotas = pagedTable([
    { title: 'Role', cell: q => q.role },
    { title: 'Guarantees', cell: q => quantities(q.guarantees) },
    { title: 'Limits', cell: q => quantities(q.limits) },
  ], { empty: 'No quota is set.' });
  const weights = pagedTable([
    { title: 'Role', cell: w => w.role },
    { title: 'Weight', cell: w => String(w.weight) },
  ], { empty: 'Every role has the default weight 1.' });
  const quantities = m => Object.entries(m || {}).map(([k, v]) => `${k}: ${v.value !== undefined ? v.value : v}`).join(', ') || '—';
  const el = h('div', {}, h('h1', {}, 'Roles'), roles.el, h('h2', {}, 'Weights'), weights.el,
    h('h2', {}, 'Quota'), quotas.el);
  return {
    title: 'Roles', el,
    async refresh() {
      const [r, w, q] = await Promise.all([
        api('master/roles'),
        api('api/v1', { method: 'POST', body: { type: 'GET_WEIGHTS' } }),
        api('api/v1', { method: 'POST', body: { type: 'GET_QUOTA' } })]);
      roles.update(r.roles || []);
      weights.update((w.get_weights && w.get_weights.weight_infos) || []);
      const status = (q.get_quota && q.get_quota.status) || {};
      quotas.update(status.configs || (status.infos || []).map(i => ({ role: i.role, guarantees: Object.fromEntries((i.guarantee || []).map(g => [g.name, g.scalar && g.scalar.value])) })));
    },
  };
}

function flagsPage() {
  let loaded = false;
  return listPage({
    title: 'Master flags',
    columns: [
      { title: 'Flag', cell: ([k]) => k },
      { title: 'Value', cell: ([, v]) => String(v) },
    ],
    // Flags do not change while the master runs: read once.
    load: async () => {
      if (loaded) return null;
      const flags = await api('master/flags');
      loaded = true;
      return Object.entries(flags.flags || {}).sort();
    },
    fields: ([k, v]) => [k, v],
    searchLabel: 'Filter flags',
    tableOpts: { pageSize: 200 },
  });
}

// ---------------------------------------------------------------------------------------

startApp({
  interval: REFRESH_MS,
  nav: document.getElementById('nav'),
  onRefreshError: e => e.status === 0 ? `Cannot reach the master (${e.message}).` : `The master answered ${e.message}.`,
  routes: [
    [/^\/$/, overviewPage],
    [/^\/agents$/, agentsPage],
    [/^\/agents\/([^/]+)$/, agentPage],
    [/^\/frameworks$/, frameworksPage],
    [/^\/frameworks\/([^/]+)$/, frameworkPage],
    [/^\/tasks$/, tasksPage],
    [/^\/tasks\/([^/]+)\/([^/]+)$/, taskPage],
    [/^\/sandbox\/([^/]+)$/, sandboxPage],
    [/^\/log\/([^/]+)$/, logPage],
    [/^\/roles$/, rolesPage],
    [/^\/flags$/, flagsPage],
  ],
});

// Flags do not change while the master runs: one read says whether it is open.
exposureBanner('master/flags');

// Samples for the charts and the leader check go on whatever page is open.
setInterval(() => { if (location.hash.replace(/^#/, '') !== '/' && location.hash !== '') sample().catch(() => {}); }, REFRESH_MS);
