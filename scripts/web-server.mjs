#!/usr/bin/env node
// web-server.mjs - the dependency-free static server for developing and testing the browser side: serves build/web
// with the cross-origin-isolation headers (COOP/COEP/CORP) that the threaded wasm build needs, and the same model
// URLs as `tandem serve` (/api/models, /v2/models/<name>/file, /api/samples; docs/DESIGN.md, "The server", lists
// them). It keeps no results: POST /api/results answers 405, which the page reports as "does not accept results".
//
//   node scripts/web-server.mjs [--root build/web] [--models ../shared/models] [--data DIR] [--port 0] [--host H]
//
// The first line on stdout is the URL it listens on (port 0 picks a free port), so a test can start it and read it.
import { createServer } from 'node:http';
import { readFileSync, statSync, readdirSync, existsSync, createReadStream } from 'node:fs';
import { deflateSync } from 'node:zlib';
import path from 'node:path';

const USAGE = `usage: node scripts/web-server.mjs [--root DIR] [--models DIR] [--data DIR] [--port N] [--host H] [--quiet]
  --root DIR     static files (default build/web)
  --models DIR   model repository DIR/<name>/model.onnx (default ../shared/models; absent = no models)
  --data DIR     folder holding cifar10_test_jpeg75.bin + cifar10_classes.txt for /api/samples
                 (default: the models folder's sibling "data", when present)
  --port N       0 picks a free port (default 8080)      --host H   default 127.0.0.1
  --quiet        no request log on stderr`;

const MIME = {
  '.html': 'text/html; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json; charset=utf-8', '.wasm': 'application/wasm',
  '.map': 'application/json; charset=utf-8', '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg',
  '.svg': 'image/svg+xml', '.ico': 'image/x-icon', '.txt': 'text/plain; charset=utf-8', '.onnx': 'application/octet-stream',
};
const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};
const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

function parseCli(argv) {
  const o = { root: 'build/web', models: '../shared/models', data: null, port: 8080, host: '127.0.0.1', quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--root') o.root = val();
    else if (a === '--models') o.models = val();
    else if (a === '--data') o.data = val();
    else if (a === '--host') o.host = val();
    else if (a === '--quiet') o.quiet = true;
    else if (a === '--port') {
      o.port = Number(val());
      if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new Error(`--port: not a port number`);
    } else if (a === '--help' || a === '-h') { process.stdout.write(USAGE + '\n'); process.exit(0); }
    else throw new Error(`unknown option '${a}'`);
  }
  o.root = path.resolve(o.root);
  o.models = path.resolve(o.models);
  if (o.data === null) {
    const guess = path.join(path.dirname(o.models), 'data');
    o.data = existsSync(path.join(guess, 'cifar10_test_jpeg75.bin')) ? guess : '';
  } else o.data = path.resolve(o.data);
  return o;
}

// ---- the inputs of an ONNX model, read with a minimal protobuf walker (ModelProto.graph.input minus initializers) --

const ONNX_TYPES = { 1: 'FP32', 2: 'UINT8', 3: 'INT8', 4: 'UINT16', 5: 'INT16', 6: 'INT32', 7: 'INT64', 8: 'BYTES',
  9: 'BOOL', 10: 'FP16', 11: 'FP64', 12: 'UINT32', 13: 'UINT64' };

/* Calls fn(field, wire, value, start, end) for each field of the message buf[start, end); value is a Number for
 * varints and [s, e) offsets are passed for length-delimited fields. Throws on a malformed buffer. */
function pbFields(buf, start, end, fn) {
  let p = start;
  const varint = () => {
    let v = 0, mul = 1;
    for (let n = 0; n < 10; n++) {
      if (p >= end) throw new Error('truncated varint');
      const b = buf[p++];
      v += (b & 0x7f) * mul;
      mul *= 128;
      if (!(b & 0x80)) return v;
    }
    throw new Error('varint too long');
  };
  while (p < end) {
    const key = varint(), field = Math.floor(key / 8), wire = key & 7;
    if (wire === 0) fn(field, wire, varint(), 0, 0);
    else if (wire === 1) p += 8;
    else if (wire === 5) p += 4;
    else if (wire === 2) {
      const len = varint();
      if (p + len > end) throw new Error('length past the end');
      fn(field, wire, 0, p, p + len);
      p += len;
    } else throw new Error(`wire type ${wire}`);
    if (p > end) throw new Error('field past the end');
  }
}
const pbString = (buf, s, e) => buf.toString('utf8', s, e);

