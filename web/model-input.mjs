// model-input.mjs - the page's model and input: the server's model list (GET /api/models) or the user's own .onnx
// file, the pre-processing (mean, std, size), the input (a sample image from GET /api/samples, the user's image, or
// seeded random numbers), and the tensor every engine is fed (makeInput). Holds that choice as its own state; other
// modules read `input` and are told of changes through onModelChange / onInputChange.
import { decodeImage, imageToTensor, randomTensor, concreteDims, drawTensor } from './preprocess.mjs';
import { el, fmtBytes } from './format.mjs';
import { $ } from './page.mjs';

export const RANDOM_SEED = 1;
const RANDOM_DESC = `random (seed ${RANDOM_SEED})`;

export const input = {
  models: [],          // GET /api/models entries
  samples: [],         // GET /api/samples entries
  model: null,         // {name, source:'server'|'file', url|data, bytes, inputs, preprocess, labels}
  image: null,         // decoded image {rgba, width, height}, or null = random input
  desc: RANDOM_DESC,   // what the input is, in words (also in the result document)
};

const modelHooks = [], inputHooks = [];
/* fn() runs when the model changes (an engine holding the old one should go). */
export const onModelChange = (fn) => modelHooks.push(fn);
/* fn() runs when the input or its pre-processing changes (a shown prediction is stale). */
export const onInputChange = (fn) => inputHooks.push(fn);
const modelChanged = () => { for (const fn of modelHooks) fn(); };
export const inputChanged = () => { for (const fn of inputHooks) fn(); };

// ---------------------------------------------------------------------------------------------- model choice

function parseList(text) {
  const v = text.split(/[\s,]+/).filter(Boolean).map(Number);
  if (!v.length || v.some((x) => !Number.isFinite(x))) return null;
  return v;
}

export function preprocess() {
  const mean = parseList($('pre-mean').value);
  const std = parseList($('pre-std').value);
  if (!mean) throw new Error(`pre-processing mean '${$('pre-mean').value}' is not a list of numbers`);
  if (!std || std.some((x) => x === 0)) {
    throw new Error(`pre-processing std '${$('pre-std').value}' must be nonzero numbers`);
  }
  const sz = $('pre-size').value.trim();
  let size = null;
  if (sz) {
    const m = /^(\d+)\s*[x×,]\s*(\d+)$/.exec(sz);
    if (!m || +m[1] < 1 || +m[2] < 1) throw new Error(`size '${sz}' should look like 32x32`);
    size = [+m[1], +m[2]];
  }
  return { mean, std, size };
}

function fillPreprocess(pre) {
  $('pre-mean').value = (pre?.mean ?? [0]).join(', ');
  $('pre-std').value = (pre?.std ?? [1]).join(', ');
  $('pre-size').value = pre?.size ? `${pre.size[0]}x${pre.size[1]}` : '';
}

async function fetchJson(url) {
  const r = await fetch(url, { cache: 'no-store' });
  if (!r.ok) throw new Error(`GET ${url} → HTTP ${r.status}`);
  return r.json();
}

export async function loadModelList() {
  const sel = $('model-select');
  sel.textContent = '';
  try {
    const j = await fetchJson('api/models');
    input.models = Array.isArray(j.models) ? j.models.filter((m) => m && m.name && m.file) : [];
  } catch (e) {
    input.models = [];
    $('model-info').textContent = `The server lists no models (${e.message}); choose your own .onnx file.`;
  }
  for (const m of input.models) {
    sel.append(el('option', { value: `server:${m.name}`, text: `${m.name} (${fmtBytes(m.bytes)})` }));
  }
  sel.append(el('option', { value: 'file', text: 'Your own .onnx file…' }));
}

