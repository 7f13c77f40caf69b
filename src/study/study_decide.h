/* study_decide.h - the placement decision of `tandem study`: on-device or cloud, for the first prediction and in
 * steady state, and the round-trip time and uplink bandwidth at which the answer flips. Pure arithmetic on figures
 * already measured (no I/O, no cJSON), shared by the report's emulated-network rows and its real-device rows. The
 * measuring page computes the same with web/decision.mjs (a port of this file: keep the two in step; the crowd
 * browser test checks that both give the same answer on the same numbers). */
#ifndef TANDEM_STUDY_DECIDE_H
#define TANDEM_STUDY_DECIDE_H

/* The cloud path as a model: T = server + base + rtt + up_bytes*8/up_kbps + down_bytes*8/down_kbps (ms; kbps =
 * bits per ms; a bandwidth of 0 means no limit). */
typedef struct study_cloud_fit {
    double server, base, up_bytes, down_bytes;
} study_cloud_fit;

/* One measured request (the lowest-RTT one) fixes the model: server (the Server-Timing parts, 0 when the server
 * sends none) and bytes as measured, base = what the measured total holds beyond them (never below 0). */
study_cloud_fit study_cloud_fit_from(double total_ms, double server_ms, double rtt_ms, double up_bytes,
                                     double down_bytes, double up_kbps, double down_kbps);

/* The model's prediction at another RTT and bandwidths. */
double study_cloud_model(const study_cloud_fit *f, double rtt_ms, double up_kbps, double down_kbps);

/* One decision. winner/first_winner point to static strings "on-device" or "cloud"; by = slower / faster.
 * break_even_rtt_ms: the RTT below which the cloud answers first at this network's bandwidth (0: the device wins
 * even at 0 ms); break_even_up_mbps: the uplink above which the cloud answers first at this RTT (0: none does). */
typedef struct study_decision {
    const char *winner, *first_winner;
    double by, first_by, cloud_model_ms, break_even_rtt_ms, break_even_up_mbps;
} study_decision;

/* on_device_ms: a steady-state prediction on the device; first_on_device_ms: the first one (model download, set-up,
 * first run); cloud_ms: the measured cloud request; rtt/up/down: the network the cloud was measured on. */
study_decision study_decide(double on_device_ms, double first_on_device_ms, double cloud_ms,
                            const study_cloud_fit *fit, double rtt_ms, double up_kbps, double down_kbps);

#endif
