/* study.c - `tandem study`: tandem's main job. For the user's models it measures, on this machine:
 *   native   `tandem bench` at threads 1..N, and the phase split of one prediction (load, plan, preprocess,
 *            inference, probability), CPU-seconds and RAPL energy where present;
 *   client   the wasm build in headless Chromium at threads 1..N, on this machine and on CPU-throttled
 *            stand-ins for weaker devices, with frame smoothness in worker and main-thread mode;
 *   cloud    the browser sending real images to `tandem serve` under emulated networks, each request split into
 *            network and server parts from the Server-Timing header;
 * checks that browser and native agree on the top-1, then writes results.json/.csv, report.md and report.html with
 * the decision per (model, device, network) and the bandwidth and RTT at which it flips. The browser and cloud
 * paths run in scripts/study-browser.mjs (Node + playwright-core: a browser demands JS); this file plans, starts
 * the server and the driver, and collects. `--report-from` rebuilds a report from stored results (study_report_from).
 * Library code: progress lines go to stderr, errors come back in the caller's buffer; the command that parses the
 * options and prints is src/cli/cmd_study.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <stb/stb_image_write.h>

#include "tandem.h"
#include "../common/cifar.h"
#include "../common/util.h"
#include "study.h"
#include "study_http.h"
#include "zoo.h"

static double study_t0;

void study_progress(const char *fmt, ...) {
    double s = (clock_now_ms() - study_t0) / 1000.0;
    fprintf(stderr, "[study %02d:%02d] ", (int)s / 60, (int)s % 60);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int study_spawn_capture(char *const argv[], char **out) {
    int pfd[2];
    if (out) *out = NULL;
    if (pipe(pfd)) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]), close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]), close(pfd[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "tandem: study: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (buf && n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) free(buf);
            buf = nb, cap *= 2;
        }
        char sink[4096];
        ssize_t k = read(pfd[0], buf ? buf + n : sink, buf ? cap - n - 1 : sizeof sink);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        if (buf) n += (size_t)k;
    }
    close(pfd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (buf) buf[n] = 0;
    if (out) *out = buf;
    else free(buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* ---- the plan ---------------------------------------------------------------------------------------------- */

/* Network profiles, close to Chromium DevTools' presets. */
static const study_network known_networks[] = {
    {"lan", 1, 0, 0},               /* loopback-class LAN: no bandwidth cap */
    {"wifi", 10, 40000, 15000},     /* good home Wi-Fi */
    {"4g", 60, 9000, 3000},         /* DevTools "Fast 4G"-like */
    {"3g", 300, 1600, 750},         /* DevTools "Fast 3G"-like */
    {"slow3g", 400, 400, 400},      /* DevTools "Slow 3G"-like */
};

int study_mkdir_p(const char *dir) {
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0777) && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(tmp, 0777) && errno != EEXIST ? -1 : 0;
}

static char *path_join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static int write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    int ok = in && out;
    char buf[65536];
    size_t k;
    while (ok && (k = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, k, out) == k;
    if (in) fclose(in);
    if (out && fclose(out)) ok = 0;
    return ok ? 0 : -1;
}

/* mean/std from an info.json or config.json beside a model, when present: 1 when they were found. */
static int read_norm(const char *json_path, float mean[3], float std[3]) {
    char *text = NULL, err[256];
    size_t n;
    FILE *f = fopen(json_path, "rb");
    if (!f) return 0;
    fclose(f);
    if (file_read("model info", json_path, 1 << 20, &text, &n, err, sizeof err)) return 0;
    cJSON *j = cJSON_Parse(text);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "mean"), *s = cJSON_GetObjectItemCaseSensitive(j, "std");
    int found = cJSON_GetArraySize(m) == 3 && cJSON_GetArraySize(s) == 3;
    for (int c = 0; found && c < 3; c++) {
        mean[c] = (float)cJSON_GetArrayItem(m, c)->valuedouble;
        std[c] = (float)cJSON_GetArrayItem(s, c)->valuedouble;
    }
    cJSON_Delete(j);
    free(text);
    return found;
}

