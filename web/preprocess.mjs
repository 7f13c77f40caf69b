// preprocess.mjs - the page's input side: decode an image file with the browser, resize it to the model's input
// size and normalise it into a float32 NCHW tensor, the same way `tandem run --input IMAGE` does (src/common/image.c:
// bilinear resize with half-pixel centres on 8-bit pixels, scale to [0,1], then (x - mean) / std per channel), so
// the page and the native CLI classify the same file the same way. Also seeded random inputs, softmax and top-k.

// Decode an image Blob/File into RGBA bytes at its own size. colorSpaceConversion 'none' keeps the file's pixel
// values as they are (no colour management), like stb_image in the CLI.
export async function decodeImage(blob) {
  let bmp;
  try {
    bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (e) {
    throw new Error(`cannot decode the image${blob.name ? ` '${blob.name}'` : ''}: ` +
                    'the browser does not recognise it as PNG, JPEG, GIF, WebP or BMP');
  }
  const { width, height } = bmp;
  if (width < 1 || height < 1 || width * height > 64 * 1024 * 1024) {
    bmp.close();
    throw new Error(`the image is ${width} x ${height} pixels, out of range`);
  }
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bmp, 0, 0);
  bmp.close();
  const { data } = ctx.getImageData(0, 0, width, height);
  return { rgba: data, width, height };
}

// Source positions for one axis of the resize: output i reads input (i + 0.5) * in / out - 0.5, clamped.
function resizeAxis(inSize, outSize) {
  const lo = new Int32Array(outSize), hi = new Int32Array(outSize), frac = new Float32Array(outSize);
  const scale = inSize / outSize;
  for (let i = 0; i < outSize; i++) {
    let x = (i + 0.5) * scale - 0.5;
    if (x < 0) x = 0;
    let x0 = Math.floor(x);
    if (x0 > inSize - 1) x0 = inSize - 1;
    const x1 = x0 + 1 < inSize ? x0 + 1 : inSize - 1;
    lo[i] = x0;
    hi[i] = x1;
    frac[i] = x1 === x0 ? 0 : x - x0;
  }
  return { lo, hi, frac };
}

// RGBA bytes → `channels` planes (1 = luminance the way stb_image computes it, 3 = RGB, 4 = RGBA) of uint8.
function toChannels(rgba, n, channels) {
  const out = new Uint8Array(n * channels);
  for (let p = 0; p < n; p++) {
    const r = rgba[4 * p], g = rgba[4 * p + 1], b = rgba[4 * p + 2];
    if (channels === 1) out[p] = (r * 77 + g * 150 + b * 29) >> 8;
    else for (let c = 0; c < channels; c++) out[p * channels + c] = rgba[4 * p + c];
  }
  return out;
}

// Decoded image → Float32Array [1, C, H, W] normalised with mean/std (one value or one per channel).
export function imageToTensor(img, { channels = 3, height, width, mean = [0], std = [1] }) {
  if (![1, 3, 4].includes(channels)) throw new Error(`an image cannot fill ${channels} channels (1, 3 or 4)`);
  const oh = height > 0 ? height : img.height, ow = width > 0 ? width : img.width;
  const pix = toChannels(img.rgba, img.width * img.height, channels);
  const ya = resizeAxis(img.height, oh), xa = resizeAxis(img.width, ow);
  const out = new Float32Array(channels * oh * ow);
  const f = Math.fround, iw = img.width;
  for (let c = 0; c < channels; c++) {
    const m = f(mean.length > 1 ? mean[c] : mean[0] ?? 0);
    const inv = f(1 / f(std.length > 1 ? std[c] : std[0] ?? 1));
    const base = c * oh * ow;
    for (let y = 0; y < oh; y++) {
      const r0 = ya.lo[y] * iw * channels, r1 = ya.hi[y] * iw * channels, fy = ya.frac[y];
      for (let x = 0; x < ow; x++) {
        const a = xa.lo[x] * channels + c, b = xa.hi[x] * channels + c, fx = xa.frac[x];
        const top = f(pix[r0 + a] + f(f(pix[r0 + b] - pix[r0 + a]) * fx));
        const bot = f(pix[r1 + a] + f(f(pix[r1 + b] - pix[r1 + a]) * fx));
        const v = f(f(top + f(f(bot - top) * fy)) / 255);
        out[base + y * ow + x] = f(f(v - m) * inv);
      }
    }
  }
  return { data: out, dims: [1, channels, oh, ow] };
}

// A small seeded generator (xorshift64*) so a "random" input is the same on every run and every engine.
export function randomTensor(dims, seed = 1) {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = BigInt.asUintN(64, BigInt(seed) * 0x9E3779B97F4A7C15n + 1n);
  for (let i = 0; i < n; i++) {
    s ^= s >> 12n; s ^= BigInt.asUintN(64, s << 25n); s ^= s >> 27n;
    const r = BigInt.asUintN(64, s * 0x2545F4914F6CDD1Dn);
    data[i] = Number(r >> 11n) / 9007199254740992;
  }
  return { data, dims: dims.slice() };
}

// The concrete input shape for a model input: symbolic dims become 1 (batch) or the preprocess size (H, W).
export function concreteDims(dims, size) {
  return dims.map((d, i) => {
    if (d >= 0) return d;
    if (dims.length === 4 && i === 2 && size) return size[0];
    if (dims.length === 4 && i === 3 && size) return size[1];
    return 1;
  });
}

// Softmax probabilities and the k best classes of one row of scores (ties go to the lower index, like the CLI).
export function topK(scores, k = 5, labels = null) {
  let mx = -Infinity;
  for (const v of scores) if (v > mx) mx = v;
  let sum = 0;
  for (const v of scores) sum += Number.isNaN(v) ? 0 : Math.exp(v - mx);
  const idx = Array.from(scores.keys()).sort((a, b) => (scores[b] - scores[a]) || (a - b));
  return idx.slice(0, Math.min(k, scores.length)).map((i) => ({
    index: i,
    score: scores[i],
    prob: Number.isFinite(mx) && sum > 0 ? Math.exp(scores[i] - mx) / sum : NaN,
    label: labels && i < labels.length ? labels[i] : null,
  }));
}

// Draw an NCHW tensor's first image (denormalised) onto a canvas, so the person sees what the model sees.
export function drawTensor(canvas, tensor, mean = [0], std = [1]) {
  const [, c, h, w] = tensor.dims;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(w, h);
  for (let p = 0; p < h * w; p++) {
    for (let k = 0; k < 3; k++) {
      const ch = c === 1 ? 0 : k;
      const m = mean.length > 1 ? mean[ch] : mean[0] ?? 0, s = std.length > 1 ? std[ch] : std[0] ?? 1;
      const v = (tensor.data[ch * h * w + p] * s + m) * 255;
      img.data[4 * p + k] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
    }
    img.data[4 * p + 3] = 255;
  }
  const tmp = new OffscreenCanvas(w, h);
  tmp.getContext('2d').putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
}
