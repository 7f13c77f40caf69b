/* cmd_export.c - `tandem export-image`: writes one record of a CIFAR-layout dataset as a PNG, so that the image
 * path of `tandem run` (and later the browser page and the server's /classify) can be fed real test images. */
#include <stdlib.h>
#include <string.h>

#include <stb/stb_image_write.h>

#include "cli.h"
#include "../common/cifar.h"

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
    cifar_file data;
    unsigned char rec[CIFAR_RECORD];
    char err[1024];
    int ok = cifar_open(dataset, &data, err, sizeof err) == 0 && cifar_read(&data, index, 1, rec, err, sizeof err) == 0;
    cifar_close(&data);
    if (!ok) return cli_error("%s", err);
    int side = CIFAR_SIDE * (int)scale;
    unsigned char *rgb = malloc((size_t)side * side * 3);
    if (!rgb) return cli_error("out of memory");
    cifar_to_rgb(rec, (int)scale, rgb);
    int w = stbi_write_png(out, side, side, 3, rgb, side * 3);
    free(rgb);
    if (!w) return cli_error("cannot write '%s'", out);
    printf("{\"output\": \"%s\", \"index\": %lld, \"label\": %d, \"size\": %d}\n", out, (long long)index, cifar_label(rec), side);
    return CLI_OK;
}