export function selectServerModel(name) {
  const m = input.models.find((x) => x.name === name);
  if (!m) {
    const have = input.models.map((x) => x.name).join(', ') || 'none';
    throw new Error(`the server has no model '${name}' (it has: ${have})`);
  }
  $('model-select').value = `server:${name}`;
  $('model-file-row').hidden = true;
  input.model = { name: m.name, source: 'server', url: new URL(m.file, location.href).href, bytes: m.bytes ?? null,
                  inputs: (m.inputs || []).map((i) => ({ name: i.name, dims: i.shape || [] })),
                  preprocess: m.preprocess || {}, labels: Array.isArray(m.labels) ? m.labels : null };
  fillPreprocess(m.preprocess);
  const inp = m.inputs?.[0];
  const pre = m.preprocess || {};
  $('model-info').textContent = `${fmtBytes(m.bytes)} · input '${inp?.name ?? '?'}' ${inp?.datatype || ''} ` +
    `[${(inp?.shape || []).join(', ')}] · ` +
    `${m.labels ? `${m.labels.length} labels` : 'no labels (class indices shown)'}` +
    ` · mean ${(pre.mean || [0]).join('/')}, std ${(pre.std || [1]).join('/')}`;
  modelChanged();
  refreshPreview();
}

export async function selectFileModel(file) {
  if (!file) {
    input.model = null;
    $('model-info').textContent = 'Choose an .onnx file from your computer; it stays in this browser.';
    return;
  }
  const buf = new Uint8Array(await file.arrayBuffer());
  if (buf.length < 16) throw new Error(`'${file.name}' is ${buf.length} bytes, too small to be an ONNX model`);
  input.model = { name: file.name.replace(/\.onnx$/i, ''), source: 'file', fileName: file.name, data: buf,
                  bytes: buf.length, inputs: null, preprocess: {}, labels: null };
  fillPreprocess({ mean: [0], std: [1] });
  $('model-info').textContent = `${file.name} · ${fmtBytes(buf.length)} · input shape known after loading ` +
    '(set mean/std below if the model expects normalised input)';
  modelChanged();
  refreshPreview();
}

/* What an engine loads: the server model's URL, or a copy of the file's bytes (the API may transfer it). */
export function modelSource() {
  if (!input.model) throw new Error('no model chosen: pick one from the list or choose your own .onnx file');
  return input.model.source === 'server' ? input.model.url : input.model.data.slice();
}

/* An engine told us the inputs of the user's own file: show them and the preview they allow. */
export function learnModelInputs(engInputs) {
  const m = input.model;
  if (m.source !== 'file' || m.inputs || !engInputs) return;
  m.inputs = engInputs.map((i) => ({ name: i.name, dims: i.dims }));
  const i0 = engInputs[0];
  $('model-info').textContent = `${m.fileName} · ${fmtBytes(m.bytes)} · input '${i0?.name}' ` +
    `[${(i0?.dims || []).join(', ')}] · check the pre-processing below`;
  refreshPreview();
}

// ---------------------------------------------------------------------------------------------- input choice

export async function loadSampleList() {
  try {
    const j = await fetchJson('api/samples');
    input.samples = Array.isArray(j.samples) ? j.samples.filter((s) => s && s.url) : [];
  } catch {
    input.samples = [];
  }
  const sel = $('input-select');
  sel.textContent = '';
  for (const s of input.samples) {
    sel.append(el('option', { value: `sample:${s.name}`, text: `Sample: ${s.name}${s.label ? ` (${s.label})` : ''}` }));
  }
  sel.append(el('option', { value: 'file', text: 'Your own image…' }));
  sel.append(el('option', { value: 'random', text: `Random numbers (seeded)` }));
  sel.value = input.samples.length ? `sample:${input.samples[0].name}` : 'random';
}

export async function useImageBlob(blob, desc) {
  input.image = await decodeImage(blob);
  input.desc = desc;
  inputChanged();
  refreshPreview();
}

/* The seeded random input (the same on every engine and device). */
export function useRandomInput() {
  input.image = null;
  input.desc = RANDOM_DESC;
}

