/* study_report.c - turns a study's results (results.json's tree) into the report: report.md, a self-contained
 * report.html with inline SVG charts, and results.csv with one row per figure. The tables put our measurements
 * beside the three published studies:
 *   Kanev 2023     prediction time and predictions/s per model and platform (server CPU, browser, weak clients);
 *   Wang et al.    in-browser/native latency (16.9x), memory/model size (334.6x), frame-time impact (+67.2 %);
 *   Guo 2018       the phase breakdown of one prediction on-device and in the cloud;
 * then the decision: per model, device and network, which placement answers first and by how much, with the RTT
 * and uplink bandwidth at which that answer flips. Every figure carries its run count and its spread. The cloud
 * time is modelled as server + base + RTT + bytes/bandwidth, with base (the loopback overhead) and the server part
 * measured; the report shows the model's prediction beside the measured time for each emulated network. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "study.h"
#include "study_decide.h"

typedef struct rep {
    FILE *md, *html, *csv;
    int in_table;
} rep;

/* ---- lookups into the results tree ---- */

static const cJSON *jget(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }
static double jnum(const cJSON *o, const char *k) {
    const cJSON *v = jget(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : study_median(v);
}
static const char *jstr(const cJSON *o, const char *k, const char *def) {
    const cJSON *v = jget(o, k);
    return cJSON_IsString(v) ? v->valuestring : def;
}

/* ---- output helpers: every text goes to both the markdown and the HTML ---- */

static void html_escape(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

static void rep_h(rep *r, int level, const char *title) {
    fprintf(r->md, "\n%.*s %s\n\n", level, "####", title);
    fprintf(r->html, "<h%d>", level);
    html_escape(r->html, title);
    fprintf(r->html, "</h%d>\n", level);
}

static void rep_p(rep *r, const char *fmt, ...) {
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(r->md, "%s\n\n", buf);
    fputs("<p>", r->html);
    html_escape(r->html, buf);
    fputs("</p>\n", r->html);
}

/* Cells separated by '|' as markdown: " | " between them. */
static void md_cells(FILE *f, const char *cells) {
    for (; *cells; cells++) {
        if (*cells == '|') fputs(" | ", f);
        else fputc(*cells, f);
    }
}

/* "12.3 MB"-style number with unit, or "-" when not measured. */
static const char *fmt_num(char *buf, size_t cap, double v, const char *unit) {
    if (isnan(v)) snprintf(buf, cap, "-");
    else snprintf(buf, cap, "%.3g %s", v, unit);
    return buf;
}

/* A table: cells separated by '|' in one string; the first call after rep_table is the header. */
static void rep_table(rep *r, const char *header) {
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", header);
    int n = 1;
    for (char *c = buf; *c; c++) n += *c == '|';
    fputs("| ", r->md);
    md_cells(r->md, header);
    fputs(" |\n|", r->md);
    for (int i = 0; i < n; i++) fputs("---|", r->md);
    fputs("\n", r->md);
    fputs("<table><thead><tr>", r->html);
    for (char *save = NULL, *t = strtok_r(buf, "|", &save); t; t = strtok_r(NULL, "|", &save)) {
        fputs("<th>", r->html);
        html_escape(r->html, t);
        fputs("</th>", r->html);
    }
    fputs("</tr></thead><tbody>\n", r->html);
    r->in_table = 1;
}

static void rep_row(rep *r, const char *cls, const char *fmt, ...) {
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fputs("| ", r->md);
    md_cells(r->md, buf);
    fputs(" |\n", r->md);
    fprintf(r->html, "<tr%s%s%s>", cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
    for (char *save = NULL, *t = strtok_r(buf, "|", &save); t; t = strtok_r(NULL, "|", &save)) {
        fputs("<td>", r->html);
        html_escape(r->html, t);
        fputs("</td>", r->html);
    }
    fputs("</tr>\n", r->html);
}

static void rep_table_end(rep *r) {
    fputs("\n", r->md);
    fputs("</tbody></table>\n", r->html);
    r->in_table = 0;
}

/* "1.23 ms [1.20-1.31] n=30" from a stats object. */
static const char *fmt_stats(char *buf, size_t cap, const cJSON *s, const char *unit) {
    if (!s) return snprintf(buf, cap, "-"), buf;
    double med = study_median(s);
    if (cJSON_IsNumber(s)) snprintf(buf, cap, "%.3g %s", med, unit);
    else snprintf(buf, cap, "%.3g %s [%.3g-%.3g] n=%d", med, unit, jnum(s, "p25"), jnum(s, "p75"), (int)jnum(s, "n"));
    return buf;
}

static void csv_row(rep *r, const char *section, const char *model, const char *platform, const char *network,
                    const char *metric, const char *unit, const cJSON *s) {
    if (!s) return;
    double med = study_median(s);
    if (isnan(med)) return;
    fprintf(r->csv, "%s,%s,\"%s\",%s,%s,%s,%.6g", section, model, platform, network ? network : "", metric, unit, med);
    if (cJSON_IsObject(s))
        fprintf(r->csv, ",%.6g,%.6g,%d\n", jnum(s, "p25"), jnum(s, "p75"), (int)jnum(s, "n"));
    else fputs(",,,1\n", r->csv);
}

/* ---- SVG charts ---- */

typedef struct bar {
    char label[96];
    int nseg;
    double seg[8];
} bar;

static const char *seg_colors[8] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
                                    "#9c755f"};

/* Horizontal (stacked) bars with a legend; log10 axis when log is set (single segment only). */
static void svg_bars(FILE *f, const char *title, const char *unit, const bar *b, int n, const char *const *legend,
                     int nleg, int log) {
    int W = 860, left = 300, rowh = 20, top = 36, H = top + n * rowh + 40;
    double mx = 0;
    for (int i = 0; i < n; i++) {
        double t = 0;
        for (int s = 0; s < b[i].nseg; s++) t += b[i].seg[s] > 0 ? b[i].seg[s] : 0;
        mx = t > mx ? t : mx;
    }
    if (mx <= 0) return;
    double lo = 0; /* the axis starts at 0, or at the decade below the smallest bar on a log axis */
    if (log) {
        double mn = mx;
        for (int i = 0; i < n; i++)
            if (b[i].seg[0] > 0 && b[i].seg[0] < mn) mn = b[i].seg[0];
        lo = pow(10, floor(log10(mn)));
    }
    double hi = log ? pow(10, ceil(log10(mx))) : mx * 1.05;
    fprintf(f, "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n<text x=\"%d\" y=\"18\" font-weight=\"bold\">",
            W, H, 4);
    html_escape(f, title);
    fprintf(f, " (%s%s)</text>\n", unit, log ? ", log scale" : "");
    for (int i = 0; i < n; i++) {
        int y = top + i * rowh;
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 6, y + 14);
        html_escape(f, b[i].label);
        fputs("</text>", f);
        double x = 0, total = 0;
        for (int s = 0; s < b[i].nseg; s++) {
            double v = b[i].seg[s] > 0 ? b[i].seg[s] : 0;
            double x0 = log ? 0 : x / hi, x1;
            if (log) x1 = v > lo ? log10(v / lo) / log10(hi / lo) : 0;
            else x1 = (x + v) / hi;
            int px0 = left + (int)(x0 * (W - left - 70)), px1 = left + (int)(x1 * (W - left - 70));
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>", px0, y + 3,
                    px1 - px0 > 0 ? px1 - px0 : 0, rowh - 6, seg_colors[s % 8]);
            x += v, total += v;
        }
        double xe = log ? (total > lo ? log10(total / lo) / log10(hi / lo) : 0) : x / hi;
        fprintf(f, "<text x=\"%d\" y=\"%d\">%.3g</text>\n", left + (int)(xe * (W - left - 70)) + 4, y + 14, total);
    }
    int ly = top + n * rowh + 24, lx = left;
    for (int s = 0; s < nleg; s++) {
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">", lx,
                ly - 9, seg_colors[s % 8], lx + 14, ly);
        html_escape(f, legend[s]);
        fputs("</text>", f);
        lx += 20 + 7 * (int)strlen(legend[s]);
    }
    fputs("</svg></figure>\n", f);
}

