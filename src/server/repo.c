/* repo.c - the model repository of `tandem serve`: DIR/<name>/model.onnx with an optional config.json (mean, std,
 * size, labels or labels_file, max_batch, max_delay_us), falling back to the mean/std of an info.json beside the
 * model. Every model is loaded and probed at start, so a broken repository fails the start instead of a request. */
#include "server.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#define REPO_MAX_MODELS 256
#define REPO_MAX_CONFIG ((size_t)16 << 20)

static int repo_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *repo_join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s/%s", a, b);
    return s;
}

/* Read a small file into a NUL-terminated malloc'd buffer; NULL if absent or unreadable (errno set). */
static char *repo_read(const char *path, size_t max, size_t *size_out) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) break;
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (n > max) {
            errno = EFBIG;
            free(buf);
            fclose(f);
            return NULL;
        }
        if (r == 0) break;
    }
    int bad = ferror(f) || !buf;
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    if (size_out) *size_out = n;
    return buf;
}

/* Read a float array field (mean/std) of a JSON object. Returns the count, 0 if absent, -1 if malformed. */
static int repo_floats(const cJSON *obj, const char *key, float *out, int max) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!a) return 0;
    if (!cJSON_IsArray(a)) return -1;
    int n = 0;
    for (const cJSON *e = a->child; e; e = e->next) {
        if (!cJSON_IsNumber(e) || n >= max) return -1;
        out[n++] = (float)e->valuedouble;
    }
    return n;
}

static int repo_labels_from_text(srv_model *m, char *text) {
    int cap = 0;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r') line[len - 1] = 0;
        if (m->nlabels == cap) {
            cap = cap ? cap * 2 : 64;
            char **nlb = realloc(m->labels, (size_t)cap * sizeof *nlb);
            if (!nlb) return -1;
            m->labels = nlb;
        }
        m->labels[m->nlabels] = strdup(line);
        if (!m->labels[m->nlabels]) return -1;
        m->nlabels++;
        line = nl ? nl + 1 : NULL;
    }
    return 0;
}

