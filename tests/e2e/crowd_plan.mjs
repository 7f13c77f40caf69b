// crowd_plan.mjs - unit tests (plain Node, no browser) of web/crowd.mjs: which models crowd mode picks from a
// server's model list, the steps it plans, and the time-left estimate the progress bar shows (given fixed clock
// readings, so the expected values are computed by hand here). Prints `N passed, M failed`.
//
//   node tests/e2e/crowd_plan.mjs
import { standardModels, planSuite, stepLabel, Eta, fmtDuration, isCifarShaped } from '../../web/crowd.mjs';
import { cloudFit, decide, decideFrom } from '../../web/decision.mjs';
import { stats } from '../../web/cloud.mjs';
import { checker } from './lib.mjs';

const C = checker();
const check = C.check;
const cifar = (name, bytes = 1000) => ({ name, bytes, inputs: [{ name: 'input', shape: [-1, 3, 32, 32] }] });
const mnist = { name: 'mnist8', bytes: 26000, inputs: [{ name: 'Input3', shape: [1, 1, 28, 28] }] };
const names = (ms) => ms.map((m) => m.name).join(',');
const throwsLike = (fn, re) => {
  try {
    fn();
    return false;
  } catch (e) {
    return re.test(e.message);
  }
};

// model choice
const list = [cifar('cifar10_resnet20'), cifar('cifar100_resnet56'), mnist, cifar('cifar100_resnet20')];
check('zoo models present: only those, in the standard order', names(standardModels(list)) ===
      'cifar100_resnet20,cifar100_resnet56', names(standardModels(list)));
check('no zoo model: every CIFAR-shaped model', names(standardModels([mnist, cifar('a'), cifar('b')])) === 'a,b');
check('CIFAR shape test', isCifarShaped(cifar('x')) && !isCifarShaped(mnist) && !isCifarShaped({ name: 'y' }) &&
      isCifarShaped({ inputs: [{ shape: [4, 3, 32, 32] }] }) && !isCifarShaped({ inputs: [{ shape: [1, 3, 32] }] }));
check('nothing suitable: a readable error', throwsLike(() => standardModels([mnist]), /no other CIFAR-shaped/));
check('asked-for models, in the order asked', names(standardModels(list, ['mnist8', 'cifar10_resnet20'])) ===
      'mnist8,cifar10_resnet20');
