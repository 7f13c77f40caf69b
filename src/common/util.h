/* util.h - the small things the CLI, the server and the study all need (src/common): a monotonic clock, reading a
 * whole file with a size cap and a clear reason on failure, and a seeded random generator. Like everything in
 * src/common it prints nothing: failures come back as a status and a sentence in the caller's buffer. */
#ifndef TANDEM_COMMON_UTIL_H
#define TANDEM_COMMON_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Write the sentence into err (errlen bytes, always NUL-terminated when errlen > 0) and return -1, so that library
 * code reports a failure as `return err_set(err, errlen, "cannot open '%s'", path);`. */
int err_set(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Milliseconds on the monotonic clock (CLOCK_MONOTONIC): for durations only. */
double clock_now_ms(void);

/* The current time in UTC as ISO 8601, "2024-05-01T12:34:56Z" (the "created" field of result documents); cap >= 21. */
void clock_utc_stamp(char *buf, size_t cap);

/* Check that path names a readable regular file, so a missing file gets a clear sentence ("cannot open model 'x': No
 * such file or directory", `what` being "model"). Returns 0, or -1 with the sentence in err. */
int file_check(const char *what, const char *path, char *err, size_t errlen);

/* Read a whole file of at most max bytes into a malloc'd, NUL-terminated buffer (*data_out, the caller frees it;
 * *size_out excludes the NUL). Returns 0, or -1 with the reason in err (and *data_out NULL). */
int file_read(const char *what, const char *path, size_t max, char **data_out, size_t *size_out, char *err,
              size_t errlen);

/* A shape list "name=1x3x224x224,mask=1x128" (--shape of `tandem study` and `tandem bench`): calls fn(ctx, name,
 * dims, rank) for each entry (name NUL-terminated in a scratch copy). Dimensions are integers in 1..2^31, at most
 * max_rank of them. Returns 0, fn's nonzero value, or -1 with the reason in err. */
int shape_list_parse(const char *list, int max_rank,
                     int (*fn)(void *ctx, const char *name, const int64_t *dims, int rank), void *ctx, char *err,
                     size_t errlen);

/* splitmix64: tiny, seedable with any value (0 included), good enough for test inputs and seeded weights. The state
 * is the struct's one field, so `rng_state r = {seed};` seeds it. */
typedef struct rng_state {
    uint64_t s;
} rng_state;
uint64_t rng_next(rng_state *r);
/* Uniform in [0, 1), 53 bits. */
double rng_uniform(rng_state *r);

#endif /* TANDEM_COMMON_UTIL_H */