function onnxInputs(buf) {
  let graph = null;
  pbFields(buf, 0, buf.length, (f, w, v, s, e) => { if (f === 7 && w === 2) graph = [s, e]; });
  if (!graph) throw new Error('no graph');
  const inits = new Set(), inputs = [];
  pbFields(buf, graph[0], graph[1], (f, w, v, s, e) => {
    if (w !== 2) return;
    if (f === 5) pbFields(buf, s, e, (tf, tw, tv, ts, te) => { if (tf === 8 && tw === 2) inits.add(pbString(buf, ts, te)); });
    if (f === 11) {
      const info = { name: '', datatype: 'FP32', shape: [] };
      pbFields(buf, s, e, (vf, vw, vv, vs, ve) => {
        if (vf === 1 && vw === 2) info.name = pbString(buf, vs, ve);
        if (vf !== 2 || vw !== 2) return;
        pbFields(buf, vs, ve, (yf, yw, yv, ys, ye) => { // TypeProto.tensor_type
          if (yf !== 1 || yw !== 2) return;
          pbFields(buf, ys, ye, (tf, tw, tv, ts, te) => {
            if (tf === 1 && tw === 0) info.datatype = ONNX_TYPES[tv] || `TYPE${tv}`;
            if (tf !== 2 || tw !== 2) return;
            pbFields(buf, ts, te, (df, dw, dv, ds, de) => { // TensorShapeProto.dim
              if (df !== 1 || dw !== 2) return;
              let d = -1;
              pbFields(buf, ds, de, (xf, xw, xv) => { if (xf === 1 && xw === 0) d = xv; });
              info.shape.push(d);
            });
          });
        });
      });
      inputs.push(info);
    }
  });
  return inputs.filter((i) => !inits.has(i.name));
}

// ---- the model repository ----------------------------------------------------------------------------------------

const modelCache = new Map(); // name -> {mtimeMs, size, entry}

function readJson(file) {
  try { return JSON.parse(readFileSync(file, 'utf8')); } catch { return null; }
}

function modelEntry(dir, name) {
  const file = path.join(dir, name, 'model.onnx');
  let st;
  try { st = statSync(file); } catch { return null; }
  if (!st.isFile()) return null;
  const cached = modelCache.get(name);
  if (cached && cached.mtimeMs === st.mtimeMs && cached.size === st.size) return cached.entry;
  let inputs = [];
  try { inputs = onnxInputs(readFileSync(file)); } catch (err) { log(`web-server: ${file}: ${err.message}`); }
  const cfg = readJson(path.join(dir, name, 'config.json')) || {};
  const info = readJson(path.join(dir, name, 'info.json')) || {};
  const shape = inputs.length ? inputs[0].shape : [];
  const size = Array.isArray(cfg.size) ? cfg.size
    : shape.length === 4 && shape[2] > 0 && shape[3] > 0 ? [shape[2], shape[3]] : undefined;
  const ch = shape.length === 4 && shape[1] > 0 ? shape[1] : 3;
  const entry = {
    name, file: `/v2/models/${encodeURIComponent(name)}/file`, bytes: st.size, inputs,
    preprocess: {
      mean: cfg.mean || info.mean || new Array(ch).fill(0),
      std: cfg.std || info.std || new Array(ch).fill(1),
      ...(size ? { size } : {}),
    },
  };
  let labels = Array.isArray(cfg.labels) ? cfg.labels : null;
  if (!labels && typeof cfg.labels_file === 'string') {
    try {
      labels = readFileSync(path.resolve(dir, name, cfg.labels_file), 'utf8').split('\n').map((s) => s.trim()).filter(Boolean);
    } catch { labels = null; }
  }
  if (labels) entry.labels = labels;
  modelCache.set(name, { mtimeMs: st.mtimeMs, size: st.size, entry });
  return entry;
}

function listModels(dir) {
  let names = [];
  try { names = readdirSync(dir).filter((n) => SAFE_NAME.test(n)).sort(); } catch { return []; }
  return names.map((n) => modelEntry(dir, n)).filter(Boolean);
}

// ---- sample images: one PNG per CIFAR-10 class from the shared test set -------------------------------------------

const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function pngChunk(type, data) {
  const len = Buffer.alloc(4), crc = Buffer.alloc(4), td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  len.writeUInt32BE(data.length);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
/* An 8-bit RGB PNG from planar CIFAR pixels (1024 R, 1024 G, 1024 B). */
function cifarPng(planes) {
  const raw = Buffer.alloc(32 * (1 + 32 * 3));
  for (let y = 0; y < 32; y++) {
    const row = y * (1 + 96);
    raw[row] = 0; // filter: none
    for (let x = 0; x < 32; x++)
      for (let c = 0; c < 3; c++) raw[row + 1 + x * 3 + c] = planes[c * 1024 + y * 32 + x];
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(32, 0);
  ihdr.writeUInt32BE(32, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(raw)), pngChunk('IEND', Buffer.alloc(0))]);
}