/* Put model m into OUT/repo/<name>/ (model.onnx + config.json): a zoo name is generated with seeded weights, a
 * folder or .onnx file is copied. */
static int prepare_model(study_plan *p, int m, const char *repo, float mean[3], float std[3],
                         const char **norm_source, char *err, size_t errlen) {
    const char *arg = p->model_arg[m];
    char name[256], src_dir[PATH_MAX] = "";
    struct stat st;
    const char *src_file = NULL;
    char tmp[PATH_MAX];
    if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(tmp, sizeof tmp, "%s/model.onnx", arg);
        src_file = tmp;
        snprintf(src_dir, sizeof src_dir, "%s", arg);
        const char *b = strrchr(arg, '/');
        snprintf(name, sizeof name, "%s", b && b[1] ? b + 1 : arg);
    } else if (stat(arg, &st) == 0) {
        src_file = arg;
        const char *b = strrchr(arg, '/');
        snprintf(name, sizeof name, "%s", b ? b + 1 : arg);
        char *dot = strrchr(name, '.');
        if (dot && dot != name) *dot = 0;
    } else {
        snprintf(name, sizeof name, "%s", arg);
    }
    for (char *c = name; *c; c++)
        if (!(*c == '_' || *c == '-' || *c == '.' || (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
              (*c >= 'A' && *c <= 'Z')))
            *c = '_';
    char *dir = path_join(repo, name);
    p->model_name[m] = strdup(name);
    p->model_path[m] = dir ? path_join(dir, "model.onnx") : NULL;
    if (!dir || !p->model_name[m] || !p->model_path[m] || study_mkdir_p(dir)) {
        free(dir);
        return err_set(err, errlen, "study: cannot create %s", repo);
    }
    /* the zoo's CIFAR models take the normalisation of pytorch-cifar-models (CIFAR-10's or CIFAR-100's); any other
     * model the ImageNet defaults, unless its folder's config.json / info.json or --mean/--std say otherwise */
    static const float m100[3] = {0.5071f, 0.4865f, 0.4409f}, s100[3] = {0.2673f, 0.2564f, 0.2762f};
    static const float m10[3] = {0.4914f, 0.4822f, 0.4465f}, s10[3] = {0.2023f, 0.1994f, 0.2010f};
    static const float min[3] = {0.485f, 0.456f, 0.406f}, sin[3] = {0.229f, 0.224f, 0.225f};
    int c10 = strncmp(name, "cifar10_", 8) == 0, c100 = strncmp(name, "cifar100_", 9) == 0;
    memcpy(mean, c10 ? m10 : c100 ? m100 : min, sizeof m100);
    memcpy(std, c10 ? s10 : c100 ? s100 : sin, sizeof s100);
    *norm_source = c10 ? "CIFAR-10 statistics (pytorch-cifar-models)"
                   : c100 ? "CIFAR-100 statistics (pytorch-cifar-models)"
                          : "ImageNet defaults (mean 0.485,0.456,0.406, std 0.229,0.224,0.225)";
    int rc = 0;
    zoo_info zi;
    if (src_file) {
        if (copy_file(src_file, p->model_path[m])) rc = err_set(err, errlen, "study: cannot copy model '%s'", src_file);
        if (!rc && src_dir[0]) {
            snprintf(tmp, sizeof tmp, "%s/info.json", src_dir);
            if (read_norm(tmp, mean, std)) *norm_source = "the model's info.json";
            snprintf(tmp, sizeof tmp, "%s/config.json", src_dir);
            if (read_norm(tmp, mean, std)) *norm_source = "the model's config.json";
        }
    } else if (!zoo_model_info(name, &zi)) {
        rc = err_set(err, errlen, "study: '%s' is neither a model file, a model folder nor a zoo name (tandem zoo "
                     "--list)", arg);
    } else {
        study_progress("zoo: writing %s with seeded weights", name);
        zoo_options zo = {0};
        rc = zoo_write(name, &zo, p->model_path[m], NULL, err, errlen);
    }
    if (!rc && p->user_norm) {
        memcpy(mean, p->user_mean, sizeof p->user_mean);
        memcpy(std, p->user_std, sizeof p->user_std);
        *norm_source = "--mean/--std";
    }
    free(dir);
    return rc;
}