/* ---- the sections ---- */

/* The bench object at `threads` (or NULL). */
static const cJSON *native_bench_at(const cJSON *model, int threads) {
    const cJSON *b;
    cJSON_ArrayForEach(b, jget(jget(model, "native"), "bench")) if ((int)jnum(b, "threads") == threads) return b;
    return NULL;
}

/* onnxruntime-node's bench object at `threads` (or NULL). */
static const cJSON *ort_at(const cJSON *model, int threads) {
    const cJSON *b;
    cJSON_ArrayForEach(b, jget(jget(model, "native"), "ort_node")) if ((int)jnum(b, "threads") == threads) return b;
    return NULL;
}

/* The client result at (throttle, threads, mode) or NULL. */
static const cJSON *client_at(const cJSON *model, double throttle, int threads, const char *mode) {
    const cJSON *c;
    cJSON_ArrayForEach(c, jget(model, "client")) {
        if (fabs(jnum(c, "throttle") - throttle) < 1e-9 && (threads <= 0 || (int)jnum(c, "threads") == threads) &&
            !strcmp(jstr(c, "mode", "worker"), mode))
            return c;
    }
    return NULL;
}

/* The fastest client result (lowest p50) at a throttle, any thread count, worker mode when measured (throttled
 * devices are measured on the main thread: Chromium throttles only that thread). */
static const cJSON *best_row(const cJSON *rows, double throttle) {
    const cJSON *c, *best = NULL;
    for (int any = 0; any < 2 && !best; any++)
        cJSON_ArrayForEach(c, rows) {
            if (fabs(jnum(c, "throttle") - throttle) > 1e-9) continue;
            if (!any && strcmp(jstr(c, "mode", "worker"), "worker")) continue;
            if (!best || jnum(c, "p50_ms") < jnum(best, "p50_ms")) best = c;
        }
    return best;
}
static const cJSON *client_best(const cJSON *model, double throttle) { return best_row(jget(model, "client"), throttle); }

/* A string made safe for a table cell ('|' would split it). */
static void cell_text(char *buf, size_t cap, const char *s) {
    snprintf(buf, cap, "%s", s);
    for (char *c = buf; *c; c++)
        if (*c == '|' || *c == '\n') *c = '/';
}

#define ORT_WEB_DEVICE "this machine's browser, onnxruntime-web"

/* Distinct throttle factors seen in the client results, ascending. */
static int throttles(const cJSON *models, double *t, int max) {
    int n = 0;
    const cJSON *m, *c;
    cJSON_ArrayForEach(m, models) cJSON_ArrayForEach(c, jget(m, "client")) {
        double v = jnum(c, "throttle");
        int seen = 0;
        for (int i = 0; i < n; i++) seen |= fabs(t[i] - v) < 1e-9;
        if (!seen && n < max) t[n++] = v;
    }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
            double x = t[j];
            t[j] = t[j - 1], t[j - 1] = x;
        }
    return n;
}

static void device_name(char *buf, size_t cap, double throttle) {
    if (throttle <= 1) snprintf(buf, cap, "browser, this machine");
    else snprintf(buf, cap, "browser, %gx slower CPU", throttle);
}

/* The same for one client row: a throttled one says how much slower the engine actually ran (its mean against the
 * same page's unthrottled mean just before), and the rate Chromium was asked for when calibration had to raise it
 * (its throttler falls short of the rate asked on a busy machine; scripts/study-browser.mjs). */
static void client_device_name(char *buf, size_t cap, const cJSON *c) {
    double t = jnum(c, "throttle"), eff = jnum(c, "throttle_effective"), asked = jnum(c, "throttle_asked");
    if (t > 1 && eff > 0 && asked > 0 && fabs(asked - t) > 1e-9)
        snprintf(buf, cap, "browser, %gx slower CPU: %.1fx measured (Chromium asked for %.1fx)", t, eff, asked);
    else if (t > 1 && eff > 0) snprintf(buf, cap, "browser, %gx slower CPU asked, %.1fx measured", t, eff);
    else device_name(buf, cap, t);
}

static void section_kanev(rep *r, const cJSON *models, FILE *h) {
    rep_h(r, 2, "Prediction time per platform (Kanev 2023's table)");
    rep_p(r, "Batch-1 steady-state inference, median with [p25-p75] and run count. Kanev found Chrome about 10x "
             "slower than a Colab CPU, and a weak laptop still at 79 predictions/s with ResNet-20.");
    rep_table(r, "model|platform|threads|prediction time|predictions/s|vs native 1 thread");
    bar bars[256];
    int nb = 0;
    double th[STUDY_MAX_LIST];
    int nt = throttles(models, th, STUDY_MAX_LIST);
    const cJSON *m;
    char s1[128], dev[96];
    cJSON_ArrayForEach(m, models) {
        const char *name = jstr(m, "name", "?");
        const cJSON *n1 = native_bench_at(m, 1), *b;
        double base = n1 ? jnum(n1, "p50_ms") : NAN;
        cJSON_ArrayForEach(b, jget(jget(m, "native"), "bench")) {
            double p50 = jnum(b, "p50_ms");
            snprintf(s1, sizeof s1, "%.3g ms [p90 %.3g] n=%d", p50, jnum(b, "p90_ms"), (int)jnum(b, "runs"));
            rep_row(r, NULL, "%s|server CPU (native tandem)|%d|%s|%.0f|%.2fx", name, (int)jnum(b, "threads"), s1,
                    1000.0 / p50, p50 / base);
            snprintf(dev, sizeof dev, "native, %d thread(s)", (int)jnum(b, "threads"));
            csv_row(r, "kanev", name, dev, NULL, "p50_ms", "ms", jget(b, "p50_ms"));
            if (nb < 256) {
                bar *x = &bars[nb++];
                snprintf(x->label, sizeof x->label, "%s native t%d", name, (int)jnum(b, "threads"));
                x->nseg = 1, x->seg[0] = p50;
            }
        }
        for (int t = 0; t < nt; t++) {
            const cJSON *c;
            cJSON_ArrayForEach(c, jget(m, "client")) {
                if (fabs(jnum(c, "throttle") - th[t]) > 1e-9) continue;
                double p50 = jnum(c, "p50_ms");
                client_device_name(dev, sizeof dev, c);
                rep_row(r, NULL, "%s|%s (tandem wasm, %s, %s)|%d|%s|%.0f|%.2fx", name, dev, jstr(c, "build", "?"),
                        jstr(c, "mode", "worker"),
                        (int)jnum(c, "threads"), fmt_stats(s1, sizeof s1, jget(c, "inference_ms"), "ms"), 1000.0 / p50,
                        p50 / base);
                char plat[128];
                snprintf(plat, sizeof plat, "%s, %d thread(s)", dev, (int)jnum(c, "threads"));
                csv_row(r, "kanev", name, plat, NULL, "p50_ms", "ms", jget(c, "inference_ms"));
                if (nb < 256) {
                    bar *x = &bars[nb++];
                    if (th[t] > 1) snprintf(x->label, sizeof x->label, "%s browser %gx t%d", name, th[t], (int)jnum(c, "threads"));
                    else snprintf(x->label, sizeof x->label, "%s browser t%d", name, (int)jnum(c, "threads"));
                    x->nseg = 1, x->seg[0] = p50;
                }
            }
        }
    }
    rep_table_end(r);
    svg_bars(h, "Batch-1 prediction time by platform", "ms", bars, nb, NULL, 0, 1);
}