let samples = null; // [{name, label, url, png}]
function loadSamples(dataDir) {
  if (samples) return samples;
  samples = [];
  if (!dataDir) return samples;
  try {
    const classes = readFileSync(path.join(dataDir, 'cifar10_classes.txt'), 'utf8').split('\n').map((s) => s.trim()).filter(Boolean);
    const bin = readFileSync(path.join(dataDir, 'cifar10_test_jpeg75.bin'));
    const seen = new Set();
    for (let i = 0; (i + 1) * 3073 <= bin.length && seen.size < classes.length && i < 1000; i++) {
      const lab = bin[i * 3073];
      if (seen.has(lab) || lab >= classes.length) continue;
      seen.add(lab);
      const name = `${classes[lab]}_${i}`;
      samples.push({ name, label: classes[lab], url: `/api/samples/${name}.png`, png: cifarPng(bin.subarray(i * 3073 + 1, (i + 1) * 3073)) });
    }
    samples.sort((a, b) => a.name.localeCompare(b.name));
  } catch (err) {
    log(`web-server: no samples from ${dataDir}: ${err.message}`);
  }
  return samples;
}

// ---- HTTP ----------------------------------------------------------------------------------------------------------

let quiet = false;
function log(msg) { process.stderr.write(msg + '\n'); }

function send(res, status, type, body, extra = {}) {
  res.writeHead(status, { ...ISOLATION, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-cache', ...extra });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
const sendJson = (res, status, obj) => send(res, status, 'application/json; charset=utf-8', JSON.stringify(obj));
const sendError = (res, status, msg) => sendJson(res, status, { error: msg });

function sendFile(res, file, type) {
  let st;
  try { st = statSync(file); } catch { return sendError(res, 404, 'not found'); }
  if (st.isDirectory()) {
    const index = path.join(file, 'index.html');
    if (!res.req.url.split('?')[0].endsWith('/')) {
      const u = res.req.url.split('?');
      res.writeHead(301, { ...ISOLATION, Location: u[0] + '/' + (u[1] ? '?' + u[1] : '') });
      return res.end();
    }
    return sendFile(res, index, MIME['.html']);
  }
  if (!st.isFile()) return sendError(res, 404, 'not found');
  res.writeHead(200, { ...ISOLATION, 'Content-Type': type || MIME[path.extname(file).toLowerCase()] || 'application/octet-stream',
    'Content-Length': st.size, 'Cache-Control': 'no-cache' });
  if (res.req.method === 'HEAD') return res.end();
  const s = createReadStream(file);
  s.on('error', () => res.destroy());
  s.pipe(res);
}

function handle(o, req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, `${req.method} is not served here`);
  let p;
  try { p = decodeURIComponent(new URL(req.url, 'http://x').pathname); } catch { return sendError(res, 400, 'bad URL'); }
  if (p.includes('\0')) return sendError(res, 400, 'bad URL');
  if (p === '/api/models') return sendJson(res, 200, { models: listModels(o.models) });
  if (p === '/api/samples') return sendJson(res, 200, { samples: loadSamples(o.data).map(({ name, label, url }) => ({ name, label, url })) });
  let m = /^\/api\/samples\/([^/]+)\.png$/.exec(p);
  if (m) {
    const s = loadSamples(o.data).find((x) => x.name === m[1]);
    return s ? send(res, 200, 'image/png', s.png) : sendError(res, 404, `no sample '${m[1]}'`);
  }
  m = /^\/v2\/models\/([^/]+)\/file$/.exec(p);
  if (m) {
    if (!SAFE_NAME.test(m[1]) || !modelEntry(o.models, m[1])) return sendError(res, 404, `no model '${m[1]}'`);
    return sendFile(res, path.join(o.models, m[1], 'model.onnx'), 'application/octet-stream');
  }
  if (p.startsWith('/api/') || p.startsWith('/v2/')) return sendError(res, 404, `no endpoint ${p}`);
  const file = path.resolve(o.root, '.' + path.posix.normalize(p));
  if (file !== o.root && !file.startsWith(o.root + path.sep)) return sendError(res, 403, 'outside the web root');
  return sendFile(res, file);
}

function main() {
  let o;
  try { o = parseCli(process.argv.slice(2)); } catch (err) {
    log(`web-server: ${err.message}\n${USAGE}`);
    process.exit(2);
  }
  quiet = o.quiet;
  if (!existsSync(o.root)) log(`web-server: warning: ${o.root} does not exist (run make web)`);
  const server = createServer((req, res) => {
    const t0 = process.hrtime.bigint();
    res.on('finish', () => {
      if (!quiet) log(`${req.method} ${req.url} ${res.statusCode} ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms`);
    });
    try { handle(o, req, res); } catch (err) {
      log(`web-server: ${err.stack || err}`);
      if (!res.headersSent) sendError(res, 500, 'internal error');
      else res.destroy();
    }
  });
  server.on('error', (err) => { log(`web-server: ${err.message}`); process.exit(1); });
  server.listen(o.port, o.host, () => {
    const a = server.address();
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    process.stdout.write(`http://${host}:${a.port}/\n`);
  });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
}

main();