/* config.json for tandem serve once the model's inputs are known: mean, std, the image size /classify resizes to,
 * and CIFAR-10's labels when the shared data has them. */
static int write_config(const study_plan *p, int m, const char *repo, const float mean[3], const float std[3],
                        char *err, size_t errlen) {
    char cfg[1024], labels[PATH_MAX] = "", tmp[PATH_MAX], size[64] = "";
    char *dir = path_join(repo, p->model_name[m]);
    if (!dir) return err_set(err, errlen, "out of memory");
    snprintf(tmp, sizeof tmp, "%s/data/cifar10_classes.txt", p->shared_dir);
    if (!strncmp(p->model_name[m], "cifar10_", 8) && file_exists(tmp)) {
        char *lf = path_join(dir, "labels.txt");
        if (lf && copy_file(tmp, lf) == 0) snprintf(labels, sizeof labels, ", \"labels_file\": \"labels.txt\"");
        free(lf);
    }
    if (p->io[m].image)
        snprintf(size, sizeof size, ", \"size\": [%lld, %lld]", (long long)p->io[m].h, (long long)p->io[m].w);
    snprintf(cfg, sizeof cfg, "{\"mean\": [%.4f, %.4f, %.4f], \"std\": [%.4f, %.4f, %.4f]%s, \"max_batch\": 1%s}\n",
             mean[0], mean[1], mean[2], std[0], std[1], std[2], size, labels);
    char *cf = path_join(dir, "config.json");
    int rc = cf ? write_text(cf, cfg) : -1;
    free(cf);
    free(dir);
    return rc ? err_set(err, errlen, "study: cannot write config.json for %s", p->model_name[m]) : 0;
}

/* A model the engine cannot run leaves the server's repository (tandem serve would refuse to start) for
 * OUT/unrunnable/<name>, where the user can find it. */
static void set_aside(const study_plan *p, int m, const char *repo) {
    char *from = path_join(repo, p->model_name[m]), *ud = path_join(p->out_dir, "unrunnable");
    char *to = ud ? path_join(ud, p->model_name[m]) : NULL;
    if (from && to && !study_mkdir_p(ud)) {
        char *argv[] = {"rm", "-rf", to, NULL};
        study_spawn_capture(argv, NULL);
        if (rename(from, to)) study_progress("cannot move %s aside: %s", from, strerror(errno));
    }
    free(from), free(ud), free(to);
}

/* The study's images as PNG files: CIFAR-10 test records from the shared data when present (real photos), else
 * seeded synthetic pictures (smooth colour fields with shapes), so the study runs on a machine without the data. */
static void synthetic_image(rng_state *rng, unsigned char *rgb) {
    double base[3], cx = 32 * rng_uniform(rng), cy = 32 * rng_uniform(rng);
    double r2 = 20 + 80 * rng_uniform(rng);
    for (int c = 0; c < 3; c++) base[c] = 255 * rng_uniform(rng);
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++)
            for (int c = 0; c < 3; c++) {
                double v = base[c] * (0.6 + 0.4 * x / 31.0) + 40 * rng_uniform(rng);
                if ((x - cx) * (x - cx) + (y - cy) * (y - cy) < r2) v = 255 - v;
                rgb[(y * 32 + x) * 3 + c] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
}

static int prepare_images(const study_plan *p, const char *dir, char *source, size_t cap, char *err, size_t errlen) {
    if (study_mkdir_p(dir)) return err_set(err, errlen, "study: cannot create %s", dir);
    char bin[PATH_MAX], why[512];
    snprintf(bin, sizeof bin, "%s/data/cifar10_test_jpeg75.bin", p->shared_dir);
    cifar_file data;
    int real = cifar_open(bin, &data, why, sizeof why) == 0;
    snprintf(source, cap, real ? "CIFAR-10 test images (%s)" : "seeded synthetic 32x32 images (no %s here)", bin);
    rng_state rng = {0x5eed5eedULL};
    int rc = 0;
    for (int i = 0; i < p->images && !rc; i++) {
        unsigned char rec[CIFAR_RECORD], rgb[CIFAR_PLANE * 3];
        if (real && cifar_read(&data, -1, 1, rec, why, sizeof why) == 0) cifar_to_rgb(rec, 1, rgb);
        else synthetic_image(&rng, rgb);
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/img_%03d.png", dir, i);
        if (!stbi_write_png(path, 32, 32, 3, rgb, 32 * 3)) rc = err_set(err, errlen, "study: cannot write %s", path);
    }
    cifar_close(&data);
    return rc;
}