/* Wang et al.'s headline figures beside ours: averages over the models at 1 thread, their ResNet-50 row against
 * the model of ours whose name holds "resnet50", the largest memory ratio and frame-time change. The browser is
 * divided by native tandem and by onnxruntime-node (the faster native engine, so a slow build flatters nothing). */
static void wang_summary(rep *r, const cJSON *models) {
    double sum_t = 0, sum_o = 0, mem = NAN, gui[2] = {NAN, NAN}; /* worker, main thread */
    int n_t = 0, n_o = 0;
    const cJSON *m, *rn = NULL;
    cJSON_ArrayForEach(m, models) {
        const cJSON *b = native_bench_at(m, 1), *o = ort_at(m, 1), *c = client_at(m, 1, 1, "worker");
        if (strstr(jstr(m, "name", ""), "resnet50")) rn = m;
        if (c && b) sum_t += jnum(c, "p50_ms") / jnum(b, "p50_ms"), n_t++;
        if (c && o) sum_o += jnum(c, "p50_ms") / jnum(o, "p50_ms"), n_o++;
        const cJSON *cc, *q;
        cJSON_ArrayForEach(cc, jget(m, "client")) {
            double h = jnum(cc, "peak_heap_bytes") / jnum(m, "bytes");
            if (!(h <= mem)) mem = h;
        }
        cJSON_ArrayForEach(q, jget(m, "qoe")) {
            double ch = 100.0 * (jnum(jget(q, "busy"), "frame_mean_ms") / jnum(jget(q, "idle"), "frame_mean_ms") - 1);
            int k = strcmp(jstr(q, "mode", "worker"), "worker") != 0;
            if (!(ch <= gui[k])) gui[k] = ch;
        }
    }
    rep_p(r, "Their figures beside ours (1 thread; averages over this study's models):");
    rep_table(r, "figure|Wang et al. 2024|ours against native tandem|ours against onnxruntime-node");
    char a[64], b2[64];
    rep_row(r, NULL, "browser/native latency, average on CPU|16.9x|%s|%s",
            fmt_num(a, sizeof a, n_t ? sum_t / n_t : NAN, "x"), fmt_num(b2, sizeof b2, n_o ? sum_o / n_o : NAN, "x"));
    if (rn) {
        const cJSON *b = native_bench_at(rn, 1), *o = ort_at(rn, 1), *c = client_at(rn, 1, 1, "worker");
        double br = c ? jnum(c, "p50_ms") : NAN;
        char x[96], y[96];
        snprintf(x, sizeof x, "%.4g ms native, %.4g ms browser: %.3gx", b ? jnum(b, "p50_ms") : NAN, br,
                 b ? br / jnum(b, "p50_ms") : NAN);
        snprintf(y, sizeof y, "%.4g ms native, %.4g ms browser: %.3gx", o ? jnum(o, "p50_ms") : NAN, br,
                 o ? br / jnum(o, "p50_ms") : NAN);
        rep_row(r, NULL, "ResNet-50 (%s)|23.4 ms onnxruntime native, 358.1 ms ort-wasm: 15.3x|%s|%s",
                jstr(rn, "name", "?"), x, o ? y : "-");
    } else {
        rep_row(r, NULL, "ResNet-50|23.4 ms onnxruntime native, 358.1 ms ort-wasm: 15.3x|not in this study (--preset wang)|-");
    }
    rep_row(r, NULL, "memory over model size, largest|334.6x|%s (wasm heap)|-", fmt_num(a, sizeof a, mem, "x"));
    snprintf(a, sizeof a, isnan(gui[0]) ? "-" : "%+.1f %%", gui[0]);
    snprintf(b2, sizeof b2, isnan(gui[1]) ? "-" : "%+.1f %%", gui[1]);
    rep_row(r, NULL, "GUI frame time while inferring, largest change|+67.2 %%|%s with the engine in a worker, %s on the "
            "main thread|-", a, b2);
    rep_table_end(r);
}

static void section_wang(rep *r, const cJSON *models) {
    rep_h(r, 2, "In-browser against native (Wang et al. 2024's ratios)");
    rep_p(r, "Wang et al. measured in-browser inference 16.9x slower than native on average, memory up to 334.6x the "
             "model's size, and GUI rendering 67.2%% slower while inference ran. Ours, same engine on both sides, "
             "same machine, same thread count:");
    rep_table(r, "model|threads|browser/native tandem|browser/onnxruntime-node|paper|wasm heap / model size|native peak RSS / model size|paper");
    const cJSON *m;
    cJSON_ArrayForEach(m, models) {
        const char *name = jstr(m, "name", "?");
        double bytes = jnum(m, "bytes");
        const cJSON *b;
        cJSON_ArrayForEach(b, jget(jget(m, "native"), "bench")) {
            int t = (int)jnum(b, "threads");
            const cJSON *c = client_at(m, 1, t, "worker");
            if (!c) continue;
            double ratio = jnum(c, "p50_ms") / jnum(b, "p50_ms");
            double heap = jnum(c, "peak_heap_bytes");
            if (isnan(heap)) heap = jnum(c, "heap_bytes");
            const cJSON *ort = ort_at(m, t);
            double oratio = ort ? jnum(c, "p50_ms") / jnum(ort, "p50_ms") : NAN;
            char os_[32];
            rep_row(r, NULL, "%s|%d|%.2fx|%s|16.9x|%.1fx|%.1fx|334.6x", name, t, ratio,
                    fmt_num(os_, sizeof os_, oratio, "x"), heap / bytes, jnum(b, "peak_rss_bytes") / bytes);
            char plat[32];
            snprintf(plat, sizeof plat, "threads %d", t);
            cJSON *tmp = cJSON_CreateNumber(ratio);
            csv_row(r, "wang", name, plat, NULL, "browser_over_native", "x", tmp);
            cJSON_SetNumberValue(tmp, heap / bytes);
            csv_row(r, "wang", name, plat, NULL, "heap_over_model", "x", tmp);
            if (ort) {
                cJSON_SetNumberValue(tmp, oratio);
                csv_row(r, "wang", name, plat, NULL, "browser_over_ort_node", "x", tmp);
            }
            cJSON_Delete(tmp);
        }
    }
    rep_table_end(r);
    rep_table(r, "model|mode|threads|fps idle|fps inferring|p95 frame idle|p95 frame inferring|frame-time change|frames over 50 ms|paper");
    cJSON_ArrayForEach(m, models) {
        const cJSON *q;
        cJSON_ArrayForEach(q, jget(m, "qoe")) {
            const cJSON *idle = jget(q, "idle"), *busy = jget(q, "busy");
            double fi = jnum(idle, "frame_mean_ms"), fb = jnum(busy, "frame_mean_ms");
            rep_row(r, NULL, "%s|%s|%d|%.1f|%.1f|%.1f ms|%.1f ms|%+.1f%%|%d of %d|+67.2%%", jstr(m, "name", "?"),
                    jstr(q, "mode", "?"), (int)jnum(q, "threads"), jnum(idle, "fps"), jnum(busy, "fps"),
                    jnum(idle, "frame_p95_ms"), jnum(busy, "frame_p95_ms"), 100.0 * (fb / fi - 1),
                    (int)jnum(busy, "long_frames"), (int)jnum(busy, "frames"));
            cJSON *tmp = cJSON_CreateNumber(jnum(busy, "frame_p95_ms"));
            csv_row(r, "wang", jstr(m, "name", "?"), jstr(q, "mode", "?"), NULL, "frame_p95_ms", "ms", tmp);
            cJSON_Delete(tmp);
        }
    }
    rep_table_end(r);
    wang_summary(r, models);
}
/* The time to move bytes at kbps (bits per ms; 0 = no limit). */
static double transfer_ms(double bytes, double kbps) { return kbps > 0 ? bytes * 8.0 / kbps : 0; }

