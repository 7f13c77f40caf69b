/* test_conformance.c - runs the official ONNX backend node tests (Debian's libonnx-testdata) through the engine.
 *
 *   build/test_conformance [--dir DIR] [--filter SUBSTR] [--threads N] [--xfail FILE] [--cli TANDEM] [-v]
 *
 * With --cli, every data set goes through the command line instead of the API: `TANDEM run model.onnx --input
 * input_0.pb ... --output-dir TMP --threads N`, and the output files are compared the same way; this is what a user of
 * `tandem run` gets (inputs that decide shapes must reach the engine before it plans).
 *
 * Each test folder holds model.onnx and test_data_set_N/{input,output}_K.pb. A test whose model uses an op that the
 * engine does not implement is counted as "not implemented" and listed by op, never silently dropped. Every other test
 * must pass, or be listed in tests/conformance_xfail.txt with a reason; a listed test that passes is an error too
 * (the list must stay honest). Each test runs in a child process so that a crash is reported, not fatal.
 * Prints `conformance: N passed, M failed` and exits nonzero on any unexpected result. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define RTOL 1e-3 /* the ONNX backend test default */
#define ATOL 1e-5

enum { R_PASS = 0, R_FAIL = 1, R_NOTIMPL = 2 };

typedef struct xfail {
    char name[256];
    char reason[512];
    int seen;
} xfail;

static int verbose;
static const char *cli_tandem; /* --cli: the tandem binary to run each data set through */

/* One data set through `tandem run`; 0 and *why empty when every output matches. */
static int run_cli_set(const char *model, const char *sdir, int nin, int nout, int threads, char *why, size_t why_len) {
    char tmp[] = "/tmp/tdm-conf-XXXXXX", cmd[16384], path[4096];
    if (!mkdtemp(tmp)) {
        snprintf(why, why_len, "mkdtemp failed");
        return R_FAIL;
    }
    int len = snprintf(cmd, sizeof cmd, "'%s' run '%s'", cli_tandem, model);
    for (int i = 0; i < nin && len < (int)sizeof cmd; i++)
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, " --input '%s/input_%d.pb'", sdir, i);
    if (len < (int)sizeof cmd)
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, " --output-dir '%s' --threads %d >/dev/null 2>'%s/err'",
                        tmp, threads, tmp);
    int result = R_PASS;
    if (len >= (int)sizeof cmd) {
        snprintf(why, why_len, "command line too long");
        result = R_FAIL;
    } else if (system(cmd) != 0) {
        snprintf(path, sizeof path, "%s/err", tmp);
        FILE *f = fopen(path, "r");
        char msg[512] = "";
        if (f) {
            size_t k = fread(msg, 1, sizeof msg - 1, f);
            msg[k] = 0;
            msg[strcspn(msg, "\n")] = 0;
            fclose(f);
        }
        snprintf(why, why_len, "tandem run failed: %s", msg);
        result = R_FAIL;
    }
    for (int o = 0; o < nout && result == R_PASS; o++) {
        char wpath[4096];
        snprintf(wpath, sizeof wpath, "%s/output_%d.pb", sdir, o);
        if (!tu_exists(wpath)) break;
        snprintf(path, sizeof path, "%s/output_%d.pb", tmp, o);
        tdm_tensor *want = NULL, *got = NULL;
        if (tdm_tensor_read_file(wpath, &want) || tdm_tensor_read_file(path, &got)) {
            snprintf(why, why_len, "output %d: %s", o, tdm_last_error());
            result = R_FAIL;
        } else {
            tdm_tensor_info gi = {.name = got->name, .dtype = got->dtype, .rank = got->rank};
            memcpy(gi.dims, got->dims, sizeof gi.dims);
            char w2[400];
            if (!tu_compare(&gi, got->data, want, RTOL, ATOL, w2, sizeof w2)) {
                snprintf(why, why_len, "output %d (through tandem run): %s", o, w2);
                result = R_FAIL;
            }
        }
        tdm_tensor_free(want);
        tdm_tensor_free(got);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) result = R_FAIL;
    return result;
}

