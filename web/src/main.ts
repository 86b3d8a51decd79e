/**
 * The LineSight dashboard: wires the panels to the live event stream. On every (re)connect the page
 * loads a snapshot of the line (summary, recent parts, alerts, accuracy, control chart, machine
 * history); from then on events keep it current. Only the metrics behind the models table are
 * scraped periodically, because Prometheus metrics have no push channel.
 */
import { AccuracyPanel } from './accuracy.ts';
import { AlertsPanel } from './alerts.ts';
import { ApiError, getJson, initToken, listOf, storeToken } from './api.ts';
import { byId, clock, h, replaceChildren } from './dom.ts';
import { LabellingPanel } from './labelling.ts';
import { MachinesPanel } from './machines.ts';
import { ModelsPanel } from './models.ts';
import { OverviewPanel } from './overview.ts';
import { PChartPanel } from './pchart.ts';
import { connectEvents } from './sse.ts';
import type { StreamState } from './sse.ts';
import { StripPanel } from './strip.ts';
import type { Alert, LineEvent, LineSummary, Part } from './types.ts';

const OPERATOR_KEY = 'linesight.operator';

const token = initToken();
/**
 * `?view=wall`: the unattended wall screen — line, control chart, machines, alerts and accuracy on
 * one 1920x1080 screen without scrolling; no labelling there (nobody at the keyboard).
 */
const wall = new URL(window.location.href).searchParams.get('view') === 'wall';
if (wall) document.body.classList.add('wall');
const statusEl = byId('conn');
const messagesEl = byId('messages');
const operatorEl = byId<HTMLInputElement>('operator');

operatorEl.value = window.localStorage.getItem(OPERATOR_KEY) ?? '';
if (token) {
  // with a token the server records the token's name as who acted; the name field would mislead
  const out = h('button', { type: 'button', class: 'btn btn-small', id: 'signout', title: 'forget the token in this tab' }, 'Sign out');
  out.addEventListener('click', () => {
    storeToken('');
    window.location.reload();
  });
  operatorEl.closest('label')?.replaceWith(h('span', { class: 'operator' }, 'signed in with a token '), out);
}
operatorEl.addEventListener('change', () => window.localStorage.setItem(OPERATOR_KEY, operatorEl.value.trim()));
const who = (): string | undefined => (token ? undefined : operatorEl.value.trim() || undefined);

/** Show a message at the top of the page; the same text replaces its earlier copy. */
function notify(text: string, kind: 'error' | 'info' = 'error'): void {
  for (const el of messagesEl.querySelectorAll<HTMLElement>('.msg')) if (el.dataset.text === text) el.remove();
  const close = h('button', { type: 'button', class: 'msg-close', 'aria-label': 'dismiss' }, '×');
  const msg = h('div', { class: `msg msg-${kind}`, role: kind === 'error' ? 'alert' : 'status', 'data-text': text }, h('span', {}, text), close);
  close.addEventListener('click', () => msg.remove());
  messagesEl.append(msg);
  if (kind === 'info') setTimeout(() => msg.remove(), 6000);
}

/** The sign-in form shown when the API answers 401: paste a token, kept for this tab only. */
function showSignIn(): void {
  if (document.getElementById('signin')) return;
  const input = h('input', { id: 'signin-token', type: 'password', placeholder: 'lst_…', autocomplete: 'off', 'aria-label': 'API token' });
  const form = h(
    'form',
    { id: 'signin', class: 'msg msg-error signin' },
    h('span', {}, token ? 'This token is not accepted (expired or revoked). ' : 'Sign-in needed. ', 'Paste an API token (viewer to look, inspector to label) or open the page with ?token=…'),
    input,
    h('button', { type: 'submit', class: 'btn' }, 'Use token'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    storeToken(input.value.trim());
    window.location.reload();
  });
  messagesEl.prepend(form);
  input.focus();
}

function explain(what: string, e: unknown): void {
  if (e instanceof ApiError && e.status === 401) {
    showSignIn();
  } else if (e instanceof ApiError && e.status === 404 && what === 'the line summary') {
    notify('This server runs no line monitor (it serves models only): start the line with `npm start`. The models panel still works.', 'error');
  } else if (e instanceof ApiError && e.status === 403) {
    notify(`Your token may not read ${what}.`);
  } else {
    notify(`${what}: ${(e as Error).message}`);
  }
}