/* The cloud model (study_decide.h) fitted on a model's lowest-RTT emulated measurement. */
static int cloud_fit_of(const cJSON *model, study_cloud_fit *f) {
    const cJSON *c, *lan = NULL;
    cJSON_ArrayForEach(c, jget(model, "cloud")) if (!lan || jnum(c, "rtt_ms") < jnum(lan, "rtt_ms")) lan = c;
    if (!lan) return -1;
    *f = study_cloud_fit_from(jnum(lan, "total_ms"), jnum(lan, "server_ms"), jnum(lan, "rtt_ms"),
                              jnum(lan, "request_bytes"), jnum(lan, "response_bytes"), jnum(lan, "up_kbps"),
                              jnum(lan, "down_kbps"));
    return isnan(f->server) ? -1 : 0;
}

/* One browser row of the phase table and its bar: `label` says the engine ("browser" or "browser onnxruntime-web"). */
static void guo_client_row(rep *r, const char *name, const char *label, const cJSON *c, bar *bars, int *nb) {
    char a[3][96];
    double dl = jnum(c, "fetch_ms"), lp = jnum(c, "compile_ms") + jnum(c, "load_ms");
    double pre = jnum(c, "preprocess_ms"), inf = jnum(c, "inference_ms"), pr = jnum(c, "probability_ms");
    rep_row(r, NULL, "%s|%s, on-device (t%d)|%.3g ms|%.3g ms|%s|%s|%s|-|-|%.3g ms", name, label, (int)jnum(c, "threads"),
            dl, lp, fmt_stats(a[0], 96, jget(c, "preprocess_ms"), "ms"), fmt_stats(a[1], 96, jget(c, "inference_ms"), "ms"),
            fmt_stats(a[2], 96, jget(c, "probability_ms"), "ms"), dl + lp + pre + inf + pr);
    if (*nb >= 256) return;
    bar *x = &bars[(*nb)++];
    snprintf(x->label, sizeof x->label, "%s %s t%d", name, label, (int)jnum(c, "threads"));
    x->nseg = 6;
    double v[6] = {dl, lp, pre, inf, pr, 0};
    memcpy(x->seg, v, sizeof v);
}

/* --baseline ort: the incumbents' rows of the phase table (onnxruntime-node natively: session set-up and the timed
 * runs of bench/ort_bench.mjs; onnxruntime-web in the browser: the same pipeline as tandem's), or why they are
 * missing. */
static void guo_ort_rows(rep *r, const cJSON *m, bar *bars, int *nb) {
    const char *name = jstr(m, "name", "?");
    char why[400], a[96];
    const cJSON *o = ort_at(m, 1);
    if (o) {
        rep_row(r, NULL, "%s|native onnxruntime-node, on-device (t1)|0 (local file)|%.3g ms|-|%s p50|-|-|-|%.3g ms", name,
                jnum(o, "setup_ms"), fmt_num(a, sizeof a, jnum(o, "p50_ms"), "ms"), jnum(o, "setup_ms") + jnum(o, "p50_ms"));
    } else {
        cell_text(why, sizeof why, jstr(jget(m, "native"), "ort_node_error", "not measured"));
        rep_row(r, NULL, "%s|native onnxruntime-node|onnxruntime-node could not run it: %s|-|-|-|-|-|-|-", name, why);
    }
    const cJSON *w = best_row(jget(m, "ort_web"), 1);
    if (w) {
        guo_client_row(r, name, "browser onnxruntime-web", w, bars, nb);
    } else {
        cell_text(why, sizeof why, jstr(m, "ort_web_error", "not measured"));
        rep_row(r, NULL, "%s|browser onnxruntime-web|onnxruntime-web could not run it: %s|-|-|-|-|-|-|-", name, why);
    }
}

static void section_guo(rep *r, const cJSON *models, FILE *h, int base_ort) {
    rep_h(r, 2, "Where the time goes (Guo 2018's breakdown)");
    rep_p(r, "One prediction split into its phases. On-device: model download (loopback here; see the decision "
             "table for real networks), load and plan (wasm compile + model parse + plan), preprocessing (decode, "
             "resize, normalise), inference, probability (softmax + top-5). Cloud: network (upload + download, "
             "under each emulated network) and the server's own split from its Server-Timing header. Guo found "
             "model loading and probability computation to be the on-device bottlenecks.");
    rep_table(r, "model|path|download|load + plan|preprocess|inference|probability|network|server queue|total");
    bar bars[256];
    int nb = 0;
    const cJSON *m;
    char a[5][96];
    cJSON_ArrayForEach(m, models) {
        const char *name = jstr(m, "name", "?");
        const cJSON *ph = jget(jget(m, "native"), "phases");
        if (ph) {
            double lp = jnum(ph, "load_ms") + jnum(ph, "plan_ms");
            rep_row(r, NULL, "%s|native, on-device|0 (local file)|%.3g ms|%s|%s|%s|-|-|%.3g ms", name, lp,
                    fmt_stats(a[0], 96, jget(ph, "preprocess_ms"), "ms"), fmt_stats(a[1], 96, jget(ph, "inference_ms"), "ms"),
                    fmt_stats(a[2], 96, jget(ph, "probability_ms"), "ms"),
                    lp + jnum(ph, "preprocess_ms") + jnum(ph, "inference_ms") + jnum(ph, "probability_ms"));
            if (nb < 256) {
                bar *x = &bars[nb++];
                snprintf(x->label, sizeof x->label, "%s native", name);
                x->nseg = 6;
                double v[6] = {0, lp, jnum(ph, "preprocess_ms"), jnum(ph, "inference_ms"), jnum(ph, "probability_ms"), 0};
                memcpy(x->seg, v, sizeof v);
            }
        }
        const cJSON *c = client_best(m, 1);
        if (c) guo_client_row(r, name, "browser", c, bars, &nb);
        if (base_ort) guo_ort_rows(r, m, bars, &nb);
        const cJSON *cl;
        cJSON_ArrayForEach(cl, jget(m, "cloud")) {
            double net = jnum(cl, "total_ms") - jnum(cl, "server_ms");
            rep_row(r, NULL, "%s|cloud over %s|-|- (loaded at start)|%.3g ms|%.3g ms|%.3g ms|%.3g ms|%.3g ms|%s", name,
                    jstr(cl, "network", "?"), jnum(cl, "server_preprocess_ms"), jnum(cl, "server_infer_ms"),
                    jnum(cl, "server_postprocess_ms"), net, jnum(cl, "server_queue_ms"),
                    fmt_stats(a[3], 96, jget(cl, "total_ms"), "ms"));
            csv_row(r, "guo", name, "cloud", jstr(cl, "network", "?"), "total_ms", "ms", jget(cl, "total_ms"));
            if (nb < 256) {
                bar *x = &bars[nb++];
                snprintf(x->label, sizeof x->label, "%s cloud %s", name, jstr(cl, "network", "?"));
                x->nseg = 6;
                double v[6] = {0, 0, jnum(cl, "server_preprocess_ms"), jnum(cl, "server_infer_ms") + jnum(cl, "server_queue_ms"),
                               jnum(cl, "server_postprocess_ms"), net};
                memcpy(x->seg, v, sizeof v);
            }
        }
    }
    rep_table_end(r);
    static const char *const legend[] = {"model download", "load + plan", "preprocess", "inference (+queue)",
                                         "probability", "network"};
    svg_bars(h, "One prediction, phase by phase", "ms", bars, nb, legend, 6, 0);
}

