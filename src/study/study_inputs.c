/* study_inputs.c - what `tandem study` feeds each model. It loads the model, reads its inputs and decides:
 *   image   one float input [N,C,H,W] (NCHW) or [N,H,W,C] (NHWC), C 1 or 3: the study's pictures at the model's
 *           declared size (made from the 32x32 base pictures under OUT/images/<H>x<W>, so every path decodes the
 *           same pixels), normalised with the mean/std the plan chose; the cloud path posts them to /classify when
 *           the layout is NCHW (what tandem serve's /classify takes), else sends tensors through /infer;
 *   tensor  anything else (text encoders, multi-input models): synthetic tensors of the declared shape (token ids
 *           uniform within the rows of the table they index, tdm_model_input_index_limit; other integer inputs,
 *           masks, all ones; float inputs seeded noise) or the user's TensorProto files (--inputs DIR: DIR/<model>/
 *           or DIR, as input_0.pb ... or test_data_set_K/input_0.pb ...), written as raw little-endian samples
 *           OUT/inputs/<name>/<k>/input_<i>.bin that the native, browser and cloud paths all read.
 * Symbolic dimensions come from --shape NAME=1x3x224x224; otherwise a leading one is the batch (1), an image's
 * H and W the config's size or 224, and any other is an error that names the flag. Before the study measures
 * anything the model is planned and run once on its first sample: a model the engine cannot run is reported with
 * the engine's message and left out of the measurements (and out of the server's repository). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stb/stb_image_write.h>

#include "tandem.h"
#include "../common/image.h"
#include "../common/util.h"
#include "study.h"

#define SAMPLE_MAX_BYTES ((size_t)1 << 30)

int study_softmax_top(const float *row, int64_t k, float *prob, int top, int *idx) {
    float mx = row[0];
    for (int64_t i = 1; i < k; i++) mx = row[i] > mx ? row[i] : mx;
    double sum = 0;
    for (int64_t i = 0; i < k; i++) sum += prob[i] = expf(row[i] - mx);
    for (int64_t i = 0; i < k; i++) prob[i] = (float)(prob[i] / sum);
    int n = top < k ? top : (int)k;
    for (int t = 0; t < n; t++) { /* partial selection: top is small */
        int best = -1;
        for (int64_t i = 0; i < k; i++) {
            int taken = 0;
            for (int u = 0; u < t; u++) taken |= idx[u] == i;
            if (!taken && (best < 0 || prob[i] > prob[best])) best = (int)i;
        }
        idx[t] = best;
    }
    return idx[0];
}

int study_parse_triple(const char *arg, float out[3], char *err, size_t errlen) {
    char *end;
    const char *s = arg;
    for (int c = 0; c < 3; c++) {
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || errno || (c < 2 && *end != ',') || (c == 2 && *end))
            return err_set(err, errlen, "study: '%s' is not three numbers a,b,c", arg);
        out[c] = (float)v;
        s = end + 1;
    }
    return 0;
}

static int add_shape(void *ctx, const char *name, const int64_t *dims, int rank) {
    study_plan *p = ctx;
    if (p->n_shapes == STUDY_MAX_SHAPES) return 1;
    int k = p->n_shapes;
    if (!(p->shape_name[k] = strdup(name))) return 1;
    memcpy(p->shape_dims[k], dims, (size_t)rank * sizeof *dims);
    p->shape_rank[k] = rank;
    p->n_shapes++;
    return 0;
}

