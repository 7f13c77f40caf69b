#!/usr/bin/env node
// server_baseline.mjs - the baseline of bench/compare-server: the few lines a Node user writes to serve an ONNX model
// with onnxruntime-node over the same KServe v2 JSON protocol (POST /v2/models/<name>/infer, GET /v2/health/ready,
// GET /v2/models/<name>). Node's http server, JSON.parse of the request, one InferenceSession, JSON.stringify of the
// outputs; nothing tuned beyond the thread count.
//
// usage: node bench/server_baseline.mjs MODEL.onnx [--name NAME] [--port P] [--host H] [--threads N] [--workers W]
//   --threads N   onnxruntime's intra-op threads in total (default 2); with --workers W each of W processes
//                 (node:cluster, sharing the port) gets max(1, N / W)
//   Prints `listening on http://HOST:PORT` once it accepts requests.
import cluster from 'node:cluster';
import http from 'node:http';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { intOpt, parseArgs } from './lib.mjs';

const USAGE = 'usage: server_baseline.mjs MODEL.onnx [--name NAME] [--port P] [--host H] [--threads N] [--workers W]\n';
const MAX_BODY = 64 << 20;

let a;
try {
  a = parseArgs(process.argv.slice(2));
  if (a.pos.length !== 1) throw new Error('one MODEL.onnx is needed');
  for (const k of Object.keys(a.opts))
    if (!['name', 'port', 'host', 'threads', 'workers'].includes(k)) throw new Error(`unknown option '--${k}'`);
} catch (e) {
  process.stderr.write(`server_baseline: ${e.message}\n${USAGE}`);
  process.exit(2);
}
const file = a.pos[0];
const name = a.opts.name || path.basename(path.dirname(path.resolve(file)));
const host = a.opts.host || '127.0.0.1';
const port = intOpt(a.opts, 'port', 8001, 0, 65535);
const threads = intOpt(a.opts, 'threads', 2, 1, 256);
const workers = intOpt(a.opts, 'workers', 1, 1, 64);

if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  let up = 0;
  cluster.on('message', (w, m) => { if (m === 'listening' && ++up === workers) console.log(`listening on http://${host}:${port} (${workers} workers)`); });
  cluster.on('exit', (w, code) => { console.error(`server_baseline: worker exited (${code})`); process.exit(1); });
} else {
  const session = await ort.InferenceSession.create(file, {
    intraOpNumThreads: Math.max(1, Math.floor(threads / workers)), interOpNumThreads: 1,
    executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const TYPES = { FP32: 'float32', INT64: 'int64', INT32: 'int32' };
  const metadata = {
    name, platform: 'onnxruntime_onnx',
    inputs: session.inputMetadata.map((m) => ({ name: m.name, datatype: 'FP32', shape: m.shape.map((d) => (typeof d === 'number' ? d : -1)) })),
    outputs: session.outputMetadata.map((m) => ({ name: m.name, datatype: 'FP32', shape: m.shape.map((d) => (typeof d === 'number' ? d : -1)) })),
  };

  const send = (res, status, obj) => {
    const body = JSON.stringify(obj);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };

  async function infer(req, res) {
    const chunks = [];
    let size = 0;
    for await (const c of req) {
      size += c.length;
      if (size > MAX_BODY) return send(res, 413, { error: 'request body too large' });
      chunks.push(c);
    }
    let r;
    try {
      r = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (!r || !Array.isArray(r.inputs)) throw new Error('"inputs" must be an array');
    } catch (e) {
      return send(res, 400, { error: `malformed request: ${e.message}` });
    }
    let out;
    try {
      const feeds = {};
      for (const t of r.inputs) {
        if (!TYPES[t.datatype]) throw new Error(`input '${t.name}': datatype ${t.datatype} is not supported`);
        const data = Array.isArray(t.data) ? t.data.flat(Infinity) : [];
        feeds[t.name] = t.datatype === 'INT64' ? new ort.Tensor('int64', BigInt64Array.from(data, BigInt), t.shape)
          : new ort.Tensor(TYPES[t.datatype], data, t.shape);
      }
      out = await session.run(feeds);
    } catch (e) {
      return send(res, 400, { error: e.message });
    }
    const names = Array.isArray(r.outputs) && r.outputs.length ? r.outputs.map((o) => o.name) : session.outputNames;
    send(res, 200, {
      model_name: name, ...(r.id !== undefined ? { id: r.id } : {}),
      outputs: names.filter((n) => out[n]).map((n) => ({ name: n, datatype: 'FP32', shape: out[n].dims, data: Array.from(out[n].data) })),
    });
  }

  const server = http.createServer((req, res) => {
    const url = req.url.split('?')[0];
    if (req.method === 'POST' && url === `/v2/models/${name}/infer`) {
      infer(req, res).catch((e) => send(res, 500, { error: String(e) }));
    } else if (req.method === 'GET' && (url === '/v2/health/ready' || url === '/v2/health/live')) {
      send(res, 200, url.endsWith('ready') ? { ready: true } : { live: true });
    } else if (req.method === 'GET' && url === `/v2/models/${name}`) {
      send(res, 200, metadata);
    } else {
      send(res, 404, { error: `no route ${req.method} ${url}` });
    }
  });
  server.listen(port, host, () => {
    if (cluster.isWorker) process.send('listening');
    else console.log(`listening on http://${host}:${server.address().port}`);
  });
  for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
}