check('asked-for model missing: the error names it and what exists',
      throwsLike(() => standardModels(list, ['cifar10_resnet20', 'nope']), /no model 'nope' \(it has: cifar10_resnet20,/));

// the plan
const plan = planSuite([cifar('a', 100), cifar('b', 300)], 4);
const kinds = plan.map((s) => `${s.model}:${s.engine}/${s.mode}/${s.threads}`);
check('plan: per model tandem 1T, ort-web 1T, main thread 1T, tandem 2..4 threads, then the cloud path',
      kinds.join(' ') ===
      'a:tandem/worker/1 a:ort/worker/1 a:tandem/main/1 a:tandem/worker/2 a:tandem/worker/3 a:tandem/worker/4 ' +
      'a:cloud/network/0 b:tandem/worker/1 b:ort/worker/1 b:tandem/main/1 b:tandem/worker/2 b:tandem/worker/3 ' +
      'b:tandem/worker/4 b:cloud/network/0', kinds.join(' '));
check('plan at one thread: four steps per model', planSuite([cifar('a')], 1).length === 4);
check('step label', stepLabel(plan[1]) === 'onnxruntime-web · Web Worker · 1 thread' &&
      stepLabel(plan[3]) === 'tandem-wasm · Web Worker · 2 threads' && /^cloud path from this device/.test(stepLabel(plan[6])));

// the time left: two models (100 and 300 bytes) × [tandem/worker/1, ort/worker/1]
const steps = [{ model: 'a', bytes: 100, engine: 'tandem', mode: 'worker', threads: 1 },
               { model: 'a', bytes: 100, engine: 'ort', mode: 'worker', threads: 1 },
               { model: 'b', bytes: 300, engine: 'tandem', mode: 'worker', threads: 1 },
               { model: 'b', bytes: 300, engine: 'ort', mode: 'worker', threads: 1 }];
const eta = new Eta(steps, 0);
eta.start(0, 0);
let st = eta.state(500);
check('no estimate before the first step ends', st.remaining_ms === null && st.fraction === 0 && st.done === 0);
eta.finish(0, 1000); // tandem: 10 ms per byte
eta.start(1, 1000);
st = eta.state(1000);
// ort has not run yet: all-kinds rate 10 ms/byte → 1000 (a/ort) + 3000 (b/tandem) + 3000 (b/ort)
check('after step 1: unknown kinds use the overall rate', st.remaining_ms === 7000 && st.done === 1,
      JSON.stringify(st));
st = eta.state(1500);
check('the step in flight counts down', st.remaining_ms === 6500, JSON.stringify(st));
eta.finish(1, 4000); // ort: 30 ms per byte
eta.start(2, 4000);
st = eta.state(4000);
// b/tandem at 10 ms/byte = 3000, b/ort at 30 ms/byte = 9000
check('after step 2: each kind uses its own rate', st.remaining_ms === 12000, JSON.stringify(st));
check('fraction is time done over time done + left', Math.abs(st.fraction - 4000 / 16000) < 1e-12);
st = eta.state(9000); // step 3 ran over its estimate: nothing negative
check('a step over its estimate never gives negative time', st.remaining_ms === 9000, JSON.stringify(st));
eta.finish(2, 9000);
eta.start(3, 9000);
eta.finish(3, 20000);
st = eta.state(20000);
check('all done: nothing left, fraction 1', st.remaining_ms === 0 && st.fraction === 1 && st.done === 4);
check('durations formatted', fmtDuration(0) === '0 s' && fmtDuration(59400) === '59 s' &&
      fmtDuration(61000) === '1 min 01 s' && fmtDuration(null) === '?');

// the decision (web/decision.mjs, src/study/study_decide.c's arithmetic) on numbers worked by hand: a 12 ms request
// of server 3 + RTT 4 + upload 2 (12288 B at 49152 kbit/s) + download 1 (1000 B at 8000 kbit/s) leaves base 2
const di = { total_ms: 12, cloud_ms: 12, server_ms: 3, rtt_ms: 4, request_bytes: 12288, response_bytes: 1000,
             up_kbps: 49152, down_kbps: 8000 };
const fit = cloudFit(di);
check('cloud fit: base is what the total holds beyond server, RTT and transfers', fit.base === 2 && fit.server === 3,
      JSON.stringify(fit));
let v = decideFrom({ ...di, on_device_ms: 5, first_on_device_ms: 200 });
check('device 5 ms vs cloud 12 ms: on-device by 2.4x, first prediction cloud by 16.7x, no break-even RTT',
      v.winner === 'on-device' && Math.abs(v.by - 2.4) < 1e-12 && v.first_winner === 'cloud' &&
      Math.abs(v.first_by - 200 / 12) < 1e-12 && v.break_even_rtt_ms === 0 && v.cloud_model_ms === 12, JSON.stringify(v));
v = decideFrom({ ...di, on_device_ms: 20, first_on_device_ms: 20 });
// RTT: 20 - (12 - 4) = 12 ms; uplink: 12288 B * 8 / (20 - 3 - 2 - 4 - 1 ms) = 9.8304 Mbit/s
check('device 20 ms: cloud wins; break-even RTT 12 ms, uplink 9.8304 Mbit/s',
      v.winner === 'cloud' && v.break_even_rtt_ms === 12 && Math.abs(v.break_even_up_mbps - 9.8304) < 1e-12,
      JSON.stringify(v));
v = decide({ on_device_ms: 1, first_on_device_ms: 1, cloud_ms: 12, fit, rtt_ms: 100, up_kbps: 0, down_kbps: 0 });
check('a device faster than the server alone: no uplink makes the cloud win', v.break_even_up_mbps === 0 &&
      v.break_even_rtt_ms === 0);
check('stats: median, quartiles, NaN left out', JSON.stringify(stats([3, NaN, 1, 2, 4])) ===
      JSON.stringify({ median: 2.5, p25: 1, p75: 4, min: 1, max: 4, n: 4 }) && stats([NaN]) === null,
      JSON.stringify(stats([3, NaN, 1, 2, 4])));

console.log(C.summary());
process.exit(C.failed ? 1 : 0);