export async function selectInput(value) {
  $('input-file-row').hidden = value !== 'file';
  if (value === 'random') {
    useRandomInput();
    refreshPreview();
  } else if (value.startsWith('sample:')) {
    const s = input.samples.find((x) => `sample:${x.name}` === value);
    const r = await fetch(new URL(s.url, location.href));
    if (!r.ok) throw new Error(`sample ${s.name}: HTTP ${r.status}`);
    await useImageBlob(await r.blob(), `sample ${s.name}${s.label ? ` (${s.label})` : ''}`);
  } else if (value === 'file') {
    const f = $('input-file').files[0];
    if (f) await useImageBlob(f, `file ${f.name}`);
    else {
      input.image = null;
      input.desc = 'no image chosen yet';
      $('input-info').textContent = 'Choose an image file (PNG, JPEG, …); it is resized to the model\'s input size.';
    }
  }
}

/* The whole choice (model, input, pre-processing fields), to put back after a run that changes it (crowd mode). */
export function saveChoice() {
  return { model: input.model, sel: $('model-select').value, image: input.image, desc: input.desc,
           pre: ['pre-mean', 'pre-std', 'pre-size'].map((id) => $(id).value),
           fileRow: $('model-file-row').hidden, info: $('model-info').textContent };
}

export function restoreChoice(saved) {
  input.model = saved.model;
  input.image = saved.image;
  input.desc = saved.desc;
  $('model-select').value = saved.sel;
  ['pre-mean', 'pre-std', 'pre-size'].forEach((id, k) => { $(id).value = saved.pre[k]; });
  $('model-file-row').hidden = saved.fileRow;
  $('model-info').textContent = saved.info;
  refreshPreview();
}

// ---------------------------------------------------------------------------------------------- the tensor

// The model's first input as concrete dims: from the engine once loaded, else from the server's description.
function inputDims(engInputs) {
  const pre = preprocess();
  const decl = engInputs?.[0]?.dims?.length ? engInputs[0].dims : input.model?.inputs?.[0]?.dims;
  if (!decl || !decl.length) return null;
  return concreteDims(decl, pre.size);
}

export function makeInput(engInputs) {
  const pre = preprocess();
  const dims = inputDims(engInputs);
  if (!dims) throw new Error('the model input shape is unknown');
  if (input.image) {
    if (dims.length !== 4) throw new Error(`an image needs a [N, C, H, W] input; the model takes [${dims.join(', ')}]`);
    const t = imageToTensor(input.image, { channels: dims[1], height: dims[2], width: dims[3],
                                           mean: pre.mean, std: pre.std });
    if (dims[0] > 1) { // fill the batch with copies
      const one = t.data.length, data = new Float32Array(one * dims[0]);
      for (let b = 0; b < dims[0]; b++) data.set(t.data, b * one);
      return { data, dims };
    }
    return t;
  }
  if (input.desc === 'no image chosen yet') {
    throw new Error('no image chosen: choose an image file, a sample or random');
  }
  return randomTensor(dims, RANDOM_SEED);
}

export function refreshPreview() {
  const info = $('input-info');
  const cv = $('input-preview');
  try {
    const dims = inputDims(null);
    if (!dims || dims.length !== 4 || !input.image) {
      cv.getContext('2d').clearRect(0, 0, cv.width, cv.height);
      if (input.image) {
        info.textContent = `${input.desc}: ${input.image.width}×${input.image.height} px ` +
          '(resized once the model\'s input size is known)';
      } else if (input.desc.startsWith('random')) {
        info.textContent = `Random input, uniform in [0, 1), seed ${RANDOM_SEED}: the same on every engine.`;
      }
      return;
    }
    const t = makeInput(null);
    const pre = preprocess();
    drawTensor(cv, t, pre.mean, pre.std);
    info.textContent = `${input.desc}: ${input.image.width}×${input.image.height} px → [${t.dims.join(', ')}], ` +
      'bilinear resize, then (x/255 − mean) / std per channel.';
  } catch (e) {
    info.textContent = e.message;
  }
}
