/* wasm_relaxed.c - renumbers the relaxed-SIMD fused multiply-adds of a WebAssembly module between the final opcodes
 * (what LLVM 19 writes and Chromium runs) and the prototype opcodes (what Debian's binaryen 108 reads).
 *
 * Why: Debian's emscripten 3.1.6 can compile with Debian's clang-19 (mk/wasm.mk, WASM_RELAXED), whose -mrelaxed-simd
 * writes f32x4.relaxed_madd as 0xfd 0x105. emcc then runs binaryen 108 (wasm-emscripten-finalize, wasm-opt) on the
 * linked module, and binaryen 108 knows relaxed SIMD only by the prototype's numbers (0xfd 0xaf), so it stops with
 * "invalid code after SIMD prefix: 261". tools/binaryen-relaxed runs each binaryen tool with the module renumbered to
 * the prototype's opcodes, and renumbers its output back. Both encodings take two LEB128 bytes, so the rewrite is in
 * place and no size changes. The code section is decoded instruction by instruction (every immediate skipped by its
 * encoding), so bytes inside constants, shuffles or memory offsets are never touched; a body that does not decode to
 * its exact size stops the tool with an error instead of guessing.
 *
 *   wasm_relaxed --to-proto|--to-final FILE.wasm     rewrite in place (WASM_RELAXED_VERBOSE=1: say how many)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *p, *end;
    int bad;
} rd;

static uint64_t leb_u(rd *r) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) break;
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    r->bad = 1;
    return 0;
}

static void skip(rd *r, size_t n) {
    if ((size_t)(r->end - r->p) < n) {
        r->bad = 1;
        r->p = r->end;
    } else {
        r->p += n;
    }
}

static void memarg(rd *r) {
    uint64_t align = leb_u(r);
    if (align & 0x40) leb_u(r); /* multi-memory: a memory index follows */
    leb_u(r);                   /* offset */
}

/* f32x4.relaxed_madd, f32x4.relaxed_nmadd, f64x2.relaxed_madd, f64x2.relaxed_nmadd */
static const unsigned FINAL[4] = {0x105, 0x106, 0x107, 0x108};
static const unsigned PROTO[4] = {0xaf, 0xb0, 0xcf, 0xd0};

/* One function body [r->p, end): returns the number of opcodes renumbered, or -1 if it does not decode. */
static long body(rd *r, int to_proto) {
    long changed = 0;
    uint64_t groups = leb_u(r);
    for (uint64_t i = 0; i < groups && !r->bad; i++) {
        leb_u(r);
        skip(r, 1); /* a value type (numeric, v128, funcref, externref: one byte each) */
    }
    uint8_t last = 0;
    while (r->p < r->end && !r->bad) {
        uint8_t op = *r->p++;
        last = op;
        switch (op) {
        case 0x02: case 0x03: case 0x04: { /* block type: 0x40, a value type, or a type index (s33) */
            uint8_t b = r->p < r->end ? *r->p : 0;
            if (b == 0x40 || (b >= 0x6f && b <= 0x7f)) skip(r, 1);
            else leb_u(r);
            break;
        }
        case 0x0c: case 0x0d: case 0x10: case 0x12: case 0x20: case 0x21: case 0x22: case 0x23: case 0x24:
        case 0x25: case 0x26: case 0x3f: case 0x40: case 0xd2:
            leb_u(r);
            break;
        case 0x0e: { /* br_table */
            uint64_t n = leb_u(r);
            for (uint64_t k = 0; k <= n && !r->bad; k++) leb_u(r);
            break;
        }
        case 0x11: case 0x13: /* call_indirect, return_call_indirect: type index, table index */
            leb_u(r);
            leb_u(r);
            break;
        case 0x1c: { /* select t* */
            uint64_t n = leb_u(r);
            skip(r, n);
            break;
        }
        case 0x41: case 0x42: /* i32.const, i64.const: signed LEB, same skipping */
            leb_u(r);
            break;
        case 0x43: skip(r, 4); break;
        case 0x44: skip(r, 8); break;
        case 0xd0: skip(r, 1); break; /* ref.null t */
        case 0xfc: {
            uint64_t sub = leb_u(r);
            if (sub <= 7) break;                                              /* trunc_sat */
            if (sub == 8 || sub == 10 || sub == 12 || sub == 14) leb_u(r);    /* two indices */
            if (sub <= 17) leb_u(r);
            else r->bad = 1;
            break;
        }
        case 0xfd: {
            uint8_t *at = r->p;
            uint64_t sub = leb_u(r);
            if (sub <= 0x0b || sub == 0x5c || sub == 0x5d) {
                memarg(r);
            } else if (sub == 0x0c || sub == 0x0d) {
                skip(r, 16);
            } else if (sub >= 0x15 && sub <= 0x22) {
                skip(r, 1);
            } else if (sub >= 0x54 && sub <= 0x5b) {
                memarg(r);
                skip(r, 1);
            } else {
                const unsigned *from = to_proto ? FINAL : PROTO, *to = to_proto ? PROTO : FINAL;
                for (int k = 0; k < 4; k++)
                    if (sub == from[k]) {
                        if (r->p - at != 2) { /* both encodings are two bytes; anything else is not ours */
                            r->bad = 1;
                            break;
                        }
                        at[0] = (uint8_t)(0x80 | (to[k] & 0x7f));
                        at[1] = (uint8_t)(to[k] >> 7);
                        changed++;
                    }
            }
            break;
        }
        case 0xfe: { /* atomics */
            uint64_t sub = leb_u(r);
            if (sub == 0x03) skip(r, 1);
            else memarg(r);
            break;
        }
        default:
            if (op >= 0x28 && op <= 0x3e) memarg(r);      /* loads and stores */
            else if (op > 0xc4 && op != 0xd1) r->bad = 1; /* other plain opcodes up to sign-ext: no immediate */
            break;
        }
    }
    return r->bad || r->p != r->end || last != 0x0b ? -1 : changed;
}