/* ---- tandem serve and the browser driver --------------------------------------------------------------------- */

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    socklen_t len = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static pid_t start_server(const study_plan *p, const char *repo, const char *db, int port, char *url, size_t cap) {
    char ports[16], threads[16];
    snprintf(ports, sizeof ports, "%d", port);
    snprintf(threads, sizeof threads, "%d", p->threads[p->n_threads - 1]);
    snprintf(url, cap, "http://127.0.0.1:%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {(char *)p->self_exe, "serve", "--models", (char *)repo, "--port", ports, "--host", "127.0.0.1",
                        "--db", (char *)db, NULL};
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    if (pid < 0) return -1;
    char health[256];
    snprintf(health, sizeof health, "%s/v2/health/ready", url);
    for (int i = 0; i < 300; i++) { /* up to 30 s: it loads and plans every model */
        study_http_response r;
        if (study_http(health, "GET", NULL, NULL, 0, 2000, &r) == 0) {
            study_http_free(&r);
            if (r.status == 200) return pid;
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) return -1;
        nanosleep(&(struct timespec){0, 100000000}, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void stop_server(pid_t pid) {
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid) return;
        nanosleep(&(struct timespec){0, 100000000}, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

int study_tree_file(const study_plan *p, const char *rel, char *out, size_t cap) {
    char exe[PATH_MAX];
    snprintf(exe, sizeof exe, "%s", p->self_exe);
    for (int up = 0; up < 3; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash) break;
        *slash = 0;
        snprintf(out, cap, "%s/%s", exe, rel);
        if (file_exists(out)) return 0;
    }
    return -1;
}

static cJSON *plan_json(const study_plan *p, const char *url, const char *image_dir) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "url", url);
    cJSON_AddStringToObject(j, "image_dir", image_dir);
    cJSON_AddNumberToObject(j, "images", p->images);
    cJSON_AddNumberToObject(j, "runs", p->runs);
    cJSON_AddBoolToObject(j, "client", p->browser);
    cJSON_AddBoolToObject(j, "cloud", p->cloud);
    cJSON_AddBoolToObject(j, "baseline_ort", p->baseline_ort);
    cJSON *models = cJSON_AddArrayToObject(j, "models"), *mio = cJSON_AddObjectToObject(j, "io");
    for (int m = 0; m < p->n_models; m++) {
        if (!p->io[m].ok) continue;
        cJSON_AddItemToArray(models, cJSON_CreateString(p->model_name[m]));
        cJSON_AddItemToObject(mio, p->model_name[m], study_io_json(p, m));
    }
    cJSON_AddItemToObject(j, "threads", cJSON_CreateIntArray(p->threads, p->n_threads));
    cJSON_AddItemToObject(j, "throttle", cJSON_CreateDoubleArray(p->throttle, p->n_throttle));
    cJSON *nets = cJSON_AddArrayToObject(j, "networks");
    for (int i = 0; i < p->n_networks; i++) {
        cJSON *n = cJSON_CreateObject();
        cJSON_AddStringToObject(n, "name", p->networks[i].name);
        cJSON_AddNumberToObject(n, "rtt_ms", p->networks[i].rtt_ms);
        cJSON_AddNumberToObject(n, "down_kbps", p->networks[i].down_kbps);
        cJSON_AddNumberToObject(n, "up_kbps", p->networks[i].up_kbps);
        cJSON_AddItemToArray(nets, n);
    }
    return j;
}

static cJSON *read_json_file(const char *path, char *err, size_t errlen) {
    char *text = NULL;
    size_t n;
    if (file_read("results", path, (size_t)1 << 30, &text, &n, err, errlen)) return NULL;
    cJSON *j = cJSON_ParseWithLength(text, n);
    if (!j) err_set(err, errlen, "study: %s is not valid JSON", path);
    free(text);
    return j;
}

static int write_json_file(const char *path, const cJSON *j) {
    char *text = cJSON_Print(j);
    int rc = text ? write_text(path, text) : -1;
    free(text);
    return rc;
}

static void host_facts(cJSON *o) {
    char host[256] = "", line[512], cpu[256] = "unknown";
    gethostname(host, sizeof host - 1);
    cJSON_AddStringToObject(o, "host", host);
    cJSON_AddNumberToObject(o, "cpus", (double)sysconf(_SC_NPROCESSORS_ONLN));
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(cpu, sizeof cpu, "%s", strchr(line, ':') + 2);
            cpu[strcspn(cpu, "\n")] = 0;
            break;
        }
    if (f) fclose(f);
    cJSON_AddStringToObject(o, "cpu", cpu);
    cJSON_AddNumberToObject(o, "memory_bytes", (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE));
    cJSON_AddStringToObject(o, "kernel_isa", tdm_kernel_isa());
}


