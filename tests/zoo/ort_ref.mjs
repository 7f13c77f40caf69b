#!/usr/bin/env node
// ort_ref.mjs - the reference side of the zoo test: runs an ONNX model with onnxruntime-node on a raw float32 input
// and writes every output as raw float32, with a JSON line of names and shapes on stdout.
//
// usage: node tests/zoo/ort_ref.mjs MODEL INPUT.bin N OUT_PREFIX
//   INPUT.bin holds N*3*32*32 float32 values (little-endian); output k goes to OUT_PREFIX<k>.bin.
import fs from 'node:fs';
import ort from 'onnxruntime-node';

async function main(argv) {
  if (argv.length !== 4) {
    process.stderr.write('usage: ort_ref.mjs MODEL INPUT.bin N OUT_PREFIX\n');
    return 2;
  }
  const [model, inputPath, nStr, prefix] = argv;
  const n = Number(nStr);
  const buf = fs.readFileSync(inputPath);
  const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  if (!Number.isInteger(n) || n < 1 || data.length !== n * 3 * 32 * 32) {
    process.stderr.write(`ort_ref: ${inputPath} does not hold ${nStr} x 3 x 32 x 32 floats\n`);
    return 1;
  }
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'], intraOpNumThreads: 1, graphOptimizationLevel: 'all',
  });
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [n, 3, 32, 32]) };
  const out = await session.run(feeds);
  const shapes = [];
  session.outputNames.forEach((name, k) => {
    const t = out[name];
    fs.writeFileSync(`${prefix}${k}.bin`, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    shapes.push({ name, dims: t.dims });
  });
  process.stdout.write(JSON.stringify(shapes) + '\n');
  return 0;
}

main(process.argv.slice(2)).then((rc) => { process.exitCode = rc; },
  (e) => { process.stderr.write(`ort_ref: ${e.message}\n`); process.exitCode = 1; });