int main(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[1], "--to-proto") && strcmp(argv[1], "--to-final"))) {
        fprintf(stderr, "usage: wasm_relaxed --to-proto|--to-final FILE.wasm\n");
        return 2;
    }
    int to_proto = !strcmp(argv[1], "--to-proto");
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = size > 0 ? malloc((size_t)size) : NULL;
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "wasm_relaxed: %s: cannot read\n", argv[2]);
        return 1;
    }
    fclose(f);
    if (size < 8 || memcmp(buf, "\0asm\1\0\0\0", 8)) {
        fprintf(stderr, "wasm_relaxed: %s: not a WebAssembly module (version 1)\n", argv[2]);
        return 1;
    }
    rd r = {buf + 8, buf + size, 0};
    long changed = 0;
    while (r.p < r.end && !r.bad) {
        uint8_t id = *r.p++;
        uint64_t len = leb_u(&r);
        if (r.bad || len > (uint64_t)(r.end - r.p)) break;
        uint8_t *send = r.p + len;
        if (id == 10) {
            rd s = {r.p, send, 0};
            uint64_t n = leb_u(&s);
            for (uint64_t i = 0; i < n && !s.bad; i++) {
                uint64_t blen = leb_u(&s);
                if (s.bad || blen > (uint64_t)(send - s.p)) {
                    s.bad = 1;
                    break;
                }
                rd b = {s.p, s.p + blen, 0};
                long c = body(&b, to_proto);
                if (c < 0) {
                    fprintf(stderr, "wasm_relaxed: %s: function body %llu does not decode (at byte %ld)\n", argv[2],
                            (unsigned long long)i, (long)(b.p - buf));
                    return 1;
                }
                changed += c;
                s.p += blen;
            }
            if (s.bad || s.p != send) r.bad = 1;
        }
        r.p = send;
    }
    if (r.bad || r.p != r.end) {
        fprintf(stderr, "wasm_relaxed: %s: malformed section layout\n", argv[2]);
        return 1;
    }
    f = fopen(argv[2], "r+b");
    if (!f || fwrite(buf, 1, (size_t)size, f) != (size_t)size || fclose(f)) {
        fprintf(stderr, "wasm_relaxed: %s: cannot write\n", argv[2]);
        return 1;
    }
    if (getenv("WASM_RELAXED_VERBOSE"))
        fprintf(stderr, "wasm_relaxed: %s: %ld instruction(s) renumbered to the %s opcodes\n", argv[2], changed,
                to_proto ? "prototype" : "final");
    free(buf);
    return 0;
}