/* The report files and results.json into dir. */
static int write_outputs(cJSON *results, const char *dir, char *err, size_t errlen) {
    if (study_mkdir_p(dir)) return err_set(err, errlen, "study: cannot create %s", dir);
    if (study_write_report(results, dir, err, errlen)) return -1;
    char *rj = path_join(dir, "results.json");
    int rc = rj ? write_json_file(rj, results) : -1;
    free(rj);
    return rc ? err_set(err, errlen, "study: cannot write %s/results.json", dir) : 0;
}

/* ---- the report from stored results ------------------------------------------------------------------------- */

/* Every result a tandem server's store holds: the newest full study becomes the base, and every browser result from
 * any device (tandem.result/1, docs/RESULTS.md) joins the crowd table, every device run's cloud rows and verdict
 * (tandem.verdict/1) the table of real devices on real networks. */
static cJSON *results_from_server(const char *src, char *err, size_t errlen) {
    char url[2048];
    size_t sl = strlen(src);
    while (sl > 7 && src[sl - 1] == '/') sl--;
    snprintf(url, sizeof url, "%.*s/api/results?format=json&limit=100000", (int)sl, src);
    study_http_response r;
    if (study_http(url, "GET", NULL, NULL, 0, 30000, &r)) {
        err_set(err, errlen, "study: cannot reach %s", url);
        return NULL;
    }
    cJSON *docs = r.status == 200 ? cJSON_ParseWithLength(r.body, r.len) : NULL;
    study_http_free(&r);
    if (!docs) {
        err_set(err, errlen, "study: %s answered %d, not a JSON list of results", url, r.status);
        return NULL;
    }
    cJSON *list = cJSON_IsArray(docs) ? docs : cJSON_GetObjectItemCaseSensitive(docs, "results");
    cJSON *results = NULL, *crowd = cJSON_CreateArray(), *devices = cJSON_CreateArray(), *el;
    cJSON_ArrayForEach(el, list) {
        const cJSON *doc = cJSON_GetObjectItemCaseSensitive(el, "document");
        if (!doc) doc = el;
        const cJSON *schema = cJSON_GetObjectItemCaseSensitive(doc, "schema");
        if (!cJSON_IsString(schema)) continue;
        if (!strcmp(schema->valuestring, "tandem.study/1")) {
            cJSON_Delete(results);
            results = cJSON_Duplicate(doc, 1);
        } else if (!strcmp(schema->valuestring, "tandem.result/1")) {
            cJSON_AddItemToArray(crowd, cJSON_Duplicate(doc, 1));
        } else if (!strcmp(schema->valuestring, "tandem.verdict/1")) {
            cJSON_AddItemToArray(devices, cJSON_Duplicate(doc, 1));
        }
    }
    cJSON_Delete(docs);
    if (!results) {
        results = cJSON_CreateObject();
        cJSON_AddStringToObject(results, "schema", "tandem.study/1");
        cJSON_AddArrayToObject(results, "models");
    }
    cJSON_DeleteItemFromObject(results, "crowd");
    cJSON_AddItemToObject(results, "crowd", crowd);
    cJSON_DeleteItemFromObject(results, "devices");
    cJSON_AddItemToObject(results, "devices", devices);
    study_progress("report: %d device results and %d device verdicts from %s", cJSON_GetArraySize(crowd),
                   cJSON_GetArraySize(devices), src);
    return results;
}

