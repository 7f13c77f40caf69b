// decision.mjs - the placement decision of `tandem study`, for the page's device run: on-device or cloud, for the
// first prediction and in steady state, and the RTT and uplink at which that answer flips. A port of
// src/study/study_decide.c (the report's own arithmetic): keep the two in step. The crowd browser test checks that
// the page's verdict equals the report's recomputation on the same stored numbers. No DOM, no page state.

/* The time to move `bytes` at `kbps` (bits per ms); a bandwidth of 0 means no limit. */
export const transferMs = (bytes, kbps) => (kbps > 0 ? (bytes * 8) / kbps : 0);

/* The cloud model T = server + base + rtt + up_bytes/uplink + down_bytes/downlink, fixed by one measured request:
 * server and bytes as measured, base = what the measured total holds beyond them (never below 0). */
export function cloudFit({ total_ms, server_ms, rtt_ms, request_bytes, response_bytes, up_kbps, down_kbps }) {
  let base = total_ms - server_ms - rtt_ms - transferMs(request_bytes, up_kbps) - transferMs(response_bytes, down_kbps);
  if (!(base > 0)) base = 0;
  return { server: server_ms, base, up_bytes: request_bytes, down_bytes: response_bytes };
}

/* The model's prediction at another RTT and bandwidths. */
export const cloudModel = (f, rtt, up, down) =>
  f.server + f.base + rtt + transferMs(f.up_bytes, up) + transferMs(f.down_bytes, down);

/* One decision (study_decide): on-device steady and first times against the measured cloud time on the network
 * (rtt, up, down) it was measured on. break_even_rtt_ms 0: the device wins even at 0 ms; break_even_up_mbps 0: no
 * uplink makes the cloud win at this RTT. */
export function decide({ on_device_ms: dev, first_on_device_ms: first, cloud_ms: cloud, fit, rtt_ms: rtt,
                         up_kbps: up, down_kbps: down }) {
  const model = cloudModel(fit, rtt, up, down);
  const rttBe = dev - (model - rtt);
  const avail = dev - fit.server - fit.base - rtt - transferMs(fit.down_bytes, down);
  return {
    winner: dev <= cloud ? 'on-device' : 'cloud',
    by: dev <= cloud ? cloud / dev : dev / cloud,
    first_winner: first <= cloud ? 'on-device' : 'cloud',
    first_by: first <= cloud ? cloud / first : first / cloud,
    cloud_model_ms: model,
    break_even_rtt_ms: rttBe > 0 ? rttBe : 0,
    break_even_up_mbps: avail > 0 ? (fit.up_bytes * 8) / avail / 1000 : 0,
  };
}

/* decide() over a document's decision_inputs (docs/RESULTS.md, tandem.verdict/1), as the report recomputes it. */
export const decideFrom = (di) => decide({ ...di, fit: cloudFit(di) });