/* One row per (model, device): the winner on every network, and the RTT below which the cloud answers first. */
static void section_summary(rep *r, const cJSON *decisions) {
    const char *nets[STUDY_MAX_LIST];
    int nn = 0;
    const cJSON *d, *e;
    cJSON_ArrayForEach(d, decisions) {
        const char *n = jstr(d, "network", "?");
        int seen = 0;
        for (int i = 0; i < nn; i++) seen |= !strcmp(nets[i], n);
        if (!seen && nn < STUDY_MAX_LIST) nets[nn++] = n;
    }
    if (!nn) return;
    char head[512] = "model|device";
    for (int i = 0; i < nn; i++) snprintf(head + strlen(head), sizeof head - strlen(head), "|%s", nets[i]);
    snprintf(head + strlen(head), sizeof head - strlen(head), "|cloud answers first below RTT");
    rep_p(r, "In short: the faster placement per network, steady state, and the round-trip time below which the "
             "cloud would answer first at this network's bandwidth (the largest over the networks). The full table "
             "follows.");
    rep_table(r, head);
    const cJSON *prev = NULL;
    cJSON_ArrayForEach(d, decisions) {
        /* the first decision of each (model, device) starts a row */
        int same = prev && !strcmp(jstr(prev, "model", ""), jstr(d, "model", "")) &&
                   !strcmp(jstr(prev, "device", ""), jstr(d, "device", ""));
        prev = d;
        if (same) continue;
        char row[1024];
        snprintf(row, sizeof row, "%s|%s", jstr(d, "model", "?"), jstr(d, "device", "?"));
        double be = 0;
        int cloud_any = 0;
        for (int i = 0; i < nn; i++) {
            char cell[64] = "-";
            for (e = d; e; e = e->next) {
                if (strcmp(jstr(e, "model", ""), jstr(d, "model", "")) || strcmp(jstr(e, "device", ""), jstr(d, "device", "")))
                    break;
                if (strcmp(jstr(e, "network", ""), nets[i])) continue;
                snprintf(cell, sizeof cell, "%s %.2fx", jstr(e, "winner", "?"), jnum(e, "by"));
                cloud_any |= !strcmp(jstr(e, "winner", ""), "cloud");
                double b = jnum(e, "break_even_rtt_ms");
                if (b > be) be = b;
            }
            snprintf(row + strlen(row), sizeof row - strlen(row), "|%s", cell);
        }
        if (be <= 0) snprintf(row + strlen(row), sizeof row - strlen(row), "|never: the device is faster");
        else snprintf(row + strlen(row), sizeof row - strlen(row), "|%.3g ms", be);
        rep_row(r, cloud_any ? "cloud" : "device", "%s", row);
    }
    rep_table_end(r);
}

/* A decision's break-even cells in words: the RTT below which, and the uplink above which, the cloud answers first. */
static void break_even_texts(const study_decision *sd, double rtt, char *rtts, size_t rcap, char *ups, size_t ucap) {
    if (sd->break_even_rtt_ms <= 0) snprintf(rtts, rcap, "none: the device wins even at 0 ms");
    else snprintf(rtts, rcap, "cloud wins below %.3g ms", sd->break_even_rtt_ms);
    if (sd->break_even_up_mbps <= 0) snprintf(ups, ucap, "none at %.3g ms RTT", rtt);
    else snprintf(ups, ucap, "cloud wins above %.3g Mbit/s", sd->break_even_up_mbps);
}

/* A decision's figures into results.json (its "decisions" and "device_decisions" rows). */
static void decision_fields(cJSON *d, double dev, double first, double meas, const study_decision *sd) {
    cJSON_AddNumberToObject(d, "on_device_ms", dev);
    cJSON_AddNumberToObject(d, "first_on_device_ms", first);
    cJSON_AddNumberToObject(d, "cloud_ms", meas);
    cJSON_AddNumberToObject(d, "cloud_model_ms", sd->cloud_model_ms);
    cJSON_AddStringToObject(d, "winner", sd->winner);
    cJSON_AddNumberToObject(d, "by", sd->by);
    cJSON_AddStringToObject(d, "first_winner", sd->first_winner);
    cJSON_AddNumberToObject(d, "first_by", sd->first_by);
    cJSON_AddNumberToObject(d, "break_even_rtt_ms", sd->break_even_rtt_ms);
    cJSON_AddNumberToObject(d, "break_even_up_mbps", sd->break_even_up_mbps);
}

