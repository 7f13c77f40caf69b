#!/usr/bin/env node
// ort_ref.mjs - the reference side of the zoo tests: runs an ONNX model with onnxruntime-node and writes every
// output as raw float32 (or its own element type), with a JSON line of names and shapes on stdout.
//
// usage: node tests/zoo/ort_ref.mjs MODEL INPUT.bin N OUT_PREFIX
//          INPUT.bin holds N*3*32*32 float32 values (little-endian), fed to the model's first input
//        node tests/zoo/ort_ref.mjs MODEL --inputs INPUTS.json OUT_PREFIX
//          INPUTS.json lists {name, type: "float32"|"int64", dims, file} per input (tests/zoo/check.py inputs)
// Output k goes to OUT_PREFIX<k>.bin.
import fs from 'node:fs';
import ort from 'onnxruntime-node';

const TYPED = { float32: Float32Array, int64: BigInt64Array };

function readInputs(argv) {
  if (argv[1] === '--inputs') {
    const list = JSON.parse(fs.readFileSync(argv[2], 'utf8'));
    return { prefix: argv[3], feeds: (session) => Object.fromEntries(list.map((x) => {
      const buf = fs.readFileSync(x.file);
      const T = TYPED[x.type];
      if (!T) throw new Error(`${x.name}: type ${x.type} is not handled`);
      const data = new T(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
      if (data.length !== x.dims.reduce((a, b) => a * b, 1)) throw new Error(`${x.file} does not hold ${x.dims}`);
      if (!session.inputNames.includes(x.name)) throw new Error(`the model has no input '${x.name}'`);
      return [x.name, new ort.Tensor(x.type, data, x.dims)];
    })) };
  }
  const [, inputPath, nStr, prefix] = argv;
  const n = Number(nStr);
  const buf = fs.readFileSync(inputPath);
  const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  if (!Number.isInteger(n) || n < 1 || data.length !== n * 3 * 32 * 32)
    throw new Error(`${inputPath} does not hold ${nStr} x 3 x 32 x 32 floats`);
  return { prefix, feeds: (session) => ({ [session.inputNames[0]]: new ort.Tensor('float32', data, [n, 3, 32, 32]) }) };
}

async function main(argv) {
  if (argv.length !== 4) {
    process.stderr.write('usage: ort_ref.mjs MODEL INPUT.bin N OUT_PREFIX\n       ort_ref.mjs MODEL --inputs INPUTS.json OUT_PREFIX\n');
    return 2;
  }
  const model = argv[0];
  const { prefix, feeds } = readInputs(argv);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'], intraOpNumThreads: 1, graphOptimizationLevel: 'all',
  });
  const out = await session.run(feeds(session));
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
