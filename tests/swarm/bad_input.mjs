// bad_input.mjs - the swarm's endpoints against bad input: job bodies that are malformed, truncated, of the wrong
// type or shape, oversized (with and without Content-Length), unknown models, bad parameters, missing and wrong
// admin tokens, a server without a token, worker requests without or with an unknown client, malformed and
// mis-sized submissions, submissions for chunks the client does not hold, and a client over its rate. Each must get
// its clear 4xx ({"error": ...}) and leave nothing in the store: afterwards the store holds exactly the one valid job,
// untouched, and the server still works. Needs no ../shared: the model comes from `tandem zoo`.
//   node tests/swarm/bad_input.mjs --tandem build/tandem
import http from 'node:http';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { checker, options, runTest, startServe, stop, api, tensorProto, RECORD } from './lib.mjs';

const args = options({ tandem: 'build/tandem' }, 'bad_input');
const C = checker();
const TOKEN = 'swarm-test-token';
const tmp = mkdtempSync(path.join(tmpdir(), 'tandem-swarm-bad-'));
const servers = [];

// A body sent as chunks without Content-Length (the server sees its size only as it arrives).
function chunkedPost(port, pathQuery, token, size) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: pathQuery,
      headers: { Authorization: `Bearer ${token}`, 'Transfer-Encoding': 'chunked' } }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, text: body }));
    });
    req.on('error', (e) => resolve({ status: 0, text: String(e) }));
    const piece = Buffer.alloc(65536, 7);
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        sent += piece.length;
        if (!req.write(piece)) { req.once('drain', pump); return; }
      }
      req.end();
    };
    pump();
  });
}

/* POST `size` bytes with their Content-Length, as a well-behaved client sends a large upload: `Expect: 100-continue`,
 * the body only once the server says so. A server that refuses the length answers before any of the body is sent;
 * without the Expect, the server's early answer and close race the upload, and the client may see a reset instead of
 * the 413 (it did, under the sanitizers). */
function lengthPost(port, pathQuery, token, size) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: pathQuery,
      headers: { Authorization: `Bearer ${token}`, 'Content-Length': size, Expect: '100-continue' } }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(body); } catch { /* not JSON: expect() says so */ }
        resolve({ status: res.statusCode, text: body, json });
      });
    });
    req.on('error', (e) => resolve({ status: 0, text: String(e) }));
    req.on('continue', () => req.end(Buffer.alloc(size)));
  });
}

const isError = (r) => r.json && typeof r.json.error === 'string' && r.json.error.length > 0;
function expect(name, r, status) {
  C.check(`${name}: ${status}`, r.status === status && (status === 204 || isError(r)),
    r.status === status ? (isError(r) ? r.json.error.slice(0, 120) : `no {"error"} body: ${r.text.slice(0, 80)}`)
      : `got ${r.status}: ${r.text.slice(0, 160)}`);
}