/* Run one test; on failure write the reason (or the missing op for R_NOTIMPL) into why. */
static int run_test(const char *dir, int threads, char *why, size_t why_len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    tdm_model *m = NULL;
    tdm_status st = tdm_model_load_file(path, NULL, &m);
    if (st) {
        const char *msg = tdm_last_error();
        const char *p = strstr(msg, "is not supported by tandem");
        if (st == TDM_UNSUPPORTED && p) { /* "... op 'X' is not supported by tandem" */
            const char *q = strstr(msg, ": op '");
            snprintf(why, why_len, "%s", q ? q + 6 : msg);
            char *end = strchr(why, '\'');
            if (end) *end = 0;
            return R_NOTIMPL;
        }
        snprintf(why, why_len, "load: %s: %s", tdm_status_name(st), msg);
        return R_FAIL;
    }
    int nsets;
    char **sets = tu_list(dir, "test_data_set_", &nsets);
    int result = R_PASS;
    tdm_session_options so = {.threads = threads};
    for (int k = 0; k < nsets && result == R_PASS && cli_tandem; k++) {
        char sdir[4096];
        snprintf(sdir, sizeof sdir, "%s/%s", dir, sets[k]);
        result = run_cli_set(path, sdir, tdm_model_num_inputs(m), tdm_model_num_outputs(m), threads, why, why_len);
    }
    for (int k = 0; k < nsets && result == R_PASS && !cli_tandem; k++) {
        tdm_session *s = NULL;
        if ((st = tdm_session_create(m, &so, &s))) {
            snprintf(why, why_len, "session: %s", tdm_last_error());
            result = R_FAIL;
            break;
        }
        char sdir[4096];
        snprintf(sdir, sizeof sdir, "%s/%s", dir, sets[k]);
        int nin = tdm_model_num_inputs(m);
        tdm_tensor **ins = calloc((size_t)nin + 1, sizeof *ins);
        for (int i = 0; i < nin && result == R_PASS; i++) {
            snprintf(path, sizeof path, "%s/input_%d.pb", sdir, i);
            if (!tu_exists(path)) {
                snprintf(why, why_len, "%s: model has %d inputs, data set has fewer", sets[k], nin);
                result = R_FAIL;
            } else if (tdm_tensor_read_file(path, &ins[i])) {
                snprintf(why, why_len, "reading %s: %s", path, tdm_last_error());
                result = R_FAIL;
            } else if ((st = tdm_session_set_input_shape(s, i, ins[i]->dims, ins[i]->rank))) {
                snprintf(why, why_len, "input %d shape: %s", i, tdm_last_error());
                result = R_FAIL;
            }
        }
        /* in file order: the engine keeps data given before the values of inputs that decide shapes */
        for (int i = 0; i < nin && result == R_PASS; i++) {
            size_t bytes = (size_t)tdm_tensor_numel(ins[i]) * tdm_dtype_size(ins[i]->dtype);
            if ((st = tdm_session_set_input(s, i, ins[i]->data, bytes))) {
                snprintf(why, why_len, "input %d: %s", i, tdm_last_error());
                result = R_FAIL;
            }
        }
        if (result == R_PASS && (st = tdm_session_run(s))) {
            snprintf(why, why_len, "run: %s: %s", tdm_status_name(st), tdm_last_error());
            result = R_FAIL;
        }
        for (int o = 0; o < tdm_model_num_outputs(m) && result == R_PASS; o++) {
            snprintf(path, sizeof path, "%s/output_%d.pb", sdir, o);
            if (!tu_exists(path)) break;
            tdm_tensor *want = NULL;
            tdm_tensor_info gi;
            const void *got;
            if (tdm_tensor_read_file(path, &want)) {
                snprintf(why, why_len, "reading %s: %s", path, tdm_last_error());
                result = R_FAIL;
            } else if (tdm_session_output(s, o, &gi, &got)) {
                snprintf(why, why_len, "output %d: %s", o, tdm_last_error());
                result = R_FAIL;
            } else {
                char w2[400];
                if (!tu_compare(&gi, got, want, RTOL, ATOL, w2, sizeof w2)) {
                    snprintf(why, why_len, "%s output %d (%s): %s", sets[k], o, gi.name, w2);
                    result = R_FAIL;
                }
            }
            tdm_tensor_free(want);
        }
        for (int i = 0; i < nin; i++) tdm_tensor_free(ins[i]);
        free(ins);
        tdm_session_free(s);
    }
    tu_free_list(sets, nsets);
    tdm_model_free(m);
    return result;
}

/* Fork so that a crash or a hang in one test is a reported failure. The child sends its reason through a pipe. */
static int run_isolated(const char *dir, int threads, char *why, size_t why_len) {
    int fd[2];
    if (pipe(fd) != 0) return run_test(dir, threads, why, why_len);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        alarm(60);
        char msg[1024] = "";
        int r = run_test(dir, threads, msg, sizeof msg);
        ssize_t w = write(fd[1], msg, strlen(msg));
        (void)w;
        close(fd[1]);
        _exit(r);
    }
    close(fd[1]);
    size_t len = 0;
    ssize_t n;
    while (len + 1 < why_len && (n = read(fd[0], why + len, why_len - 1 - len)) > 0) len += (size_t)n;
    why[len] = 0;
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) {
        snprintf(why, why_len, "CRASH: killed by signal %d%s", WTERMSIG(status),
                 WTERMSIG(status) == SIGALRM ? " (timeout after 60 s)" : "");
        return R_FAIL;
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : R_FAIL;
    return code <= R_NOTIMPL ? code : R_FAIL; /* sanitizers exit with their own code */
}