static void section_decision(rep *r, cJSON *results, const cJSON *models) {
    rep_h(r, 2, "The decision: on-device or cloud");
    rep_p(r, "Steady state: a prediction once the model is loaded (on-device: preprocess + inference + probability "
             "in the browser at its fastest thread count; cloud: the measured request under the emulated network). "
             "First prediction: on-device adds downloading the model over that network, compiling and loading it. "
             "Break-even: the round-trip time, and the uplink bandwidth at the network's RTT, at which the cloud "
             "would answer as fast as the device (from the cloud model server + base + RTT + bytes/bandwidth, fitted "
             "on the LAN measurement; the measured and modelled cloud times sit side by side).");
    /* the detailed rows go to memory first: the summary, computed from them, comes before them */
    FILE *md = r->md, *html = r->html;
    char *mdbuf = NULL, *htbuf = NULL;
    size_t mdlen = 0, htlen = 0;
    r->md = open_memstream(&mdbuf, &mdlen);
    r->html = open_memstream(&htbuf, &htlen);
    if (!r->md || !r->html) {
        if (r->md) fclose(r->md);
        if (r->html) fclose(r->html);
        r->md = md, r->html = html;
        return;
    }
    rep_table(r, "model|device|network|on-device|cloud measured|cloud model|steady-state winner|first prediction winner|break-even RTT|break-even uplink");
    cJSON_DeleteItemFromObjectCaseSensitive(results, "decisions"); /* recomputed when a report is rebuilt */
    cJSON *dec = cJSON_AddArrayToObject(results, "decisions");
    double th[STUDY_MAX_LIST];
    int nt = throttles(models, th, STUDY_MAX_LIST);
    const cJSON *m;
    const char *endpoint = jstr(jget(results, "remote_cloud"), "endpoint", "?");
    cJSON_ArrayForEach(m, models) {
        study_cloud_fit fit;
        const cJSON *rem = jget(m, "remote_cloud");
        int have_fit = cloud_fit_of(m, &fit) == 0, have_rem = rem && jget(rem, "total_ms");
        if (!have_fit && !have_rem) continue;
        const char *name = jstr(m, "name", "?");
        /* --baseline ort: onnxruntime-web on this machine's browser as one more device (t == nt), against a cloud
         * whose server runs onnxruntime-node: the measured request with tandem's native inference time swapped for
         * onnxruntime-node's at 1 thread (both measured here), so both placements run the incumbents */
        const cJSON *ort1 = ort_at(m, 1), *tdm1 = native_bench_at(m, 1);
        double ort_delta = ort1 && tdm1 ? jnum(ort1, "p50_ms") - jnum(tdm1, "p50_ms") : 0;
        if (jget(m, "ort_web_error")) {
            char why[400];
            cell_text(why, sizeof why, jstr(m, "ort_web_error", "?"));
            rep_row(r, NULL, "%s|%s|-|onnxruntime-web could not run it: %s|-|-|-|-|-|-", name, ORT_WEB_DEVICE, why);
        }
        for (int t = 0; t <= nt; t++) {
            const cJSON *c = t < nt ? client_best(m, th[t]) : best_row(jget(m, "ort_web"), 1);
            if (!c) continue;
            double thr = t < nt ? th[t] : 1, delta = t < nt ? 0 : ort_delta;
            double dev = jnum(c, "preprocess_ms") + jnum(c, "inference_ms") + jnum(c, "probability_ms");
            double setup = jnum(c, "compile_ms") + jnum(c, "load_ms") + jnum(c, "first_run_ms") - jnum(c, "inference_ms");
            char dn[96];
            if (t < nt) device_name(dn, sizeof dn, th[t]);
            else snprintf(dn, sizeof dn, "%s", ORT_WEB_DEVICE);
            study_cloud_fit efit = fit; /* the cloud this device is compared with */
            efit.server += delta;
            if (have_rem) { /* the user's own cloud, measured over the real network: no model, no break-even */
                double meas = jnum(rem, "total_ms");
                double first_dev = jnum(c, "fetch_ms") + setup + dev;
                const char *win = dev <= meas ? "on-device" : "cloud", *fwin = first_dev <= meas ? "on-device" : "cloud";
                double by = dev <= meas ? meas / dev : dev / meas, fby = first_dev <= meas ? meas / first_dev : first_dev / meas;
                char net[160], mstr[96];
                snprintf(net, sizeof net, "your cloud %s (real network)", endpoint);
                rep_row(r, !strcmp(win, "cloud") ? "cloud" : "device", "%s|%s|%s|%.3g ms|%s|-|%s by %.2fx|%s by %.2fx|-|-",
                        name, dn, net, dev, fmt_stats(mstr, sizeof mstr, jget(rem, "total_ms"), "ms"), win, by, fwin, fby);
                cJSON *d = cJSON_CreateObject();
                cJSON_AddStringToObject(d, "model", name);
                cJSON_AddStringToObject(d, "device", dn);
                cJSON_AddNumberToObject(d, "throttle", thr);
                cJSON_AddStringToObject(d, "network", "your cloud");
                cJSON_AddStringToObject(d, "endpoint", endpoint);
                cJSON_AddNumberToObject(d, "on_device_ms", dev);
                cJSON_AddNumberToObject(d, "first_on_device_ms", first_dev);
                cJSON_AddNumberToObject(d, "cloud_ms", meas);
                cJSON_AddStringToObject(d, "winner", win);
                cJSON_AddNumberToObject(d, "by", by);
                cJSON_AddStringToObject(d, "first_winner", fwin);
                cJSON_AddItemToArray(dec, d);
            }
            const cJSON *cl, *emulated = have_fit ? jget(m, "cloud") : NULL;
            cJSON_ArrayForEach(cl, emulated) {
                double rtt = jnum(cl, "rtt_ms"), up = jnum(cl, "up_kbps"), down = jnum(cl, "down_kbps");
                double meas = jnum(cl, "total_ms") + delta;
                double dl = rtt + transfer_ms(jnum(m, "bytes"), down);
                double first_dev = dl + setup + dev;
                study_decision sd = study_decide(dev, first_dev, meas, &efit, rtt, up, down);
                const char *win = sd.winner, *fwin = sd.first_winner;
                double by = sd.by, fby = sd.first_by, model = sd.cloud_model_ms;
                char rtts[64], ups[64];
                break_even_texts(&sd, rtt, rtts, sizeof rtts, ups, sizeof ups);
                char mstr[160];
                fmt_stats(mstr, sizeof mstr, jget(cl, "total_ms"), "ms");
                if (t == nt && ort1 && tdm1) /* the ort pair's cloud: measured, inference swapped (derived) */
                    snprintf(mstr, sizeof mstr, "%.3g ms (onnxruntime-node server: %+.3g ms)", meas, delta);
                rep_row(r, !strcmp(win, "cloud") ? "cloud" : "device",
                        "%s|%s|%s|%.3g ms|%s|%.3g ms|%s by %.2fx|%s by %.2fx|%s|%s", name, dn, jstr(cl, "network", "?"),
                        dev, mstr, model, win, by, fwin, fby, rtts, ups);
                cJSON *d = cJSON_CreateObject();
                cJSON_AddStringToObject(d, "model", name);
                cJSON_AddStringToObject(d, "device", dn);
                cJSON_AddNumberToObject(d, "throttle", thr);
                cJSON_AddStringToObject(d, "network", jstr(cl, "network", "?"));
                cJSON_AddStringToObject(d, "engines", t < nt ? "tandem" : ort1 && tdm1 ? "onnxruntime" : "onnxruntime-web");
                decision_fields(d, dev, first_dev, meas, &sd);
                cJSON_AddItemToArray(dec, d);
                cJSON *tmp = cJSON_CreateNumber(dev);
                csv_row(r, "decision", name, dn, jstr(cl, "network", "?"), "on_device_ms", "ms", tmp);
                cJSON_SetNumberValue(tmp, meas);
                csv_row(r, "decision", name, dn, jstr(cl, "network", "?"), "cloud_ms", "ms", tmp);
                cJSON_Delete(tmp);
            }
        }
    }
    rep_table_end(r);
    fclose(r->md);
    fclose(r->html);
    r->md = md, r->html = html;
    section_summary(r, dec);
    fwrite(mdbuf, 1, mdlen, md);
    fputs("<details><summary>Every model, device and network, with the break-even bandwidth</summary>\n", html);
    fwrite(htbuf, 1, htlen, html);
    fputs("</details>\n", html);
    free(mdbuf);
    free(htbuf);
}

static void section_agreement(rep *r, const cJSON *models) {
    rep_h(r, 2, "Do the browser and the server agree?");
    rep_p(r, "Top-1 class of the same images (decoded by the browser's canvas on the client path, by stb_image on "
             "the native and cloud paths) against native tandem's.");
    rep_table(r, "model|path|images|top-1 equal to native|share");
    const cJSON *m;
    cJSON_ArrayForEach(m, models) {
        const cJSON *nat = jget(jget(jget(m, "native"), "phases"), "top1");
        int n = cJSON_GetArraySize(nat);
        const cJSON *src[3] = {client_best(m, 1), NULL, jget(m, "remote_cloud")};
        const cJSON *cl;
        cJSON_ArrayForEach(cl, jget(m, "cloud")) { src[1] = cl; break; }
        char cname[96];
        snprintf(cname, sizeof cname, "cloud (tandem serve, /%s)", jstr(jget(m, "io"), "cloud_path", "classify"));
        const char *names[3] = {"browser (wasm)", cname, "your cloud (KServe v2 /infer)"};
        for (int k = 0; k < 3; k++) {
            const cJSON *t = jget(src[k], "top1");
            int cnt = cJSON_GetArraySize(t), eq = 0, tot = cnt < n ? cnt : n;
            if (!t) continue;
            for (int i = 0; i < tot; i++) eq += cJSON_GetArrayItem(t, i)->valueint == cJSON_GetArrayItem(nat, i)->valueint;
            rep_row(r, eq == tot ? NULL : "cloud", "%s|%s|%d|%d|%.1f%%", jstr(m, "name", "?"), names[k], tot, eq,
                    tot ? 100.0 * eq / tot : 0);
        }
    }
    rep_table_end(r);
}

static void section_cost(rep *r, const cJSON *models) {
    rep_h(r, 2, "Memory, set-up and energy");
    rep_table(r, "model|model file|native set-up (load + plan)|browser set-up (fetch + compile + load)|native peak RSS|wasm heap|CPU-seconds per inference|energy per inference");
    const cJSON *m;
    cJSON_ArrayForEach(m, models) {
        const cJSON *ph = jget(jget(m, "native"), "phases"), *b = native_bench_at(m, 1), *c = client_at(m, 1, 1, "worker");
        if (!c) c = client_best(m, 1);
        const cJSON *e = jget(ph, "energy_j_per_inference");
        char en[96];
        if (e) snprintf(en, sizeof en, "%.3g J", e->valuedouble);
        else snprintf(en, sizeof en, "%s", jstr(ph, "energy", "not measured"));
        char f1[48], f2[48], f3[48];
        rep_row(r, NULL, "%s|%.0f kB|%.3g ms|%s|%s|%s|%.3g|%s", jstr(m, "name", "?"), jnum(m, "bytes") / 1e3,
                jnum(ph, "load_ms") + jnum(ph, "plan_ms"), fmt_num(f1, sizeof f1, c ? jnum(c, "setup_ms") : NAN, "ms"),
                fmt_num(f2, sizeof f2, b ? jnum(b, "peak_rss_bytes") / 1e6 : NAN, "MB"),
                fmt_num(f3, sizeof f3, c ? jnum(c, "peak_heap_bytes") / 1e6 : NAN, "MB"),
                jnum(ph, "cpu_s_per_inference"), en);
    }
    rep_table_end(r);
}

