/* study_decide.c - the decision arithmetic of study_decide.h: which placement answers first and where that flips.
 * web/decision.mjs is its port for the measuring page; a change here changes that file in the same commit. */
#include "study_decide.h"

static double transfer_ms(double bytes, double kbps) { return kbps > 0 ? bytes * 8.0 / kbps : 0; }

study_cloud_fit study_cloud_fit_from(double total_ms, double server_ms, double rtt_ms, double up_bytes,
                                     double down_bytes, double up_kbps, double down_kbps) {
    study_cloud_fit f = {server_ms, 0, up_bytes, down_bytes};
    f.base = total_ms - server_ms - rtt_ms - transfer_ms(up_bytes, up_kbps) - transfer_ms(down_bytes, down_kbps);
    if (!(f.base > 0)) f.base = 0;
    return f;
}

double study_cloud_model(const study_cloud_fit *f, double rtt_ms, double up_kbps, double down_kbps) {
    return f->server + f->base + rtt_ms + transfer_ms(f->up_bytes, up_kbps) + transfer_ms(f->down_bytes, down_kbps);
}

study_decision study_decide(double dev, double first_dev, double cloud, const study_cloud_fit *fit, double rtt,
                            double up, double down) {
    study_decision d;
    d.winner = dev <= cloud ? "on-device" : "cloud";
    d.by = dev <= cloud ? cloud / dev : dev / cloud;
    d.first_winner = first_dev <= cloud ? "on-device" : "cloud";
    d.first_by = first_dev <= cloud ? cloud / first_dev : first_dev / cloud;
    d.cloud_model_ms = study_cloud_model(fit, rtt, up, down);
    /* break-even RTT at this network's bandwidth, and uplink at this RTT */
    double rtt_be = dev - (d.cloud_model_ms - rtt);
    double avail = dev - fit->server - fit->base - rtt - transfer_ms(fit->down_bytes, down);
    d.break_even_rtt_ms = rtt_be > 0 ? rtt_be : 0;
    d.break_even_up_mbps = avail > 0 ? fit->up_bytes * 8.0 / avail / 1000.0 : 0;
    return d;
}
