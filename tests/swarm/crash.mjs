// crash.mjs - the swarm coordinator survives SIGKILL: a job of CIFAR images runs on two native workers
// (`tandem worker`), the coordinator (`tandem serve`) is killed with SIGKILL twice in the middle of it (at about a
// quarter and a half) and restarted on the same port and store each time. The job must resume where it stood (no
// acknowledged progress lost), complete, and hold every item exactly once, each chunk accepted once, every top-1 equal
// to the native engine's (`tandem run`) on the same image. Uses ../shared's model and images when present, else a zoo
// model and seeded random images.
//   node tests/swarm/crash.mjs --tandem build/tandem [--db URL] [--items N] [--shared ../shared]
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checker, options, runTest, freePort, jobInputs, startServe, startWorker, stop, api, waitJob, parseCsv,
  exactlyOnce, nativeOutputs, sleep } from './lib.mjs';

const args = options({ tandem: 'build/tandem', db: '', items: 2000, shared: process.env.TDM_SHARED || '../shared' },
  'crash');
const C = checker();
const TOKEN = 'crash-test';
const tmp = mkdtempSync(path.join(tmpdir(), 'tandem-swarm-crash-'));
let server = null;
const workers = [];

async function main() {
  const n = args.items;
  const inp = jobInputs(args.tandem, tmp, args.shared, n, 12345);
  const db = args.db || `sqlite:${path.join(tmp, 'jobs.db')}`;
  console.log(`store ${db.replace(/\/\/.*@/, '//…@')}; ${inp.what}`);
  const port = await freePort();
  const serveArgs = ['--models', inp.models, '--port', String(port), '--db', db, '--admin-token', TOKEN,
    '--lease-timeout', '3'];
  server = await startServe(args.tandem, serveArgs);
  const base = server.url;
  let r = await api(base, 'POST', '/v2/jobs?model=cifar10_resnet20&format=cifar&verify=0.05', { token: TOKEN,
    body: inp.records });
  C.check('the job is created', r.status === 201 && r.json.items === n, r.text);
  const id = r.json.id, chunks = r.json.chunks;
  for (let k = 0; k < 2; k++) {
    const log = path.join(tmp, `worker${k}.log`);
    workers.push({ log, ...startWorker(args.tandem, base, ['--patience', '120', '--log', log]) });
  }

  /* a quarter and a half: the job's status, polled every 50 ms, has answered up to 1,700 items late (the server busy
   * with two fast workers), and a kill must land before the job is done */
  for (const frac of [1 / 4, 1 / 2]) {
    let last = null;
    await waitJob(base, TOKEN, id, { timeoutMs: 600000, everyMs: 50,
      onPoll: (j) => { last = j; if (j.done_items >= frac * n) throw Object.assign(new Error('kill'), { kill: true }); } })
      .catch((e) => { if (!e.kill) throw e; });
    const acknowledged = last.done_items;
    await stop(server.child, 'SIGKILL');
    C.check(`SIGKILL at ${acknowledged} of ${n} items done`, acknowledged >= frac * n && acknowledged < n,
      `${acknowledged} done`);
    await sleep(500);
    server = await startServe(args.tandem, serveArgs);
    const j = (await api(base, 'GET', `/v2/jobs/${id}`, { token: TOKEN })).json;
    C.check('after the restart the job stands where it stood: no acknowledged item lost',
      j && j.done_items >= acknowledged && j.items === n, `${j?.done_items} done after, ${acknowledged} before`);
  }
  const job = await waitJob(base, TOKEN, id, { timeoutMs: 600000 });
  C.check('the job completes after two crashes', job.state === 'done' && job.done_items === n &&
    job.done_chunks === chunks, JSON.stringify(job));
  const ws = await Promise.all(workers.map((w) => w.done));
  C.check('both workers rode out the crashes and ended with no job left', ws.every((w) => w.code === 0),
    ws.map((w) => `${w.code} ${w.stderr.trim().split('\n').pop() || ''}`).join('; '));

  const csv = await api(base, 'GET', `/v2/jobs/${id}/results`, { token: TOKEN });
  const rows = parseCsv(csv.text);
  const once = exactlyOnce(rows, n);
  C.check('the results hold every item exactly once, in order', !once, once || `${rows.length} rows`);
  const accepted = new Map(), seen = new Set();
  let computed = 0;
  for (const w of workers) {
    for (const line of readFileSync(w.log, 'utf8').trim().split('\n')) {
      const [jid, idx, , items, outcome] = line.split(' ');
      if (jid !== id) continue;
      computed += Number(items);
      seen.add(idx);
      if (outcome === 'accepted') accepted.set(idx, (accepted.get(idx) || 0) + 1);
    }
  }
  const doubled = [...accepted.values()].filter((c) => c > 1).length;
  C.check('no chunk was accepted twice, and every chunk was computed by a worker', doubled === 0 && seen.size === chunks,
    `${accepted.size} of ${chunks} chunks accepted (the rest answered as repeats of a submission the crash cut off), ` +
    `${doubled} twice; ${computed} items computed for ${n}`);
  const ref = nativeOutputs(args.tandem, inp.file, inp.records, n, inp.stats.mean, inp.stats.std).top1;
  const diff = rows.filter((row) => row.top1 !== ref[row.item]).length;
  C.check('every top-1 equals the native engine\'s on the same image', diff === 0, `${diff} differ`);
}

await runTest(C, main, async () => {
  for (const w of workers) await stop(w.child, 'SIGKILL');
  if (server) await stop(server.child, 'SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});