/* What each model was fed and which cloud path it took; the models the engine could not run, with its message. */
static void section_inputs(rep *r, const cJSON *all) {
    rep_h(r, 2, "The models and what they were fed");
    rep_table(r, "model|inputs|fed with|cloud path");
    const cJSON *m, *in;
    int failed = 0;
    cJSON_ArrayForEach(m, all) {
        if (jget(m, "error")) {
            failed++;
            continue;
        }
        const cJSON *io = jget(m, "io");
        char shapes[512] = "", fed[1024];
        cJSON_ArrayForEach(in, jget(io, "inputs")) {
            size_t l = strlen(shapes);
            snprintf(shapes + l, sizeof shapes - l, "%s%s %s [", l ? ", " : "", jstr(in, "name", "?"), jstr(in, "dtype", "?"));
            const cJSON *d;
            int k = 0;
            cJSON_ArrayForEach(d, jget(in, "dims")) {
                l = strlen(shapes);
                snprintf(shapes + l, sizeof shapes - l, "%s%.0f", k++ ? "x" : "", d->valuedouble);
            }
            l = strlen(shapes);
            snprintf(shapes + l, sizeof shapes - l, "]");
            if (jnum(in, "index_limit") > 0) {
                l = strlen(shapes);
                snprintf(shapes + l, sizeof shapes - l, " ids < %.0f", jnum(in, "index_limit"));
            }
        }
        if (!strcmp(jstr(io, "kind", ""), "image"))
            snprintf(fed, sizeof fed, "images at %.0fx%.0f, %s, mean/std from %s", jnum(io, "h"), jnum(io, "w"),
                     jstr(io, "layout", "?"), jstr(io, "norm_source", "?"));
        else snprintf(fed, sizeof fed, "tensors: %s", jstr(io, "tensor_source", "?"));
        const char *cp = jstr(io, "cloud_path", "infer");
        rep_row(r, NULL, "%s|%s|%s|%s", jstr(m, "name", "?"), shapes, fed,
                !strcmp(cp, "classify") ? "image to /classify" : "tensors to KServe v2 /infer (binary)");
    }
    rep_table_end(r);
    if (!failed) return;
    rep_p(r, "Models the engine could not run (left out of every measurement; the rest of the study went on):");
    rep_table(r, "model|the engine's message");
    cJSON_ArrayForEach(m, all) {
        if (!jget(m, "error")) continue;
        char msg[768];
        snprintf(msg, sizeof msg, "%s", jstr(m, "error", "?"));
        for (char *c = msg; *c; c++)
            if (*c == '|') *c = '/';
        rep_row(r, "cloud", "%s|%s", jstr(m, "name", "?"), msg);
    }
    rep_table_end(r);
}

/* --cloud URL: what the server says about itself, and each model's requests over the real network. */
static void section_remote(rep *r, const cJSON *results, const cJSON *models) {
    const cJSON *rc = jget(results, "remote_cloud");
    if (!rc) return;
    rep_h(r, 2, "Your cloud: a KServe v2 endpoint");
    const cJSON *srv = jget(rc, "server");
    const cJSON *ext = jget(srv, "extensions");
    char exts[512] = "";
    const cJSON *e;
    cJSON_ArrayForEach(e, ext) if (cJSON_IsString(e)) {
        size_t l = strlen(exts);
        snprintf(exts + l, sizeof exts - l, "%s%s", l ? ", " : "", e->valuestring);
    }
    if (jget(rc, "error")) {
        rep_p(r, "Endpoint %s: %s. The local paths above still report.", jstr(rc, "endpoint", "?"), jstr(rc, "error", "?"));
        return;
    }
    rep_p(r, "Endpoint %s; GET /v2 says: name %s, version %s, extensions: %s. Requests went from this machine over "
             "the real network (no emulation): POST /v2/models/<name>/infer with binary tensors, split on the client "
             "into connect (one TCP handshake, about one RTT), upload, wait for the first byte and download; the "
             "server's part comes from its Server-Timing header where it sends one.",
          jstr(rc, "endpoint", "?"), jstr(srv, "name", "?"), jstr(srv, "version", "?"), exts[0] ? exts : "none");
    rep_table(r, "model|server's metadata|requests (errors)|total|connect|upload|wait|download|server (Server-Timing)");
    const cJSON *m;
    char a[6][96];
    cJSON_ArrayForEach(m, models) {
        const cJSON *row = jget(m, "remote_cloud");
        if (!row) continue;
        const cJSON *meta = jget(row, "metadata");
        char md[256];
        snprintf(md, sizeof md, "%s, platform %s", jstr(meta, "name", "-"), jstr(meta, "platform", "-"));
        if (!meta) snprintf(md, sizeof md, "%s", jstr(row, "error", "-"));
        const char *st = jget(row, "server_ms") ? fmt_stats(a[5], 96, jget(row, "server_ms"), "ms")
                                                : "not sent: client-side split only";
        rep_row(r, jget(row, "error") ? "cloud" : NULL, "%s|%s|%d (%d)|%s|%s|%s|%s|%s|%s", jstr(m, "name", "?"), md,
                (int)jnum(row, "requests"), (int)jnum(row, "errors"), fmt_stats(a[0], 96, jget(row, "total_ms"), "ms"),
                fmt_stats(a[1], 96, jget(row, "connect_ms"), "ms"), fmt_stats(a[2], 96, jget(row, "upload_ms"), "ms"),
                fmt_stats(a[3], 96, jget(row, "wait_ms"), "ms"), fmt_stats(a[4], 96, jget(row, "download_ms"), "ms"), st);
        csv_row(r, "remote_cloud", jstr(m, "name", "?"), jstr(rc, "endpoint", "?"), NULL, "total_ms", "ms",
                jget(row, "total_ms"));
    }
    rep_table_end(r);
}

/* The device's label, else its user agent, made safe for a table cell. */
static void device_label(char *buf, size_t cap, const cJSON *dev) {
    const char *label = jstr(dev, "label", NULL);
    cell_text(buf, cap, label ? label : jstr(dev, "user_agent", "?"));
}

/* Real devices on real networks: one row per tandem.verdict/1 document (docs/RESULTS.md), the page's device run
 * measuring the cloud path from that device. The decision is computed again here from the document's
 * decision_inputs with study_decide (the page computed it with web/decision.mjs); results.json's device_decisions
 * keeps both answers. */