int study_report_from(const char *src, const char *out_dir, char *err, size_t errlen) {
    study_t0 = clock_now_ms();
    cJSON *results = !strncmp(src, "http://", 7) ? results_from_server(src, err, errlen)
                                                 : read_json_file(src, err, errlen);
    if (!results) return -1;
    int rc = write_outputs(results, out_dir, err, errlen);
    cJSON_Delete(results);
    return rc;
}

/* ---- the plan -------------------------------------------------------------------------------------------------- */

void study_plan_defaults(study_plan *p) {
    memset(p, 0, sizeof *p);
    p->out_dir = "study-out";
    p->shared_dir = getenv("TDM_SHARED") ? getenv("TDM_SHARED") : "../shared";
    p->runs = 30;
    p->images = 20;
    p->browser = p->cloud = p->ort = 1;
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1) ncpu = 1;
    if (ncpu > STUDY_MAX_LIST) ncpu = STUDY_MAX_LIST;
    p->n_threads = ncpu;
    for (int i = 0; i < ncpu; i++) p->threads[i] = i + 1;
    static const double throttle[] = {1, 2, 4, 6};
    p->n_throttle = 4;
    memcpy(p->throttle, throttle, sizeof throttle);
}

int study_plan_models(study_plan *p, const char *list, char *err, size_t errlen) {
    free(p->models_buf);
    p->n_models = 0;
    if (!(p->models_buf = strdup(list))) return err_set(err, errlen, "out of memory");
    for (char *save = NULL, *tok = strtok_r(p->models_buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (p->n_models == STUDY_MAX_MODELS) return err_set(err, errlen, "study: at most %d models", STUDY_MAX_MODELS);
        p->model_arg[p->n_models++] = tok;
    }
    return p->n_models ? 0 : err_set(err, errlen, "study: --models names no model");
}

int study_plan_networks(study_plan *p, const char *list, char *err, size_t errlen) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    p->n_networks = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        size_t k = 0, n = sizeof known_networks / sizeof known_networks[0];
        while (k < n && strcmp(tok, known_networks[k].name) != 0) k++;
        if (k == n) return err_set(err, errlen, "study: unknown network '%s' (lan, wifi, 4g, 3g, slow3g)", tok);
        if (p->n_networks < STUDY_MAX_LIST) p->networks[p->n_networks++] = known_networks[k];
    }
    return 0;
}

void study_plan_free(study_plan *p) {
    for (int k = 0; k < p->n_shapes; k++) {
        free(p->shape_name[k]);
        p->shape_name[k] = NULL;
    }
    p->n_shapes = 0;
    for (int m = 0; m < STUDY_MAX_MODELS; m++) {
        free(p->model_name[m]);
        free(p->model_path[m]);
        p->model_name[m] = p->model_path[m] = NULL;
    }
    free(p->models_buf);
    p->models_buf = NULL;
    p->n_models = 0;
}

/* ---- measuring -------------------------------------------------------------------------------------------------- */

/* The results document's head: schema, creation time, this machine (tandem.study/1; docs/RESULTS.md defines its
 * fields, keep the two in step). */
static cJSON *results_new(const char *image_source) {
    cJSON *results = cJSON_CreateObject();
    cJSON_AddStringToObject(results, "schema", "tandem.study/1");
    cJSON_AddStringToObject(results, "source", "study");
    cJSON_AddStringToObject(results, "engine", "tandem");
    char created[32];
    clock_utc_stamp(created, sizeof created);
    cJSON_AddStringToObject(results, "created", created);
    cJSON_AddStringToObject(results, "version", TDM_VERSION);
    host_facts(cJSON_AddObjectToObject(results, "machine"));
    cJSON_AddStringToObject(results, "images_source", image_source);
    cJSON_AddArrayToObject(results, "models");
    return results;
}

