/* cmd_export.c - `tandem export-image`: writes one record of a CIFAR-layout dataset as a PNG, so that the image
 * path of `tandem run` (and later the browser page and the server's /classify) can be fed real test images. */
#include <stdlib.h>
#include <string.h>

#include <stb/stb_image_write.h>

#include "cli.h"

#define REC_BYTES 3073

int cmd_export_image(int argc, char **argv) {
    cli_args a;
    const char *opt, *pos, *dataset = NULL, *out = NULL;
    int64_t index = 0, scale = 1;
    cli_args_init(&a, argc, argv);
    while (cli_next_arg(&a, &opt, &pos)) {
        const char *v;
        if (!opt) return cli_usage_error("export-image: unexpected argument '%s'", pos);
        if (!strcmp(opt, "dataset") || !strcmp(opt, "o") || !strcmp(opt, "-o") || !strcmp(opt, "output")) {
            if (!(v = cli_opt_value(&a, opt))) return CLI_USAGE;
            if (!strcmp(opt, "dataset")) dataset = v;
            else out = v;
        } else if (!strcmp(opt, "index") || !strcmp(opt, "scale")) {
            if (!(v = cli_opt_value(&a, opt))) return CLI_USAGE;
            if (!cli_parse_int(opt, v, !strcmp(opt, "index") ? 0 : 1, !strcmp(opt, "index") ? INT32_MAX : 32,
                               !strcmp(opt, "index") ? &index : &scale))
                return CLI_USAGE;
        } else
            return cli_usage_error("export-image: unknown option '--%s'", opt);
    }
    if (!dataset || !out) return cli_usage_error("export-image: --dataset FILE and --output FILE.png are required");
    if (cli_check_file("dataset", dataset) != CLI_OK) return CLI_ERR;
    FILE *f = fopen(dataset, "rb");
    if (!f) return cli_error("cannot open dataset '%s'", dataset);
    unsigned char rec[REC_BYTES];
    int ok = fseek(f, (long)(index * REC_BYTES), SEEK_SET) == 0 && fread(rec, 1, REC_BYTES, f) == REC_BYTES;
    fclose(f);
    if (!ok) return cli_error("dataset '%s' has no record %lld", dataset, (long long)index);
    int s = (int)scale, side = 32 * s;
    unsigned char *rgb = malloc((size_t)side * side * 3);
    if (!rgb) return cli_error("out of memory");
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++)
            for (int c = 0; c < 3; c++) rgb[(y * side + x) * 3 + c] = rec[1 + c * 1024 + (y / s) * 32 + x / s];
    int w = stbi_write_png(out, side, side, 3, rgb, side * 3);
    free(rgb);
    if (!w) return cli_error("cannot write '%s'", out);
    printf("{\"output\": \"%s\", \"index\": %lld, \"label\": %d, \"size\": %d}\n", out, (long long)index, rec[0], side);
    return CLI_OK;
}