async function main() {
  const models = path.join(tmp, 'models');
  mkdirSync(path.join(models, 'cifar10_resnet20'), { recursive: true });
  const z = spawnSync(args.tandem, ['zoo', 'cifar10_resnet20', '-o', path.join(models, 'cifar10_resnet20', 'model.onnx')],
    { encoding: 'utf8' });
  if (z.status !== 0) throw new Error(`tandem zoo failed: ${z.stderr}`);

  // ---- a server without a token: the job endpoints are off
  const off = await startServe(args.tandem, ['--models', models, '--port', '0', '--db', `sqlite:${tmp}/off.db`,
    '--admin-token', '']);
  servers.push(off);
  expect('no admin token configured: POST /v2/jobs', await api(off.url, 'POST', '/v2/jobs?model=cifar10_resnet20&format=cifar',
    { token: 'x', body: Buffer.alloc(RECORD) }), 403);
  expect('no admin token configured: GET /v2/jobs/ID', await api(off.url, 'GET', '/v2/jobs/0123456789abcdef0123',
    { token: 'x' }), 403);
  await stop(off.child);

  // ---- the server under test
  const s = await startServe(args.tandem, ['--models', models, '--port', '0', '--db', `sqlite:${tmp}/jobs.db`,
    '--admin-token', TOKEN, '--max-body-mb', '1', '--client-rate', '5']);
  servers.push(s);
  const base = s.url, q = '/v2/jobs?model=cifar10_resnet20&format=cifar';
  const good = Buffer.alloc(4 * RECORD, 3);

  console.log('-- tokens');
  let r = await api(base, 'POST', q, { body: good });
  expect('no Authorization header', r, 401);
  C.check('401 says how to authenticate (WWW-Authenticate: Bearer)', /^Bearer/.test(r.headers.get('www-authenticate') || ''));
  expect('wrong token', await api(base, 'POST', q, { token: 'wrong', body: good }), 401);
  expect('token with a different length', await api(base, 'POST', q, { token: TOKEN + 'x', body: good }), 401);
  expect('a token that is a prefix of the right one', await api(base, 'POST', q, { token: TOKEN.slice(0, 5), body: good }), 401);
  const basic = await fetch(base + q, { method: 'POST', headers: { Authorization: `Basic ${TOKEN}` }, body: good });
  C.check('another scheme (Basic) is refused: 401', basic.status === 401, `got ${basic.status}`);
  expect('GET /v2/jobs without a token', await api(base, 'GET', '/v2/jobs'), 401);
  expect('GET /v2/swarm/clients with a wrong token', await api(base, 'GET', '/v2/swarm/clients', { token: 'nope' }), 401);

  console.log('-- job parameters and bodies');
  const post = (qs, body, type) => api(base, 'POST', `/v2/jobs?${qs}`, { token: TOKEN, body, type });
  expect('unknown model', await post('model=no_such_model&format=cifar', good), 404);
  expect('no model parameter', await post('format=cifar', good), 400);
  expect('no format', await post('model=cifar10_resnet20', good), 400);
  expect('unknown format', await post('model=cifar10_resnet20&format=png', good), 400);
  for (const c of ['0', '-1', 'abc', '70000', '1.5', ''])
    expect(`chunk=${c}`, await post(`model=cifar10_resnet20&format=cifar&chunk=${c}`, good), 400);
  for (const v of ['-0.1', '1.5', 'nan', 'abc', ''])
    expect(`verify=${v}`, await post(`model=cifar10_resnet20&format=cifar&verify=${v}`, good), 400);
  expect('speculate=2', await post('model=cifar10_resnet20&format=cifar&speculate=2', good), 400);
  expect('empty body', await post('model=cifar10_resnet20&format=cifar', Buffer.alloc(0)), 400);
  r = await post('model=cifar10_resnet20&format=cifar', good.subarray(0, 2 * RECORD - 5));
  expect('CIFAR body cut inside a record (truncated)', r, 400);
  C.check('the message names the record size', /3073/.test(r.json?.error || ''), r.json?.error);
  expect('one byte short of a record', await post('model=cifar10_resnet20&format=cifar', good.subarray(0, RECORD - 1)), 400);
  const t = tensorProto([2, 3, 32, 32], new Float32Array(2 * 3072));
  expect('tensor: random bytes', await post('model=cifar10_resnet20&format=tensor', Buffer.from('not a tensor proto at all \xff\xff')), 400);
  expect('tensor: truncated TensorProto', await post('model=cifar10_resnet20&format=tensor', t.subarray(0, t.length - 100)), 400);
  expect('tensor: wrong item shape [2,3,16,16]', await post('model=cifar10_resnet20&format=tensor',
    tensorProto([2, 3, 16, 16], new Float32Array(2 * 768))), 400);
  expect('tensor: wrong rank [2,3072]', await post('model=cifar10_resnet20&format=tensor',
    tensorProto([2, 3072], new Float32Array(2 * 3072))), 400);
  expect('tensor: no items [0,3,32,32]', await post('model=cifar10_resnet20&format=tensor', tensorProto([0, 3, 32, 32], new Float32Array(0))), 400);
  const int64 = tensorProto([1, 3, 32, 32], new BigInt64Array(3072), 7);
  expect('tensor: int64 instead of float32', await post('model=cifar10_resnet20&format=tensor', int64), 400);
  expect('oversized body (Content-Length over --max-body-mb 1)', await lengthPost(s.port, q, TOKEN, 342 * RECORD), 413);
  const ch = await chunkedPost(s.port, q, TOKEN, 2 << 20);
  C.check('oversized chunked body (no Content-Length): 413', ch.status === 413, `got ${ch.status}: ${ch.text.slice(0, 100)}`);
  expect('PUT /v2/jobs', await api(base, 'PUT', '/v2/jobs', { token: TOKEN, body: good }), 405);
  expect('GET an unknown job', await api(base, 'GET', '/v2/jobs/0123456789abcdef0123', { token: TOKEN }), 404);
  expect('GET a malformed job id', await api(base, 'GET', '/v2/jobs/..%2f..%2fetc', { token: TOKEN }), 404);
  expect('results of an unknown job', await api(base, 'GET', '/v2/jobs/0123456789abcdef0123/results', { token: TOKEN }), 404);

  let jobs = await api(base, 'GET', '/v2/jobs', { token: TOKEN });
  C.check('after all of these, the store holds no job', jobs.status === 200 && jobs.json.jobs.length === 0,
    `${jobs.json?.jobs?.length} jobs`);

  console.log('-- one valid job, then bad worker requests');
  r = await post('model=cifar10_resnet20&format=cifar&chunk=2&verify=0', good);
  C.check('a valid job: 201 {id, items, chunks}', r.status === 201 && r.json.items === 4 && r.json.chunks === 2, r.text);
  const id = r.json.id;
  expect('results of a job still running', await api(base, 'GET', `/v2/jobs/${id}/results`, { token: TOKEN }), 409);
  expect('results in an unknown format', await api(base, 'GET', `/v2/jobs/${id}/results?format=xml`, { token: TOKEN }), 400);
  const w = (p, body, type = 'application/json') => api(base, 'POST', p, { body, type });
  expect('join with a body that is not JSON', await w('/v2/swarm/join', 'hello'), 400);
  expect('join as an unknown kind', await w('/v2/swarm/join', JSON.stringify({ kind: 'toaster' })), 400);
  expect('lease without a client', await w('/v2/swarm/lease', '{}'), 400);
  expect('lease with a malformed client id', await w('/v2/swarm/lease', JSON.stringify({ client: 'me' })), 400);
  expect('lease for a client that never joined', await w('/v2/swarm/lease',
    JSON.stringify({ client: 'c0123456789abcdef0123456789abcdef' })), 404);
  expect('lease body over its 4 KiB limit', await w('/v2/swarm/lease', JSON.stringify({ client: 'x'.repeat(5000) })), 413);
  expect('GET /v2/swarm/lease', await api(base, 'GET', '/v2/swarm/lease'), 405);
  const a = (await w('/v2/swarm/join', JSON.stringify({ kind: 'native' }))).json.client;
  const b = (await w('/v2/swarm/join', JSON.stringify({ kind: 'browser' }))).json.client;
  const lr = await w('/v2/swarm/lease', JSON.stringify({ client: a }));
  const nl = lr.buf.indexOf(10);
  const head = JSON.parse(lr.buf.subarray(0, nl).toString());
  C.check('client A holds a lease of one chunk', lr.status === 200 && head.chunks.length === 1, lr.text.slice(0, 100));
  const chunk = head.chunks[0], outBytes = chunk.items * 10 * 4;
  const sub = (client, chunks, payload) => api(base, 'POST', '/v2/swarm/submit', { type: 'application/octet-stream',
    body: Buffer.concat([Buffer.from(JSON.stringify({ client, lease: head.lease, chunks }) + '\n'), payload]) });
  const ok = [{ index: chunk.index, items: chunk.items, bytes: outBytes }];
  expect('submission without its JSON line', await api(base, 'POST', '/v2/swarm/submit', { body: Buffer.alloc(100) }), 400);
  expect('submission whose JSON line is not JSON', await api(base, 'POST', '/v2/swarm/submit', { body: 'nope\n' }), 400);
  expect('submission with fewer bytes than it says', await sub(a, ok, Buffer.alloc(outBytes - 4)), 400);
  expect('submission with more bytes than it says', await sub(a, ok, Buffer.alloc(outBytes + 4)), 400);
  expect('submission naming a chunk twice', await sub(a, [...ok, ...ok], Buffer.alloc(2 * outBytes)), 400);
  expect('submission with the wrong size for its chunk', await sub(a, [{ index: chunk.index, items: chunk.items,
    bytes: outBytes - 40 }], Buffer.alloc(outBytes - 40)), 400);
  expect('B submits for a chunk A holds', await sub(b, ok, Buffer.alloc(outBytes)), 409);
  expect('A submits for a chunk nobody leased to it', await sub(a, [{ index: chunk.index + 1, items: 2, bytes: 80 }],
    Buffer.alloc(80)), 409);
  expect('A submits a held and an unheld chunk together (all or nothing)', await sub(a,
    [...ok, { index: chunk.index + 1, items: 2, bytes: 80 }], Buffer.alloc(outBytes + 80)), 409);
  expect('a submission from a client that never joined', await sub('c0123456789abcdef0123456789abcdef', ok,
    Buffer.alloc(outBytes)), 404);
  let job = await api(base, 'GET', `/v2/jobs/${id}`, { token: TOKEN });
  const clients = (await api(base, 'GET', '/v2/swarm/clients', { token: TOKEN })).json.clients;
  C.check('nothing of those submissions was stored', job.json.done_items === 0 && job.json.done_chunks === 0 &&
    clients.every((c) => c.accepted_chunks === 0), job.text);

  console.log('-- the rate limit (5 requests per second, bursts of 20)');
  const statuses = [];
  for (let i = 0; i < 40; i++) {
    const x = await w('/v2/swarm/lease', JSON.stringify({ client: b }));
    statuses.push(x.status);
    if (x.status === 429) {
      C.check('429 says when to retry (Retry-After)', Number(x.headers.get('retry-after')) >= 1);
      break;
    }
  }
  C.check('a client over its rate gets 429', statuses.includes(429), `statuses ${[...new Set(statuses)].join(',')}`);

  console.log('-- the store is intact and the server still works');
  r = await sub(a, ok, Buffer.alloc(outBytes));
  C.check("A's own submission is stored", r.status === 200 && r.json.accepted.length === 1, r.text);
  jobs = await api(base, 'GET', '/v2/jobs', { token: TOKEN });
  job = await api(base, 'GET', `/v2/jobs/${id}`, { token: TOKEN });
  C.check('the store holds exactly the one valid job, with exactly that chunk done',
    jobs.json.jobs.length === 1 && job.json.done_chunks === 1 && job.json.done_items === chunk.items, job.text);
  C.check('the job status has exactly the documented fields', JSON.stringify(Object.keys(job.json)) === JSON.stringify(
    ['id', 'model', 'state', 'items', 'done_items', 'chunks', 'done_chunks', 'clients', 'reissued', 'rejected_results',
      'items_per_s']), Object.keys(job.json).join(','));
  const live = await fetch(`${base}/v2/health/live`);
  C.check('the server is alive', live.status === 200);
  await stop(s.child);
  C.check('it stops cleanly on SIGTERM', s.child.exitCode === 0, `exit ${s.child.exitCode} ${s.child.signalCode ?? ''}`);
}

await runTest(C, main, async () => {
  for (const s of servers) await stop(s.child, 'SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});