/* One entry per model with its inputs and native measurements; a model the engine cannot run gets its message. */
static int measure_native(study_plan *p, cJSON *mlist, float mean[][3], float stdv[][3], char *err, size_t errlen) {
    for (int m = 0; m < p->n_models; m++) {
        memcpy(p->mean, mean[m], sizeof p->mean);
        memcpy(p->std, stdv[m], sizeof p->std);
        cJSON *entry = cJSON_CreateObject();
        cJSON_AddItemToArray(mlist, entry);
        cJSON_AddStringToObject(entry, "name", p->model_name[m]);
        if (!p->io[m].ok) {
            cJSON_AddStringToObject(entry, "error", p->io[m].error);
            continue;
        }
        struct stat st;
        cJSON_AddNumberToObject(entry, "bytes", stat(p->model_path[m], &st) ? 0 : (double)st.st_size);
        cJSON_AddItemToObject(entry, "io", study_io_json(p, m));
        cJSON_AddItemToObject(entry, "mean", cJSON_CreateFloatArray(p->mean, 3));
        cJSON_AddItemToObject(entry, "std", cJSON_CreateFloatArray(p->std, 3));
        cJSON *nat = study_native_model(p, m, err, errlen);
        if (!nat) return -1;
        cJSON_AddItemToObject(entry, "native", nat);
    }
    return 0;
}

/* The browser driver's per-model results joined to the native entries. */
static void attach_browser(cJSON *results, cJSON *bres) {
    cJSON *me, *mlist = cJSON_GetObjectItemCaseSensitive(results, "models");
    cJSON_AddItemToObject(results, "browser_device", cJSON_DetachItemFromObjectCaseSensitive(bres, "device"));
    cJSON_ArrayForEach(me, mlist) {
        const char *name = cJSON_GetObjectItemCaseSensitive(me, "name")->valuestring;
        cJSON *bm = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(bres, "models"), name);
        if (!bm) continue;
        cJSON *f;
        cJSON_ArrayForEach(f, bm) cJSON_AddItemToObject(me, f->string, cJSON_Duplicate(f, 1));
    }
}

/* The client and cloud paths: the browser driver against our own server. */
static int measure_browser(const study_plan *p, cJSON *results, const char *repo, const char *imgdir, char *err,
                           size_t errlen) {
    char drv[PATH_MAX], url[128];
    if (study_tree_file(p, "scripts/study-browser.mjs", drv, sizeof drv))
        return err_set(err, errlen, "study: scripts/study-browser.mjs not found beside %s (run from a tandem checkout, "
                       "or use --no-browser --no-cloud)", p->self_exe);
    int port = free_port(), rc = -1;
    char *db = path_join(p->out_dir, "results.db"), *pj = path_join(p->out_dir, "plan.json");
    char *bj = path_join(p->out_dir, "browser.json");
    study_progress("cloud: starting tandem serve on port %d", port);
    pid_t srv = db && pj && bj ? start_server(p, repo, db, port, url, sizeof url) : -1;
    if (srv < 0) {
        err_set(err, errlen, "study: tandem serve did not become ready");
    } else {
        cJSON *plan_doc = plan_json(p, url, imgdir);
        write_json_file(pj, plan_doc);
        cJSON_Delete(plan_doc);
        char *argv[] = {"node", drv, "--plan", pj, "--out", bj, NULL};
        study_progress("browser: headless Chromium via %s", drv);
        int drc = study_spawn_capture(argv, NULL);
        stop_server(srv);
        cJSON *bres = drc == 0 ? read_json_file(bj, err, errlen) : NULL;
        if (!bres) {
            err_set(err, errlen, "study: the browser driver failed (exit %d)", drc);
        } else {
            attach_browser(results, bres);
            cJSON_Delete(bres);
            rc = 0;
        }
    }
    free(db), free(pj), free(bj);
    return rc;
}