const overview = new OverviewPanel(byId('stations'), byId('totals'));
const labelling = new LabellingPanel(byId('qa-queue'), byId('qa-detail'), byId<HTMLInputElement>('qa-only-defects'), who, (m) => notify(m));
const strip = new StripPanel(
  byId('strip'),
  12,
  wall
    ? undefined
    : (id) => {
        void labelling.select(id);
        byId('qa').scrollIntoView({ behavior: 'smooth', block: 'nearest' });
      },
);
const pchart = new PChartPanel(byId('pchart'), byId('pchart-rules'), byId<HTMLSelectElement>('pchart-station'), byId<HTMLSelectElement>('pchart-interval'), 40, wall ? 330 : 210);
const machines = new MachinesPanel(byId('machines-chart'), byId('machines-table'), byId('machines-caption'), 10, wall ? 240 : 190);
const alerts = new AlertsPanel(byId('alerts'), who, (n) => overview.setOpenAlerts(n), (m) => notify(m));
const alertsHistory = byId<HTMLInputElement>('alerts-history');
alertsHistory.addEventListener('change', () => alerts.setHistory(alertsHistory.checked));
const accuracy = new AccuracyPanel(byId('accuracy'));
const models = new ModelsPanel(byId('models'));

const LINE_KEY = 'linesight.line';
const lineSelect = byId<HTMLSelectElement>('line-select');
/** The line chosen in the top bar ('' = every line the token may see). */
let lineChoice = window.localStorage.getItem(LINE_KEY) ?? '';
/** The line the page is restricted to: the only visible line, or the chosen one. */
let activeLine: string | undefined;
let snapshotSeq = 0;
/** Page time of the last inspection event (the page's own clock: server clocks may differ). */
let lastPartAt = Date.now();

lineSelect.addEventListener('change', () => {
  lineChoice = lineSelect.value;
  window.localStorage.setItem(LINE_KEY, lineChoice);
  void loadSnapshot();
});

/** Offer a line selector only when the token sees more than one line. */
function setLines(ids: readonly string[]): void {
  activeLine = ids.length === 1 ? ids[0] : ids.includes(lineChoice) ? lineChoice : undefined;
  lineSelect.hidden = ids.length <= 1;
  lineSelect.replaceChildren(h('option', { value: '' }, 'All lines'), ...ids.map((id) => h('option', { value: id }, id)));
  lineSelect.value = activeLine && ids.length > 1 ? activeLine : '';
}

/** Whether something on `line` belongs on the page (everything, unless one line is selected). */
function onActiveLine(line: string | undefined): boolean {
  return activeLine === undefined || line === undefined || line === activeLine;
}

/** Load the whole state once (first connect and after every reconnect). */
async function loadSnapshot(): Promise<void> {
  const seq = ++snapshotSeq;
  const summary = await getJson<LineSummary>('/v1/line/summary').catch((e: unknown) => (explain('the line summary', e), undefined));
  const lines = summary?.lines ?? [];
  setLines(lines.map((l) => l.id));
  // a line-scoped token must name its line: with one visible (or one chosen) line, queries name it
  const lineQuery = activeLine ? `&line=${encodeURIComponent(activeLine)}` : '';
  pchart.setLine(activeLine);
  const [parts, openAlerts] = await Promise.all([
    getJson<unknown>(`/v1/parts/recent?limit=40${lineQuery}`)
      .then((b) => listOf<Part>(b, 'parts'))
      .catch((e: unknown) => {
        // a token for some of several lines cannot ask for "all lines": choose its first line instead
        if (e instanceof ApiError && e.status === 403 && !activeLine && lines.length > 1) return 'retry' as const;
        explain('recent parts', e);
        return undefined;
      }),
    getJson<unknown>(alertsHistory.checked ? '/v1/alerts?state=all&limit=50' : '/v1/alerts?state=open')
      .then((b) => listOf<Alert>(b, 'alerts'))
      .catch((e: unknown) => (explain('alerts', e), undefined)),
  ]);
  if (seq !== snapshotSeq) return;
  if (parts === 'retry') {
    lineChoice = lines[0]?.id ?? '';
    void loadSnapshot();
    return;
  }
  if (summary) {
    const stations = summary.stations.filter((s) => onActiveLine(s.line));
    overview.setSnapshot(stations, summary.open_alerts);
    pchart.setStations([...new Set(stations.map((s) => s.station))].sort());
    const shownLines = lines.filter((l) => onActiveLine(l.id));
    void machines.setSnapshot(summary.machines.filter((m) => onActiveLine(m.line)), shownLines.flatMap((l) => l.machines.map((m) => m.id)));
  }
  if (parts) {
    strip.setSnapshot(parts);
    labelling.setSnapshot(parts);
  }
  alerts.setFilter((a) => onActiveLine(a.line));
  if (openAlerts) alerts.setSnapshot(openAlerts.filter((a) => onActiveLine(a.line)));
  void pchart.refresh();
  void accuracy.refresh();
  void models.refreshStates();
  document.body.dataset.snapshot = String(seq);
}

