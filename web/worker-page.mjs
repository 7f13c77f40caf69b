// worker-page.mjs - the DOM side of worker.html: starts a SwarmWorker (swarm-worker.mjs) against the server that
// served the page, shows its state, counts and activity, and wires the Stop button. window.tandemSwarm exposes the
// worker and its last event to headless drivers (tests/swarm/e2e.mjs, bench/compare-swarm); body[data-state] is
// 'running', 'finished', 'stopped', 'refused' or 'error'.
import { SwarmWorker } from './swarm-worker.mjs';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const threads = Math.max(1, Number(params.get('threads')) || 1);
const inWorker = params.get('engine') !== 'main'; /* ?engine=main: on the page's thread (see swarm-worker.mjs) */
const LOG_MAX = 200;

function log(text) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $('log').prepend(li);
  while ($('log').children.length > LOG_MAX) $('log').lastChild.remove();
}

function facts(e) {
  const s = e.stats, secs = s.startMs ? (performance.now() - s.startMs) / 1000 : 0;
  const rows = [
    ['worker', e.worker ?? '…'],
    ['engine threads', `${threads}${inWorker ? ' (in a Web Worker)' : ' (on the page\'s thread)'}`],
    ['items computed', String(s.items)],
    ['leases', String(s.leases)],
    ['chunks accepted / late', `${s.accepted} / ${s.late}`],
    ['items per second (wall)', secs > 0 ? (s.items / secs).toFixed(1) : '–'],
    ['items per second (computing)', s.computeMs > 0 ? (s.items / (s.computeMs / 1000)).toFixed(1) : '–'],
  ];
  $('facts').replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement('dt'), dd = document.createElement('dd');
    dt.textContent = k;
    dd.textContent = v;
    return [dt, dd];
  }));
}

const STATUS = {
  finished: 'No job is left: this device is done. Thank you.',
  stopped: 'Stopped.',
  refused: 'The server refused this device: one of its results failed the server\'s check.',
};

function onEvent(e) {
  window.tandemSwarm.last = e;
  facts(e);
  switch (e.type) {
  case 'joined': log(`joined as ${e.worker}`); $('status').textContent = `Joined as ${e.worker}; asking for work…`; break;
  case 'loading': $('status').textContent = `Loading model ${e.model}…`; break;
  case 'loaded': log(`loaded ${e.model} (${e.build})`); break;
  case 'lease':
    $('status').textContent = `Computing ${e.items} items (${e.chunks} chunks) of job ${e.job} with ${e.model}…`;
    break;
  case 'submitted':
    log(`lease ${e.lease}: ${e.items} items in ${e.computeMs.toFixed(0)} ms, ${e.accepted} ` +
        `chunk${e.accepted === 1 ? '' : 's'} accepted` +
        `${e.late ? `, ${e.late} already done by another device` : ''}${e.jobDone ? '; the job is done' : ''}`);
    break;
  case 'idle': case 'waiting': $('status').textContent = e.message; break;
  case 'log': log(e.message); break;
  case 'end':
    document.body.dataset.state = e.state;
    $('status').textContent = e.state === 'error' ? `Error: ${e.error}` : STATUS[e.state];
    log($('status').textContent);
    $('btn-stop').disabled = true;
    break;
  default: break;
  }
}

const worker = new SwarmWorker({ server: '', threads, worker: inWorker, onEvent });
window.tandemSwarm = { worker, last: null, threads };

async function start() {
  $('btn-start').hidden = true;
  document.body.dataset.state = 'running';
  await worker.run();
}

$('btn-stop').addEventListener('click', () => {
  $('btn-stop').disabled = true;
  $('status').textContent = 'Stopping after this chunk…';
  worker.stop();
});
if (params.get('start') === '0') {
  $('btn-start').hidden = false;
  $('btn-start').addEventListener('click', start);
  document.body.dataset.state = 'idle';
  $('status').textContent = 'Press Start to contribute this device.';
} else {
  start();
}