/* POST the results to a tandem server's store. */
static int post_results(const char *base, const cJSON *results, char *err, size_t errlen) {
    char url[2048];
    snprintf(url, sizeof url, "%s/api/results", base);
    char *text = cJSON_PrintUnformatted(results);
    study_http_response r = {0};
    int rc = 0;
    if (!text || study_http(url, "POST", "application/json", text, strlen(text), 30000, &r))
        rc = err_set(err, errlen, "study: cannot POST the results to %s", url);
    else if (r.status / 100 != 2)
        rc = err_set(err, errlen, "study: %s answered %d: %.200s", url, r.status, r.body ? r.body : "");
    else
        study_progress("posted the results to %s", url);
    study_http_free(&r);
    free(text);
    return rc;
}

int study_run(study_plan *p, char *err, size_t errlen) {
    study_t0 = clock_now_ms();
    static char exe[PATH_MAX];
    if (!p->self_exe) {
        ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (el <= 0) return err_set(err, errlen, "study: cannot find this program's path");
        exe[el] = 0;
        p->self_exe = exe;
    }
    int rc = -1;
    cJSON *results = NULL;
    char *repo = path_join(p->out_dir, "repo"), *imgdir = path_join(p->out_dir, "images");
    static float mean[STUDY_MAX_MODELS][3], stdv[STUDY_MAX_MODELS][3];
    char image_source[PATH_MAX + 64];
    if (!repo || !imgdir || study_mkdir_p(repo)) {
        err_set(err, errlen, "study: cannot create %s", p->out_dir);
        goto out;
    }
    if (prepare_images(p, imgdir, image_source, sizeof image_source, err, errlen)) goto out;
    int runnable = 0;
    for (int m = 0; m < p->n_models; m++) {
        const char *norm = "";
        if (prepare_model(p, m, repo, mean[m], stdv[m], &norm, err, errlen)) goto out;
        if (study_prepare_io(p, m, imgdir, err, errlen)) goto out;
        p->io[m].norm_source = norm;
        memcpy(p->io[m].mean, mean[m], sizeof p->io[m].mean);
        memcpy(p->io[m].std, stdv[m], sizeof p->io[m].std);
        if (!p->io[m].ok) {
            study_progress("%s: the engine cannot run it: %s", p->model_name[m], p->io[m].error);
            set_aside(p, m, repo);
            continue;
        }
        runnable++;
        if (write_config(p, m, repo, mean[m], stdv[m], err, errlen)) goto out;
        if (p->io[m].image)
            study_progress("%s: images %lldx%lld %s, mean/std from %s; cloud path /%s", p->model_name[m],
                           (long long)p->io[m].h, (long long)p->io[m].w, p->io[m].nhwc ? "NHWC" : "NCHW", norm,
                           p->io[m].cloud_path);
        else
            study_progress("%s: %d tensor input(s), %s; cloud path /%s", p->model_name[m], p->io[m].n_inputs,
                           p->io[m].tensor_source, p->io[m].cloud_path);
    }
    results = results_new(image_source);
    cJSON_AddStringToObject(results, "preset", p->preset ? p->preset : "kanev");
    if (p->baseline_ort) cJSON_AddStringToObject(results, "baseline", "ort");
    if (measure_native(p, cJSON_GetObjectItemCaseSensitive(results, "models"), mean, stdv, err, errlen)) goto out;
    if (runnable && (p->browser || p->cloud) && measure_browser(p, results, repo, imgdir, err, errlen)) goto out;
    if (runnable && p->cloud_url) study_remote_cloud(p, results);
    cJSON_AddNumberToObject(results, "duration_s", (clock_now_ms() - study_t0) / 1000.0);
    study_progress("report: writing %s/report.html, report.md, results.json, results.csv", p->out_dir);
    if (write_outputs(results, p->out_dir, err, errlen)) goto out;
    if (p->post_url && post_results(p->post_url, results, err, errlen)) goto out;
    rc = 0;
out:
    cJSON_Delete(results);
    free(repo), free(imgdir);
    return rc;
}