function onEvent(e: LineEvent): void {
  switch (e.type) {
    case 'inspection':
      if (!onActiveLine(e.line)) break;
      lastPartAt = Date.now();
      overview.onInspection(e);
      strip.onInspection(e);
      labelling.onInspection(e);
      pchart.onInspection();
      break;
    case 'machine':
      if (onActiveLine(e.line)) machines.onMachine(e);
      break;
    case 'alert':
      if (onActiveLine(e.line)) alerts.onAlert(e);
      break;
    case 'feedback':
      accuracy.onFeedback();
      break;
    case 'stats':
      overview.onStats({ ...e, stations: e.stations.filter((s) => onActiveLine(s.line)) });
      accuracy.onStats(e);
      break;
  }
  document.body.dataset.lastEvent = String(e.ts);
}

const STATE_TEXT: Record<StreamState, string> = { connecting: 'connecting…', live: '● live', reconnecting: '○ reconnecting' };

let probing = false;

/** The stream failed: ask the API why (an EventSource never shows the status), e.g. 401 -> sign in. */
function probe(): void {
  if (probing) return;
  probing = true;
  getJson<unknown>('/v1/line/summary')
    .catch((e: unknown) => {
      if (e instanceof ApiError && e.status === 401) {
        // retrying without a valid token only fills the server's security log: wait for sign-in
        // (which reloads the page)
        stream.close();
        statusEl.dataset.state = 'signed-out';
        replaceChildren(statusEl, '○ sign-in needed');
      }
      if (e instanceof ApiError && (e.status === 401 || e.status === 403 || e.status === 404)) explain('the line summary', e);
    })
    .finally(() => (probing = false));
}

function onState(s: StreamState, attempt: number): void {
  if (s === 'reconnecting' && attempt <= 1) probe();
  statusEl.dataset.state = s;
  replaceChildren(statusEl, s === 'reconnecting' && attempt > 0 ? `${STATE_TEXT[s]} (try ${attempt})` : STATE_TEXT[s]);
}

const stream = connectEvents({
  url: '/v1/events',
  token,
  onEvent,
  onOpen: (reconnect) => {
    if (reconnect) notify('Reconnected to the line; state reloaded.', 'info');
    void loadSnapshot();
  },
  onState,
});
models.start();
if (!wall) window.addEventListener('keydown', (ev) => labelling.onKey(ev));

const clockEl = byId('clock');
const idleEl = byId('idle');

/** "no parts for 2 min": a wall screen must show when the line stands still, not just look calm. */
function tick(): void {
  const now = Date.now();
  replaceChildren(clockEl, clock(now));
  const idleS = Math.floor((now - lastPartAt) / 1000);
  const idle = statusEl.dataset.state === 'live' && idleS >= 30 && document.querySelector('#stations .station') !== null;
  idleEl.hidden = !idle;
  if (idle) replaceChildren(idleEl, `no parts for ${idleS < 120 ? `${idleS} s` : `${Math.floor(idleS / 60)} min`}`);
}
setInterval(tick, 1000);
tick();
