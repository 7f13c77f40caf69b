// scaleout.mjs - the swarm scaled out: two `tandem serve` processes share one PostgreSQL database (started by
// tests/swarm/run.sh) behind Debian's nginx, started here on a loopback port as a round-robin load balancer. The job
// is created and three native workers (`tandem worker`) run it through nginx only. With speculation off and long
// lease deadlines, every chunk must be handed out once: the workers' logs name each chunk exactly once (no item
// processed twice, none skipped), both servers handed out leases (their own /metrics), and the results hold every
// item once with the native engine's top-1.
//   node tests/swarm/scaleout.mjs --tandem build/tandem --db postgresql://... [--nginx /usr/sbin/nginx] [--items N]
import { mkdtempSync, mkdirSync, rmSync, readFileSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { checker, options, runTest, freePort, jobInputs, startServe, startWorker, stop, api, waitJob, parseCsv,
  exactlyOnce, nativeOutputs, sleep } from './lib.mjs';

const args = options({ tandem: 'build/tandem', db: '', nginx: '/usr/sbin/nginx', items: 2400,
  shared: process.env.TDM_SHARED || '../shared' }, 'scaleout');
const C = checker();
const TOKEN = 'scaleout-test';
const tmp = mkdtempSync(path.join(tmpdir(), 'tandem-swarm-scale-'));
chmodSync(tmp, 0o755);
const servers = [], workers = [];
let nginx = null;

/* nginx in the foreground on 127.0.0.1:port, round-robin over the servers; its files all in tmp. */
async function startNginx(port, upstreams) {
  const d = path.join(tmp, 'nginx');
  mkdirSync(d, { recursive: true, mode: 0o777 });
  chmodSync(d, 0o777); /* nginx's workers run as nobody when it starts as root: they write the temp folders */
  const conf = `# written by tests/swarm/scaleout.mjs
worker_processes 1;
daemon off;
pid ${d}/nginx.pid;
error_log ${d}/error.log warn;
events { worker_connections 512; }
http {
  access_log ${d}/access.log;
  client_body_temp_path ${d}/body;
  proxy_temp_path ${d}/proxy;
  fastcgi_temp_path ${d}/fastcgi;
  uwsgi_temp_path ${d}/uwsgi;
  scgi_temp_path ${d}/scgi;
  upstream tandem {
${upstreams.map((u) => `    server 127.0.0.1:${u};`).join('\n')}
  }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 64m;
    location / {
      proxy_pass http://tandem;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_read_timeout 120s;
    }
  }
}
`;
  writeFileSync(path.join(d, 'nginx.conf'), conf);
  const child = spawn(args.nginx, ['-c', path.join(d, 'nginx.conf'), '-p', d, '-e', path.join(d, 'error.log')],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (x) => { log += x; });
  child.stderr.on('data', (x) => { log += x; });
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/v2/health/ready`);
      if (r.status === 200) return child;
    } catch { /* not yet */ }
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  child.kill('SIGKILL');
  const elog = existsSync(path.join(d, 'error.log')) ? readFileSync(path.join(d, 'error.log'), 'utf8') : '';
  throw new Error(`nginx did not come up: ${log}${elog}`);
}

async function leasesOf(srv) {
  const m = await (await fetch(`${srv.url}/metrics`)).text();
  const x = /^tandem_swarm_leases_total (\d+)/m.exec(m);
  return x ? Number(x[1]) : -1;
}

async function main() {
  if (!args.db) throw new Error('--db postgresql://... is required (tests/swarm/run.sh starts one)');
  if (!existsSync(args.nginx)) throw new Error(`${args.nginx} is missing (scripts/install-deps.sh installs nginx)`);
  const n = args.items;
  const inp = jobInputs(args.tandem, tmp, args.shared, n, 777);
  for (let k = 0; k < 2; k++)
    servers.push(await startServe(args.tandem, ['--models', inp.models, '--port', '0', '--host', '127.0.0.1',
      '--db', args.db, '--admin-token', TOKEN, '--lease-timeout', '120']));
  const port = await freePort();
  nginx = await startNginx(port, servers.map((s) => s.port));
  const lb = `http://127.0.0.1:${port}`;
  console.log(`nginx ${lb} -> tandem serve on ${servers.map((s) => s.port).join(' and ')}, one PostgreSQL`);
  let r = await api(lb, 'POST', '/v2/jobs?model=cifar10_resnet20&format=cifar&speculate=0&verify=0.05',
    { token: TOKEN, body: inp.records });
  C.check('the job is created through nginx', r.status === 201 && r.json.items === n, r.text);
  const id = r.json.id, chunks = r.json.chunks;
  for (let k = 0; k < 3; k++) {
    const log = path.join(tmp, `worker${k}.log`);
    workers.push({ log, ...startWorker(args.tandem, lb, ['--log', log]) });
  }
  const ws = await Promise.all(workers.map((w) => w.done));
  C.check('the three workers (through nginx only) end with no job left', ws.every((w) => w.code === 0),
    ws.map((w) => `${w.code} ${w.stderr.trim().split('\n').pop() || ''}`).join('; '));
  const job = await waitJob(lb, TOKEN, id, { timeoutMs: 120000 });
  C.check('the job is done', job.state === 'done' && job.done_items === n && job.reissued === 0,
    JSON.stringify(job));
  const per = new Map();
  let lines = 0, items = 0;
  for (const w of workers)
    for (const line of readFileSync(w.log, 'utf8').trim().split('\n')) {
      const [jid, idx, , cnt, outcome] = line.split(' ');
      if (jid !== id) continue;
      lines++;
      items += Number(cnt);
      per.set(idx, [...(per.get(idx) || []), outcome]);
    }
  const twice = [...per.values()].filter((o) => o.length > 1).length;
  C.check('no item was processed twice: each chunk was computed by exactly one worker, once',
    twice === 0 && per.size === chunks && lines === chunks && items === n,
    `${per.size} of ${chunks} chunks, ${lines} computations, ${items} items for ${n}, ${twice} chunks twice`);
  C.check('every computed chunk was accepted', [...per.values()].every((o) => o[0] === 'accepted'));
  const l0 = await leasesOf(servers[0]), l1 = await leasesOf(servers[1]);
  C.check('both servers handed out leases', l0 > 0 && l1 > 0, `${l0} and ${l1} leases`);
  const csv = await api(lb, 'GET', `/v2/jobs/${id}/results`, { token: TOKEN });
  const rows = parseCsv(csv.text);
  const once = exactlyOnce(rows, n);
  C.check('the results hold every item exactly once', !once, once || `${rows.length} rows`);
  const ref = nativeOutputs(args.tandem, inp.file, inp.records, n, inp.stats.mean, inp.stats.std).top1;
  const diff = rows.filter((row) => row.top1 !== ref[row.item]).length;
  C.check('every top-1 equals the native engine\'s', diff === 0, `${diff} differ`);
}

await runTest(C, main, async () => {
  for (const w of workers) await stop(w.child, 'SIGKILL');
  if (nginx) await stop(nginx, 'SIGQUIT');
  for (const s of servers) await stop(s.child, 'SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});