int study_plan_shape(study_plan *p, const char *arg, char *err, size_t errlen) {
    int rc = shape_list_parse(arg, TDM_MAX_RANK, add_shape, p, err, errlen);
    if (rc > 0) return err_set(err, errlen, "study: at most %d --shape entries", STUDY_MAX_SHAPES);
    return rc;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static const char *dtype_name(tdm_dtype t) {
    switch (t) {
    case TDM_FLOAT: return "float32";
    case TDM_INT64: return "int64";
    case TDM_INT32: return "int32";
    case TDM_UINT8: return "uint8";
    case TDM_INT8: return "int8";
    case TDM_BOOL: return "bool";
    case TDM_DOUBLE: return "float64";
    case TDM_FLOAT16: return "float16";
    default: return "other";
    }
}

/* The shape the study feeds input `info`: --shape when given, else the declared dims with a symbolic batch 1 and an
 * image's symbolic H/W from size_hw. -1 with the reason when a symbolic dimension is left. */
static int resolve_dims(const study_plan *p, const tdm_tensor_info *info, const int64_t size_hw[2], int image, int nhwc,
                        int64_t *dims, char *err, size_t errlen) {
    const char *nm = info->name ? info->name : "";
    for (int k = 0; k < p->n_shapes; k++)
        if (!strcmp(p->shape_name[k], nm)) {
            if (p->shape_rank[k] != info->rank)
                return err_set(err, errlen, "--shape %s has rank %d, the model's input has rank %d", nm,
                               p->shape_rank[k], info->rank);
            for (int d = 0; d < info->rank; d++) {
                if (info->dims[d] >= 0 && info->dims[d] != p->shape_dims[k][d])
                    return err_set(err, errlen, "--shape %s: dimension %d is %lld, the model declares %lld", nm, d,
                                   (long long)p->shape_dims[k][d], (long long)info->dims[d]);
                dims[d] = p->shape_dims[k][d];
            }
            return 0;
        }
    for (int d = 0; d < info->rank; d++) {
        dims[d] = info->dims[d];
        if (dims[d] >= 0) continue;
        if (d == 0) dims[d] = 1;
        else if (image && d == (nhwc ? 1 : 2)) dims[d] = size_hw[0];
        else if (image && d == (nhwc ? 2 : 3)) dims[d] = size_hw[1];
        else if (image) dims[d] = 3;
        else
            return err_set(err, errlen, "input '%s' dimension %d ('%s') is symbolic: give its shape with --shape %s=...",
                           nm, d, info->dim_param[d] ? info->dim_param[d] : "", nm);
    }
    return 0;
}

/* The pictures at h x w (3-channel PNGs) made from the base pictures with the study's own resize, once per size. */
static int images_at(const char *base, const char *out_dir, int64_t h, int64_t w, int n, char *dir, size_t cap,
                     char *err, size_t errlen) {
    snprintf(dir, cap, "%s/images/%lldx%lld", out_dir, (long long)h, (long long)w);
    if (h == 32 && w == 32) return snprintf(dir, cap, "%s", base), 0;
    if (study_mkdir_p(dir)) return err_set(err, errlen, "study: cannot create %s", dir);
    static const float zero[3] = {0, 0, 0}, one[3] = {1, 1, 1};
    unsigned char *rgb = malloc((size_t)(3 * h * w));
    if (!rgb) return err_set(err, errlen, "out of memory");
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        char src[PATH_MAX], dst[PATH_MAX];
        snprintf(src, sizeof src, "%s/img_%03d.png", base, i);
        snprintf(dst, sizeof dst, "%s/img_%03d.png", dir, i);
        if (is_file(dst)) continue;
        int64_t hh = h, ww = w;
        float *x = NULL;
        if (image_load_file(src, 3, &hh, &ww, zero, one, 3, &x, err, errlen)) {
            rc = -1;
            break;
        }
        for (int64_t k = 0; k < h * w; k++)
            for (int c = 0; c < 3; c++) {
                float v = x[c * h * w + k] * 255.0f + 0.5f;
                rgb[k * 3 + c] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        free(x);
        if (!stbi_write_png(dst, (int)w, (int)h, 3, rgb, (int)(w * 3)))
            rc = err_set(err, errlen, "study: cannot write %s", dst);
    }
    free(rgb);
    return rc;
}

static int write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static size_t input_bytes(const study_input *in) {
    size_t n = tdm_dtype_size(in->dtype);
    for (int d = 0; d < in->rank; d++) n *= (size_t)in->dims[d];
    return n;
}

/* The user's sample folders under dir: dir itself when it holds input_0.pb, else dir/test_data_set_K. */
static int user_samples(const char *dir, char (*sets)[PATH_MAX], int max) {
    char t[PATH_MAX];
    snprintf(t, sizeof t, "%s/input_0.pb", dir);
    if (is_file(t)) return snprintf(sets[0], PATH_MAX, "%s", dir), 1;
    int n = 0;
    for (int k = 0; n < max; k++) {
        snprintf(t, sizeof t, "%s/test_data_set_%d/input_0.pb", dir, k);
        if (!is_file(t)) break;
        snprintf(sets[n++], PATH_MAX, "%s/test_data_set_%d", dir, k);
    }
    return n;
}

/* Sample k of the user's tensors into io's sample folder, checked against the model; shapes from the first sample. */
static int user_tensors(study_model_io *io, const char *set, int k, const char *outk, char *err, size_t errlen) {
    for (int i = 0; i < io->n_inputs; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/input_%d.pb", set, i);
        tdm_tensor *t = NULL;
        if (tdm_tensor_read_file(path, &t))
            return err_set(err, errlen, "--inputs: %s: %s", path, tdm_last_error() ? tdm_last_error() : "unreadable");
        study_input *in = &io->in[i];
        int bad = t->dtype != in->dtype || t->rank != in->rank;
        for (int d = 0; !bad && d < t->rank; d++) bad = k > 0 && t->dims[d] != in->dims[d];
        if (bad) {
            tdm_tensor_free(t);
            return err_set(err, errlen, "--inputs: %s is not a %s tensor of rank %d%s for input '%s'", path,
                           dtype_name(in->dtype), in->rank, k > 0 ? " shaped like the first sample's" : "", in->name);
        }
        memcpy(in->dims, t->dims, sizeof in->dims);
        char dst[PATH_MAX];
        snprintf(dst, sizeof dst, "%s/input_%d.bin", outk, i);
        int rc = write_bytes(dst, t->data, input_bytes(in));
        tdm_tensor_free(t);
        if (rc) return err_set(err, errlen, "study: cannot write %s", dst);
    }
    return 0;
}

/* Synthetic sample k: token ids within their table, other integer inputs (masks) ones, floats noise. */
static int synthetic_tensors(study_model_io *io, uint64_t seed, const char *outk, char *err, size_t errlen) {
    rng_state rng = {seed};
    for (int i = 0; i < io->n_inputs; i++) {
        study_input *in = &io->in[i];
        size_t bytes = input_bytes(in), es = tdm_dtype_size(in->dtype), n = es ? bytes / es : 0;
        unsigned char *buf = calloc(1, bytes ? bytes : 1);
        if (!buf) return err_set(err, errlen, "out of memory");
        for (size_t e = 0; e < n; e++) {
            int64_t v = in->index_limit > 0 ? (int64_t)(rng_next(&rng) % (uint64_t)in->index_limit) : 1;
            if (in->dtype == TDM_FLOAT) ((float *)buf)[e] = (float)rng_uniform(&rng);
            else if (in->dtype == TDM_INT64) ((int64_t *)buf)[e] = v;
            else if (in->dtype == TDM_INT32) ((int32_t *)buf)[e] = (int32_t)v;
            else if (in->dtype == TDM_BOOL || in->dtype == TDM_UINT8) buf[e] = 1;
        }
        char dst[PATH_MAX];
        snprintf(dst, sizeof dst, "%s/input_%d.bin", outk, i);
        int rc = write_bytes(dst, buf, bytes);
        free(buf);
        if (rc) return err_set(err, errlen, "study: cannot write %s", dst);
    }
    return 0;
}

void *study_sample_read(const study_plan *p, int m, int k, int i, size_t *bytes) {
    char path[PATH_MAX], err[256];
    snprintf(path, sizeof path, "%s/%d/input_%d.bin", p->io[m].sample_dir, k, i);
    char *data = NULL;
    size_t n = 0;
    if (file_read("sample", path, SAMPLE_MAX_BYTES, &data, &n, err, sizeof err)) return NULL;
    if (n != input_bytes(&p->io[m].in[i])) {
        free(data);
        return NULL;
    }
    *bytes = n;
    return data;
}

float *study_image_tensor(const study_plan *p, int m, const char *path, size_t *bytes, char *err, size_t errlen) {
    const study_model_io *io = &p->io[m];
    int64_t h = io->h, w = io->w, c = io->c;
    float *x = NULL;
    if (image_load_file(path, (int)c, &h, &w, io->mean, io->std, 3, &x, err, errlen)) return NULL;
    if (io->nhwc) {
        float *t = malloc((size_t)(c * h * w) * sizeof *t);
        if (!t) {
            free(x);
            err_set(err, errlen, "out of memory");
            return NULL;
        }
        for (int64_t q = 0; q < h * w; q++)
            for (int64_t ch = 0; ch < c; ch++) t[q * c + ch] = x[ch * h * w + q];
        free(x);
        x = t;
    }
    *bytes = (size_t)(c * h * w) * sizeof(float);
    return x;
}

/* Plan and run the model once on its first sample (a zero image for image models): the engine's verdict. */
static int trial_run(const study_plan *p, int m, tdm_model *model, char *err, size_t errlen) {
    const study_model_io *io = &p->io[m];
    tdm_session *s = NULL;
    tdm_session_options so = {.threads = 1};
    tdm_status st = tdm_session_create(model, &so, &s);
    for (int i = 0; i < io->n_inputs && !st; i++) st = tdm_session_set_input_shape(s, i, io->in[i].dims, io->in[i].rank);
    for (int i = 0; i < io->n_inputs && !st; i++) {
        size_t n = 0;
        void *data = io->image ? calloc(1, input_bytes(&io->in[i])) : study_sample_read(p, m, 0, i, &n);
        n = input_bytes(&io->in[i]);
        if (!data) {
            tdm_session_free(s);
            return err_set(err, errlen, "cannot read sample 0 of input %d", i);
        }
        st = tdm_session_set_input(s, i, data, n);
        free(data);
    }
    if (!st) st = tdm_session_run(s);
    if (st) err_set(err, errlen, "%s", tdm_last_error() ? tdm_last_error() : tdm_status_name(st));
    if (s) tdm_session_free(s);
    return st ? -1 : 0;
}

int study_prepare_io(study_plan *p, int m, const char *base_images, char *err, size_t errlen) {
    study_model_io *io = &p->io[m];
    memset(io, 0, sizeof *io);
    io->norm_source = "";
    tdm_model *model = NULL;
    char why[sizeof io->error] = "";
    int rc = 0;
    if (tdm_model_load_file(p->model_path[m], NULL, &model)) {
        snprintf(io->error, sizeof io->error, "load: %s", tdm_last_error() ? tdm_last_error() : "failed");
        return 0;
    }
    io->n_inputs = tdm_model_num_inputs(model);
    if (io->n_inputs > STUDY_MAX_INPUTS) {
        snprintf(io->error, sizeof io->error, "%d inputs; the study feeds at most %d", io->n_inputs, STUDY_MAX_INPUTS);
        goto done;
    }
    char udir[PATH_MAX] = "";
    if (p->inputs_dir) {
        snprintf(udir, sizeof udir, "%s/%s", p->inputs_dir, p->model_name[m]);
        if (!is_dir(udir)) snprintf(udir, sizeof udir, "%s", p->inputs_dir);
    }
    tdm_tensor_info info0;
    tdm_model_input_info(model, 0, &info0);
    if (io->n_inputs == 1 && !udir[0] && info0.dtype == TDM_FLOAT && info0.rank == 4) {
        int64_t c1 = info0.dims[1], c3 = info0.dims[3];
        int nchw = c1 == 1 || c1 == 3, nhwc = c3 == 1 || c3 == 3;
        if (nchw || nhwc) {
            io->image = 1;
            io->nhwc = !nchw; /* [N,3,H,3] is read as NCHW */
        }
    }
    int64_t size_hw[2] = {224, 224};
    for (int i = 0; i < io->n_inputs; i++) {
        tdm_tensor_info info;
        tdm_model_input_info(model, i, &info);
        study_input *in = &io->in[i];
        snprintf(in->name, sizeof in->name, "%s", info.name ? info.name : "");
        in->dtype = info.dtype;
        in->rank = info.rank;
        in->index_limit = tdm_model_input_index_limit(model, i);
        if (resolve_dims(p, &info, size_hw, io->image, io->nhwc, in->dims, why, sizeof why)) {
            snprintf(io->error, sizeof io->error, "%s", why);
            goto done;
        }
        if (!tdm_dtype_size(in->dtype)) {
            snprintf(why, sizeof why, "input '%s' has type %s, which the study cannot make", in->name,
                     dtype_name(in->dtype));
            snprintf(io->error, sizeof io->error, "%s", why);
            goto done;
        }
    }
    if (io->image) {
        io->c = io->in[0].dims[io->nhwc ? 3 : 1];
        io->h = io->in[0].dims[io->nhwc ? 1 : 2];
        io->w = io->in[0].dims[io->nhwc ? 2 : 3];
        io->cloud_path = io->nhwc ? "infer" : "classify";
        if (images_at(base_images, p->out_dir, io->h, io->w, p->images, io->image_dir, sizeof io->image_dir, err,
                      errlen)) {
            rc = -1;
            goto done;
        }
    } else {
        io->cloud_path = "infer";
        snprintf(io->sample_dir, sizeof io->sample_dir, "%s/inputs/%s", p->out_dir, p->model_name[m]);
        char sets[64][PATH_MAX];
        int nsets = udir[0] ? user_samples(udir, sets, 64) : 0;
        if (udir[0] && !nsets) {
            snprintf(io->error, sizeof io->error, "--inputs: %s holds neither input_0.pb nor test_data_set_0/input_0.pb",
                     udir);
            goto done;
        }
        if (nsets) snprintf(io->tensor_source, sizeof io->tensor_source, "%d sample(s) from %s", nsets, udir);
        else
            snprintf(io->tensor_source, sizeof io->tensor_source,
                     "synthetic: integer ids uniform within the table they index, other integer inputs 1, floats "
                     "uniform [0,1)");
        for (int k = 0; k < p->images; k++) {
            char outk[PATH_MAX];
            snprintf(outk, sizeof outk, "%s/%d", io->sample_dir, k);
            if (study_mkdir_p(outk)) {
                rc = err_set(err, errlen, "study: cannot create %s", outk);
                goto done;
            }
            int r = nsets ? user_tensors(io, sets[k % nsets], k, outk, why, sizeof why)
                          : synthetic_tensors(io, 0x5eedULL + 7919ULL * (uint64_t)k, outk, why, sizeof why);
            if (r) {
                snprintf(io->error, sizeof io->error, "%s", why);
                goto done;
            }
        }
    }
    if (trial_run(p, m, model, why, sizeof why)) {
        snprintf(io->error, sizeof io->error, "run: %s", why);
        goto done;
    }
    io->ok = 1;
done:
    tdm_model_free(model);
    return rc;
}

cJSON *study_io_json(const study_plan *p, int m) {
    const study_model_io *io = &p->io[m];
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "kind", io->image ? "image" : "tensor");
    if (io->image) {
        cJSON_AddStringToObject(j, "layout", io->nhwc ? "NHWC" : "NCHW");
        cJSON_AddNumberToObject(j, "c", (double)io->c);
        cJSON_AddNumberToObject(j, "h", (double)io->h);
        cJSON_AddNumberToObject(j, "w", (double)io->w);
        cJSON_AddStringToObject(j, "image_dir", io->image_dir);
        cJSON_AddStringToObject(j, "norm_source", io->norm_source);
    } else {
        cJSON_AddStringToObject(j, "sample_dir", io->sample_dir);
        cJSON_AddStringToObject(j, "tensor_source", io->tensor_source);
    }
    if (io->cloud_path) cJSON_AddStringToObject(j, "cloud_path", io->cloud_path);
    cJSON *ins = cJSON_AddArrayToObject(j, "inputs");
    for (int i = 0; i < io->n_inputs; i++) {
        const study_input *in = &io->in[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", in->name);
        cJSON_AddStringToObject(o, "dtype", dtype_name(in->dtype));
        double d[TDM_MAX_RANK];
        for (int k = 0; k < in->rank; k++) d[k] = (double)in->dims[k];
        cJSON_AddItemToObject(o, "dims", cJSON_CreateDoubleArray(d, in->rank));
        cJSON_AddNumberToObject(o, "index_limit", (double)in->index_limit);
        cJSON_AddItemToArray(ins, o);
    }
    return j;
}
