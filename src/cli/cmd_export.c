/* cmd_export.c - `tandem export-image`: writes one record of a CIFAR-layout dataset as a PNG, so that the image
 * path of `tandem run` (and the browser page and the server's /classify) can be fed real test images. */
#include <stdlib.h>
#include <string.h>

#include <stb/stb_image_write.h>

#include "cli.h"
#include "../common/cifar.h"

typedef struct export_opts {
    const char *dataset, *output;
    int64_t index, scale;
} export_opts;

static const opt_spec export_options[] = {
    OPT_STR(export_opts, dataset, "dataset", "FILE", "records of 1 label byte + 3072 pixel bytes"),
    OPT_INT(export_opts, index, "index", 0, INT32_MAX, "I", "record number (default 0)"),
    OPT_STR_ALIAS(export_opts, output, "output", 'o', "FILE", "the PNG to write"),
    OPT_INT(export_opts, scale, "scale", 1, 32, "S", "upscale by S with nearest neighbour (default 1)"),
    OPT_END,
};

static int cmd_export_image(const cli_command *self, int argc, char **argv) {
    export_opts o = {.scale = 1};
    if (cli_parse(self, argc, argv, &o) != CLI_OK) return CLI_USAGE;
    if (!o.dataset || !o.output)
        return cli_usage_error("export-image: --dataset FILE and --output FILE.png are required");
    cifar_file data;
    unsigned char rec[CIFAR_RECORD];
    char err[1024];
    int ok = cifar_open(o.dataset, &data, err, sizeof err) == 0 &&
             cifar_read(&data, o.index, 1, rec, err, sizeof err) == 0;
    cifar_close(&data);
    if (!ok) return cli_error("%s", err);
    int side = CIFAR_SIDE * (int)o.scale;
    unsigned char *rgb = malloc((size_t)side * side * 3);
    if (!rgb) return cli_error("out of memory");
    cifar_to_rgb(rec, (int)o.scale, rgb);
    int w = stbi_write_png(o.output, side, side, 3, rgb, side * 3);
    free(rgb);
    if (!w) return cli_error("cannot write '%s'", o.output);
    printf("{\"output\": \"%s\", \"index\": %lld, \"label\": %d, \"size\": %d}\n", o.output, (long long)o.index,
           cifar_label(rec), side);
    return CLI_OK;
}

const cli_command cli_cmd_export_image = {
    "export-image", cmd_export_image, export_options,
    "export-image --dataset FILE --index I --output FILE.png [--scale S]",
    "write one record of a CIFAR-layout dataset as a PNG (label printed as JSON)"};