static void section_devices(rep *r, cJSON *results) {
    const cJSON *docs = jget(results, "devices");
    cJSON_DeleteItemFromObjectCaseSensitive(results, "device_decisions");
    if (cJSON_GetArraySize(docs) == 0) return;
    rep_h(r, 2, "Real devices on real networks (the page's device run)");
    rep_p(r, "Each row is a device that ran \"Run the standard study on this device\" on the page: its own on-device "
             "time (tandem-wasm, fastest configuration) against the cloud path measured from that device over its "
             "network to the server that served the page, with the same input. RTT: the median of small requests "
             "to /v2/health/ready. Connect, wait and download come from the browser's Resource Timing, server from "
             "the Server-Timing header; upload is derived (wait - server - RTT). Steady state compares a "
             "prediction once loaded; first prediction adds the device's measured set-up (model download, compile, "
             "load) and first run. Break-even figures use the cloud model of the decision table, fitted on this "
             "device's own request. The emulated rows above come from this machine's Chromium.");
    rep_table(r, "device|model|RTT (measured)|cloud path|connect|upload (derived)|server|download|cloud total|"
                 "on-device steady|on-device first|steady-state winner|first prediction winner|break-even RTT|"
                 "break-even uplink");
    cJSON *out = cJSON_AddArrayToObject(results, "device_decisions");
    int disagree = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, docs) {
        const cJSON *di = jget(d, "decision_inputs"), *cl = jget(d, "cloud"), *v = jget(d, "verdict");
        double dev = jnum(di, "on_device_ms"), first = jnum(di, "first_on_device_ms"), meas = jnum(di, "cloud_ms");
        double rtt = jnum(di, "rtt_ms"), up = jnum(di, "up_kbps"), down = jnum(di, "down_kbps");
        char who[160], s[6][96];
        device_label(who, sizeof who, jget(d, "device"));
        const char *model = jstr(jget(d, "model"), "name", "?");
        if (!(dev > 0) || !(meas > 0) || isnan(rtt)) {
            rep_row(r, NULL, "%s|%s|-|%s|-|-|-|-|-|-|-|not decided: %s|-|-|-", who, model, jstr(cl, "path", "?"),
                    jstr(v, "error", "incomplete figures"));
            continue;
        }
        study_cloud_fit fit = study_cloud_fit_from(jnum(di, "total_ms"), jnum(di, "server_ms"), rtt,
                                                   jnum(di, "request_bytes"), jnum(di, "response_bytes"), up, down);
        study_decision sd = study_decide(dev, first, meas, &fit, rtt, up, down);
        char rtts[64], ups[64];
        break_even_texts(&sd, rtt, rtts, sizeof rtts, ups, sizeof ups);
        int agrees = !strcmp(jstr(v, "winner", ""), sd.winner) && !strcmp(jstr(v, "first_winner", ""), sd.first_winner);
        disagree += !agrees;
        rep_row(r, !strcmp(sd.winner, "cloud") ? "cloud" : "device",
                "%s|%s|%s|%s|%s|%s|%s|%s|%s|%.3g ms|%.3g ms|%s by %.2fx|%s by %.2fx|%s|%s", who, model,
                fmt_stats(s[0], sizeof s[0], jget(jget(d, "network"), "rtt_ms"), "ms"), jstr(cl, "path", "?"),
                fmt_stats(s[1], sizeof s[1], jget(cl, "connect_ms"), "ms"),
                fmt_stats(s[2], sizeof s[2], jget(cl, "upload_ms"), "ms"),
                jget(cl, "server_ms") ? fmt_stats(s[3], sizeof s[3], jget(cl, "server_ms"), "ms") : "no Server-Timing",
                fmt_stats(s[4], sizeof s[4], jget(cl, "download_ms"), "ms"),
                fmt_stats(s[5], sizeof s[5], jget(cl, "total_ms"), "ms"), dev, first, sd.winner, sd.by, sd.first_winner,
                sd.first_by, rtts, ups);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "device", who);
        cJSON_AddStringToObject(o, "model", model);
        cJSON_AddNumberToObject(o, "rtt_ms", rtt);
        decision_fields(o, dev, first, meas, &sd);
        cJSON_AddItemToObject(o, "page_verdict", cJSON_Duplicate(v, 1));
        cJSON_AddBoolToObject(o, "agrees", agrees);
        cJSON_AddItemToArray(out, o);
    }
    rep_table_end(r);
    if (disagree)
        rep_p(r, "%d row(s) where the page's own verdict differs from this recomputation: web/decision.mjs and "
                 "src/study/study_decide.c have drifted apart.", disagree);
}

/* One row per tandem.result/1 document that devices sent (its fields: docs/RESULTS.md). */
static void section_crowd(rep *r, const cJSON *crowd) {
    if (cJSON_GetArraySize(crowd) == 0) return;
    rep_h(r, 2, "Devices that reported (crowd mode)");
    rep_p(r, "Results that devices on the network sent to the server's store (the page's \"Run the standard study "
             "on this device\" button, or its \"Send to server\").");
    rep_table(r, "device|model|engine|build|threads|mode|set-up|first run|p50 [p90] runs|predictions/s|frame p95");
    const cJSON *d;
    cJSON_ArrayForEach(d, crowd) {
        const cJSON *dev = jget(d, "device"), *f = jget(d, "figures");
        char ua[160];
        device_label(ua, sizeof ua, dev);
        rep_row(r, NULL, "%s|%s|%s|%s|%d|%s|%.3g ms|%.3g ms|%.3g ms [%.3g] n=%d|%.0f|%.3g ms", ua,
                jstr(jget(d, "model"), "name", "?"), jstr(d, "engine", "?"), jstr(d, "build", "-"), (int)jnum(d, "threads"),
                jstr(d, "mode", "-"), jnum(f, "setup_ms"), jnum(f, "first_run_ms"), jnum(f, "p50_ms"), jnum(f, "p90_ms"),
                (int)jnum(d, "runs"), jnum(f, "throughput_ips"), jnum(f, "frame_p95_ms"));
    }
    rep_table_end(r);
}

int study_write_report(cJSON *results, const char *dir, char *err, size_t errlen) {
    char path[3][4096];
    snprintf(path[0], sizeof path[0], "%s/report.md", dir);
    snprintf(path[1], sizeof path[1], "%s/report.html", dir);
    snprintf(path[2], sizeof path[2], "%s/results.csv", dir);
    rep r = {fopen(path[0], "w"), fopen(path[1], "w"), fopen(path[2], "w"), 0};
    if (!r.md || !r.html || !r.csv) {
        if (r.md) fclose(r.md);
        if (r.html) fclose(r.html);
        if (r.csv) fclose(r.csv);
        return err_set(err, errlen, "study: cannot write the report into %s", dir);
    }
    const cJSON *all = jget(results, "models"), *mach = jget(results, "machine"), *bd = jget(results, "browser_device");
    cJSON *models = cJSON_CreateArray(); /* the models the engine ran (references into results) */
    const cJSON *mm;
    cJSON_ArrayForEach(mm, all) if (!jget(mm, "error")) cJSON_AddItemReferenceToArray(models, (cJSON *)mm);
    fputs("section,model,platform,network,metric,unit,median,p25,p75,n\n", r.csv);
    fputs("<!doctype html><html><head><meta charset=\"utf-8\"><title>tandem study</title><style>"
          "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
          "table{border-collapse:collapse;margin:1em 0;font-size:13px}th,td{border:1px solid #ccc;padding:4px 8px;"
          "text-align:left}th{background:#f2f2f2}tr.cloud td{background:#eef4ff}tr.device td{background:#f1faf0}"
          "h1{margin-bottom:0}figure{margin:1em 0}summary{cursor:pointer;color:#2456a6;margin:.5em 0}</style></head><body>\n",
          r.html);
    fputs("# tandem study: on-device or cloud?\n", r.md);
    fputs("<h1>tandem study: on-device or cloud?</h1>\n", r.html);
    rep_p(&r, "Created %s on %s (%s, %d CPUs, kernels %s); %s; took %.0f s. Browser: %s.", jstr(results, "created", "?"),
          jstr(mach, "host", "?"), jstr(mach, "cpu", "?"), (int)jnum(mach, "cpus"), jstr(mach, "kernel_isa", "?"),
          jstr(results, "images_source", "images: -"), jnum(results, "duration_s"), jstr(bd, "user_agent", "not run"));
    rep_p(&r, "Preset: %s.", jstr(results, "preset", "kanev"));
    section_decision(&r, results, models);
    section_devices(&r, results);
    section_inputs(&r, all);
    section_remote(&r, results, models);
    section_kanev(&r, models, r.html);
    section_wang(&r, models);
    section_guo(&r, models, r.html, !strcmp(jstr(results, "baseline", ""), "ort"));
    section_agreement(&r, models);
    section_cost(&r, models);
    section_crowd(&r, jget(results, "crowd"));
    fputs("\nThe figures behind every table are in results.json and results.csv.\n", r.md);
    fputs("<p>The figures behind every table are in results.json and results.csv.</p></body></html>\n", r.html);
    cJSON_Delete(models);
    int bad = ferror(r.md) || ferror(r.html) || ferror(r.csv);
    bad |= fclose(r.md) | fclose(r.html) | fclose(r.csv);
    return bad ? err_set(err, errlen, "study: cannot write the report into %s", dir) : 0;
}