/* Apply config.json (or, without one, info.json's mean/std). Returns 0 or -1 after printing. */
static int repo_config(srv_model *m) {
    char *cpath = repo_join(m->dir, "config.json");
    char *ipath = repo_join(m->dir, "info.json");
    char *text = NULL;
    const char *used = NULL;
    int rc = -1;
    cJSON *root = NULL;
    if (!cpath || !ipath) goto done;
    text = repo_read(cpath, REPO_MAX_CONFIG, NULL);
    used = cpath;
    int is_config = 1;
    if (!text) {
        if (errno != ENOENT) {
            fprintf(stderr, "tandem serve: cannot read %s: %s\n", cpath, strerror(errno));
            goto done;
        }
        text = repo_read(ipath, REPO_MAX_CONFIG, NULL);
        used = ipath;
        is_config = 0;
        if (!text) {
            rc = 0; /* neither: mean 0, std 1 */
            goto done;
        }
    }
    root = cJSON_Parse(text);
    if (!cJSON_IsObject(root)) {
        fprintf(stderr, "tandem serve: %s is not a JSON object\n", used);
        goto done;
    }
    int nm = repo_floats(root, "mean", m->mean, SRV_MAX_STATS), ns = repo_floats(root, "std", m->std, SRV_MAX_STATS);
    if (nm < 0 || ns < 0 || nm != ns) {
        fprintf(stderr, "tandem serve: %s: \"mean\" and \"std\" must be number arrays of the same length (1..%d)\n",
                used, SRV_MAX_STATS);
        goto done;
    }
    for (int i = 0; i < ns; i++)
        if (!(m->std[i] != 0)) {
            fprintf(stderr, "tandem serve: %s: std[%d] is 0\n", used, i);
            goto done;
        }
    if (nm > 0) m->nstats = nm;
    if (!is_config) {
        rc = 0;
        goto done;
    }
    const cJSON *sz = cJSON_GetObjectItemCaseSensitive(root, "size");
    if (sz) {
        if (!cJSON_IsArray(sz) || cJSON_GetArraySize(sz) != 2 || !cJSON_IsNumber(sz->child) ||
            !cJSON_IsNumber(sz->child->next) || sz->child->valuedouble < 1 || sz->child->valuedouble > 65536 ||
            sz->child->next->valuedouble < 1 || sz->child->next->valuedouble > 65536) {
            fprintf(stderr, "tandem serve: %s: \"size\" must be [H, W] with both in 1..65536\n", used);
            goto done;
        }
        m->size_h = (int64_t)sz->child->valuedouble;
        m->size_w = (int64_t)sz->child->next->valuedouble;
    }
    const cJSON *mb = cJSON_GetObjectItemCaseSensitive(root, "max_batch");
    if (mb) {
        if (!cJSON_IsNumber(mb) || mb->valuedouble < 1 || mb->valuedouble > SRV_MAX_BATCH) {
            fprintf(stderr, "tandem serve: %s: \"max_batch\" must be in 1..%d\n", used, SRV_MAX_BATCH);
            goto done;
        }
        m->max_batch = (int)mb->valuedouble;
    }
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(root, "max_delay_us");
    if (md) {
        if (!cJSON_IsNumber(md) || md->valuedouble < 0 || md->valuedouble > 10e6) {
            fprintf(stderr, "tandem serve: %s: \"max_delay_us\" must be in 0..10000000\n", used);
            goto done;
        }
        m->max_delay_us = (int64_t)md->valuedouble;
    }
    const cJSON *lb = cJSON_GetObjectItemCaseSensitive(root, "labels");
    const cJSON *lf = cJSON_GetObjectItemCaseSensitive(root, "labels_file");
    if (lb) {
        if (!cJSON_IsArray(lb)) {
            fprintf(stderr, "tandem serve: %s: \"labels\" must be an array of strings\n", used);
            goto done;
        }
        int n = cJSON_GetArraySize(lb);
        m->labels = calloc((size_t)(n ? n : 1), sizeof *m->labels);
        if (!m->labels) goto done;
        for (const cJSON *e = lb->child; e; e = e->next) {
            if (!cJSON_IsString(e)) {
                fprintf(stderr, "tandem serve: %s: \"labels\" must be an array of strings\n", used);
                goto done;
            }
            if (!(m->labels[m->nlabels++] = strdup(e->valuestring))) goto done;
        }
    } else if (lf) {
        if (!cJSON_IsString(lf)) {
            fprintf(stderr, "tandem serve: %s: \"labels_file\" must be a string\n", used);
            goto done;
        }
        char *lpath = lf->valuestring[0] == '/' ? strdup(lf->valuestring) : repo_join(m->dir, lf->valuestring);
        char *ltext = lpath ? repo_read(lpath, REPO_MAX_CONFIG, NULL) : NULL;
        if (!ltext) {
            fprintf(stderr, "tandem serve: %s: cannot read labels_file '%s': %s\n", used, lf->valuestring,
                    strerror(errno));
            free(lpath);
            goto done;
        }
        int lrc = repo_labels_from_text(m, ltext);
        free(ltext);
        free(lpath);
        if (lrc) goto done;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    free(text);
    free(cpath);
    free(ipath);
    return rc;
}

/* Decide whether requests can be stacked along dim 0: every input and output has a symbolic leading dim, the inputs
 * are not integer shape inputs, and a batch-2 run really gives batch-2 outputs. The probe also plans the model once,
 * so a model that cannot run fails the start. */
static int repo_probe(srv_model *m) {
    int cand = m->nin > 0;
    for (int i = 0; i < m->nin; i++) {
        tdm_dtype t = m->in[i].dtype;
        if (m->in[i].rank < 1 || m->in[i].dims[0] >= 0 || !(t == TDM_FLOAT || t == TDM_DOUBLE || t == TDM_FLOAT16 ||
                                                             t == TDM_UINT8 || t == TDM_BOOL))
            cand = 0;
    }
    for (int i = 0; i < m->nout; i++)
        if (m->out[i].rank < 1 || m->out[i].dims[0] >= 0) cand = 0;
    tdm_session *s = NULL;
    tdm_status st = tdm_session_create(m->model, NULL, &s);
    int ok = 0;
    for (int b = 1; b <= (cand ? 2 : 1) && st == TDM_OK; b++) {
        for (int i = 0; i < m->nin && st == TDM_OK; i++) {
            int64_t dims[TDM_MAX_RANK];
            for (int d = 0; d < m->in[i].rank; d++) dims[d] = m->in[i].dims[d] >= 0 ? m->in[i].dims[d] : 1;
            if (cand) dims[0] = b;
            st = tdm_session_set_input_shape(s, i, dims, m->in[i].rank);
        }
        for (int i = 0; i < m->nin && st == TDM_OK; i++) {
            void *data;
            tdm_tensor_info info;
            st = tdm_session_input_data(s, i, &info, &data);
            if (st == TDM_OK) {
                int64_t n = 1;
                for (int d = 0; d < info.rank; d++) n *= info.dims[d];
                memset(data, 0, (size_t)n * tdm_dtype_size(info.dtype));
            }
        }
        if (st == TDM_OK) st = tdm_session_run(s);
        if (st == TDM_OK && b == 2) {
            ok = 1;
            for (int i = 0; i < m->nout; i++) {
                tdm_tensor_info info;
                const void *d;
                if (tdm_session_output(s, i, &info, &d) != TDM_OK || info.dims[0] != 2) ok = 0;
            }
        }
    }
    if (st != TDM_OK) {
        fprintf(stderr, "tandem serve: model '%s' cannot run: %s\n", m->name,
                tdm_last_error() ? tdm_last_error() : tdm_status_name(st));
        tdm_session_free(s);
        return -1;
    }
    tdm_session_free(s);
    m->batchable = ok;
    return 0;
}

static int repo_load_one(srv_model *m, int64_t max_elems) {
    struct stat sb;
    if (stat(m->path, &sb) != 0) {
        fprintf(stderr, "tandem serve: cannot open %s: %s\n", m->path, strerror(errno));
        return -1;
    }
    m->file_bytes = (int64_t)sb.st_size;
    double t0 = srv_now();
    tdm_status st = tdm_model_load_file(m->path, NULL, &m->model);
    if (st != TDM_OK) {
        fprintf(stderr, "tandem serve: cannot load %s: %s\n", m->path,
                tdm_last_error() ? tdm_last_error() : tdm_status_name(st));
        return -1;
    }
    m->nin = tdm_model_num_inputs(m->model);
    m->nout = tdm_model_num_outputs(m->model);
    if (m->nin > SRV_MAX_IO || m->nout > SRV_MAX_IO) {
        fprintf(stderr, "tandem serve: %s: %d inputs and %d outputs; the server takes at most %d each\n", m->path,
                m->nin, m->nout, SRV_MAX_IO);
        return -1;
    }
    for (int i = 0; i < m->nin + m->nout; i++) {
        tdm_tensor_info info;
        int is_in = i < m->nin;
        st = is_in ? tdm_model_input_info(m->model, i, &info) : tdm_model_output_info(m->model, i - m->nin, &info);
        if (st != TDM_OK) return -1;
        srv_io *io = is_in ? &m->in[i] : &m->out[i - m->nin];
        io->name = info.name ? info.name : "";
        io->dtype = info.dtype;
        io->rank = info.rank;
        memcpy(io->dims, info.dims, sizeof io->dims);
        io->index_hi = is_in ? tdm_model_input_index_limit(m->model, i) : 0;
        if (!proto_dtype_name(info.dtype) || (is_in && proto_dtype_size(info.dtype) == 0)) {
            fprintf(stderr, "tandem serve: %s: tensor '%s' has type %s, which the server does not handle\n", m->path,
                    io->name, tdm_dtype_name(info.dtype));
            return -1;
        }
    }
    /* Batching is off unless config.json asks for it: measured on CIFAR ResNet-20 (2 cores, 2 workers, concurrency
     * 16), batches of up to 8 gave 10-25 % fewer requests/s than running each request alone, since a batch's
     * activations outgrow the L2 cache while the engine's per-image cost does not fall with the batch. */
    m->max_batch = 1;
    m->max_delay_us = 0;
    m->nstats = 1;
    m->mean[0] = 0;
    m->std[0] = 1;
    if (repo_config(m) != 0) return -1;
    if (repo_probe(m) != 0) return -1;
    if (!m->batchable && m->max_batch > 1) {
        fprintf(stderr, "tandem serve: model '%s': max_batch %d ignored: its tensors have no shared batch dimension\n",
                m->name, m->max_batch);
        m->max_batch = 1;
    }
    m->load_s = srv_now() - t0;
    m->proto.name = m->name;
    m->proto.nin = m->nin;
    m->proto.nout = m->nout;
    m->proto.in = m->in;
    m->proto.out = m->out;
    m->proto.max_elems = max_elems;
    fprintf(stderr, "tandem serve: loaded model '%s' (%lld bytes, %d inputs, %d outputs, max_batch %d%s, %.1f ms)\n",
            m->name, (long long)m->file_bytes, m->nin, m->nout, m->max_batch,
            m->batchable ? "" : ", not batchable", m->load_s * 1e3);
    return 0;
}

int srv_repo_load(const char *dir, int64_t max_elems, srv_repo *repo) {
    memset(repo, 0, sizeof *repo);
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "tandem serve: cannot open the model repository '%s': %s\n", dir, strerror(errno));
        return -1;
    }
    char *names[REPO_MAX_MODELS];
    int n = 0, rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char *sub = repo_join(dir, e->d_name);
        char *mp = sub ? repo_join(sub, "model.onnx") : NULL;
        struct stat sb;
        if (mp && stat(mp, &sb) == 0 && S_ISREG(sb.st_mode)) {
            if (n == REPO_MAX_MODELS) {
                fprintf(stderr, "tandem serve: more than %d models in '%s'\n", REPO_MAX_MODELS, dir);
                rc = -1;
            } else if (!(names[n++] = strdup(e->d_name))) {
                rc = -1;
            }
        }
        free(mp);
        free(sub);
        if (rc) break;
    }
    closedir(d);
    if (rc == 0 && n == 0) {
        fprintf(stderr, "tandem serve: no models in '%s' (expected DIR/<name>/model.onnx)\n", dir);
        rc = -1;
    }
    if (rc == 0) {
        qsort(names, (size_t)n, sizeof names[0], repo_cmp);
        repo->models = calloc((size_t)n, sizeof *repo->models);
        if (!repo->models) rc = -1;
    }
    for (int i = 0; i < n; i++) {
        if (rc == 0) {
            srv_model *m = &repo->models[repo->count++];
            m->index = i;
            m->name = names[i];
            names[i] = NULL;
            m->dir = repo_join(dir, m->name);
            m->path = m->dir ? repo_join(m->dir, "model.onnx") : NULL;
            if (!m->path || repo_load_one(m, max_elems) != 0) rc = -1;
        }
        free(names[i]);
    }
    if (rc) srv_repo_free(repo);
    return rc;
}

void srv_repo_free(srv_repo *repo) {
    for (int i = 0; i < repo->count; i++) {
        srv_model *m = &repo->models[i];
        tdm_model_free(m->model);
        for (int k = 0; k < m->nlabels; k++) free(m->labels[k]);
        free(m->labels);
        free(m->name);
        free(m->dir);
        free(m->path);
    }
    free(repo->models);
    memset(repo, 0, sizeof *repo);
}

srv_model *srv_repo_find(srv_repo *repo, const char *name, size_t name_len) {
    for (int i = 0; i < repo->count; i++)
        if (strlen(repo->models[i].name) == name_len && memcmp(repo->models[i].name, name, name_len) == 0)
            return &repo->models[i];
    return NULL;
}