static xfail *load_xfail(const char *path, int *count) {
    FILE *f = fopen(path, "r");
    *count = 0;
    if (!f) return NULL;
    xfail *list = NULL;
    int cap = 0;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        if (*count == cap) {
            cap = cap ? cap * 2 : 64;
            list = realloc(list, (size_t)cap * sizeof *list);
        }
        xfail *x = &list[(*count)++];
        memset(x, 0, sizeof *x);
        size_t k = strcspn(line, " \t");
        snprintf(x->name, sizeof x->name, "%.*s", (int)k, line);
        const char *r = line + k;
        while (*r == ' ' || *r == '\t') r++;
        snprintf(x->reason, sizeof x->reason, "%s", r);
    }
    fclose(f);
    return list;
}

typedef struct opcount {
    char op[64];
    int n;
} opcount;

int main(int argc, char **argv) {
    const char *dir = "/usr/share/libonnx-testdata/data/node";
    const char *filter = NULL, *xfail_path = "tests/conformance_xfail.txt";
    int threads = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--xfail") && i + 1 < argc) xfail_path = argv[++i];
        else if (!strcmp(argv[i], "--cli") && i + 1 < argc) cli_tandem = argv[++i];
        else if (!strcmp(argv[i], "-v")) verbose = 1;
        else {
            fprintf(stderr, "usage: %s [--dir DIR] [--filter SUBSTR] [--threads N] [--xfail FILE] [--cli TANDEM] [-v]\n", argv[0]);
            return 2;
        }
    }
    int ntests;
    char **tests = tu_list(dir, "test_", &ntests);
    if (!tests) {
        printf("SKIP: %s is absent (install Debian's libonnx-testdata)\n", dir);
        return 0;
    }
    int nx;
    xfail *xs = load_xfail(xfail_path, &nx);
    int passed = 0, failed = 0, expected = 0, unexpected = 0, xpass = 0, notimpl = 0, nops = 0;
    opcount ops[256];
    for (int t = 0; t < ntests; t++) {
        if (filter && !strstr(tests[t], filter)) continue;
        char tdir[4096], why[1024] = "";
        snprintf(tdir, sizeof tdir, "%s/%s", dir, tests[t]);
        if (!tu_exists(tdir)) continue;
        int r = run_isolated(tdir, threads, why, sizeof why);
        xfail *x = NULL;
        for (int i = 0; i < nx; i++)
            if (!strcmp(xs[i].name, tests[t])) x = &xs[i];
        if (x) x->seen = 1;
        if (r == R_NOTIMPL) {
            notimpl++;
            int k = 0;
            while (k < nops && strcmp(ops[k].op, why)) k++;
            if (k == nops && nops < 256) {
                snprintf(ops[nops].op, sizeof ops[0].op, "%s", why);
                ops[nops++].n = 0;
            }
            if (k < 256) ops[k].n++;
            if (verbose) printf("NOTIMPL %s (%s)\n", tests[t], why);
        } else if (r == R_PASS) {
            passed++;
            if (x) {
                xpass++;
                printf("XPASS   %s: listed as failing (%s) but passes; remove it from %s\n", tests[t], x->reason,
                       xfail_path);
            } else if (verbose)
                printf("ok      %s\n", tests[t]);
        } else {
            failed++;
            if (x) {
                expected++;
                if (verbose) printf("xfail   %s: %s [listed: %s]\n", tests[t], why, x->reason);
            } else {
                unexpected++;
                printf("FAIL    %s: %s\n", tests[t], why);
            }
        }
    }
    if (notimpl) {
        printf("not implemented: %d tests use ops the engine lacks:", notimpl);
        for (int k = 0; k < nops; k++) printf(" %s(%d)", ops[k].op, ops[k].n);
        printf("\n");
    }
    printf("expected failures (listed with reasons in %s): %d; unexpected failures: %d; unexpected passes: %d\n",
           xfail_path, expected, unexpected, xpass);
    printf("conformance: %d passed, %d failed\n", passed, failed);
    tu_free_list(tests, ntests);
    free(xs);
    return unexpected || xpass ? 1 : 0;
}
