/* cmd_study.c - `tandem study`: the options of a study into a study_plan, then src/study measures and writes the
 * report (study_run), or rebuilds it from stored results (study_report_from). Prints the output folder as JSON. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../study/study.h"

static int parse_int_list(const char *opt, const char *s, int *v, int max, int lo, int hi) {
    int n = 0;
    while (*s) {
        char *end;
        long x = strtol(s, &end, 10);
        if (end == s || x < lo || x > hi || n == max || (*end && *end != ',')) {
            cli_usage_error("--%s wants up to %d comma-separated integers in [%d, %d]", opt, max, lo, hi);
            return -1;
        }
        v[n++] = (int)x;
        s = *end ? end + 1 : end;
    }
    return n;
}

int cmd_study(int argc, char **argv) {
    static study_plan plan;
    study_plan *p = &plan;
    study_plan_defaults(p);
    const char *models = STUDY_DEFAULT_MODELS;
    const char *report_src = NULL, *networks = STUDY_DEFAULT_NETWORKS;
    int quick = 0;
    int thr_int[STUDY_MAX_LIST] = {1, 2, 4, 6};

    cli_args a;
    const char *opt, *pos, *v;
    int64_t n64;
    cli_args_init(&a, argc, argv);
    while (cli_next_arg(&a, &opt, &pos)) {
        if (!opt) return cli_usage_error("study: unexpected argument '%s'", pos);
        if (!strcmp(opt, "quick")) {
            if (!cli_opt_flag(&a, opt)) return CLI_USAGE;
            quick = 1;
            continue;
        }
        if (!strcmp(opt, "no-browser") || !strcmp(opt, "no-cloud")) {
            if (!cli_opt_flag(&a, opt)) return CLI_USAGE;
            if (opt[3] == 'b') p->browser = 0;
            else p->cloud = 0;
            continue;
        }
        if (!(v = cli_opt_value(&a, opt))) return CLI_USAGE;
        if (!strcmp(opt, "models")) models = v;
        else if (!strcmp(opt, "out")) p->out_dir = v;
        else if (!strcmp(opt, "shared")) p->shared_dir = v;
        else if (!strcmp(opt, "networks")) networks = v;
        else if (!strcmp(opt, "report-from")) report_src = v;
        else if (!strcmp(opt, "post")) p->post_url = v;
        else if (!strcmp(opt, "threads")) {
            if ((p->n_threads = parse_int_list(opt, v, p->threads, STUDY_MAX_LIST, 1, 64)) < 0) return CLI_USAGE;
        } else if (!strcmp(opt, "throttle")) {
            if ((p->n_throttle = parse_int_list(opt, v, thr_int, STUDY_MAX_LIST, 1, 20)) < 0) return CLI_USAGE;
        } else if (!strcmp(opt, "runs")) {
            if (!cli_parse_int(opt, v, 3, 100000, &n64)) return CLI_USAGE;
            p->runs = (int)n64;
        } else if (!strcmp(opt, "images")) {
            if (!cli_parse_int(opt, v, 1, 10000, &n64)) return CLI_USAGE;
            p->images = (int)n64;
        } else return cli_usage_error("study: unknown option --%s", opt);
    }
    char err[1024];
    if (report_src) {
        if (study_report_from(report_src, p->out_dir, err, sizeof err)) return cli_error("%s", err);
        printf("{\"out\": \"%s\", \"report\": \"%s/report.html\"}\n", p->out_dir, p->out_dir);
        return CLI_OK;
    }
    if (quick) { /* the test's reduced study: small and fast, every path still exercised */
        p->runs = p->runs < 10 ? p->runs : 10;
        p->images = p->images < 5 ? p->images : 5;
    }
    for (int i = 0; i < p->n_throttle; i++) p->throttle[i] = thr_int[i];
    if (study_plan_networks(p, networks, err, sizeof err) || study_plan_models(p, models, err, sizeof err)) {
        study_plan_free(p);
        return cli_usage_error("%s", err);
    }
    int rc = study_run(p, err, sizeof err) ? cli_error("%s", err) : CLI_OK;
    study_plan_free(p);
    if (rc == CLI_OK) printf("{\"out\": \"%s\", \"report\": \"%s/report.html\"}\n", p->out_dir, p->out_dir);
    return rc;
}
