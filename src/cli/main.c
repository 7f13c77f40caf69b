/* main.c - entry point of the `tandem` CLI: the list of commands, usage text and one-line error reporting. Each
 * command lives in its cmd_<name>.c file with its option table; how to add one is written at cli_commands[]. */
#include "cli.h"

#include <stdarg.h>
#include <string.h>

/* The commands, in the order `tandem help` lists them.
 *
 * Adding a command (`tandem worker`, say):
 *   1. src/cli/cmd_worker.c: an options struct with its defaults, an option table of opt_spec rows
 *      (src/common/opts.h; each row names a field, what it accepts and its help line), a function
 *      `static int cmd_worker(const cli_command *self, int argc, char **argv)` that starts with
 *      `cli_parse(self, argc, argv, &opts)`, and `const cli_command cli_cmd_worker = {"worker", cmd_worker,
 *      worker_options, "worker --server URL [...]", "one line for this list"};`
 *   2. declare cli_cmd_worker in cli.h and add &cli_cmd_worker below.
 * `tandem help worker` and `tandem worker --help` then print the table's options. Adding an option to a command is
 * one row in its table plus the field in its options struct; the Makefile picks up new files by itself. */
static const cli_command *const cli_commands[] = {
    &cli_cmd_info, &cli_cmd_run, &cli_cmd_eval, &cli_cmd_bench, &cli_cmd_study, &cli_cmd_serve, &cli_cmd_export_image,
    &cli_cmd_zoo, &cli_cmd_worker,
};
#define CLI_NUM_COMMANDS ((int)(sizeof cli_commands / sizeof cli_commands[0]))

static const cli_command *cli_find_command(const char *name) {
    for (int i = 0; i < CLI_NUM_COMMANDS; i++)
        if (strcmp(cli_commands[i]->name, name) == 0) return cli_commands[i];
    return NULL;
}

void cli_print_usage(FILE *f, const char *name) {
    const cli_command *c = name ? cli_find_command(name) : NULL;
    if (c) {
        fprintf(f, "usage: tandem %s\n\n%s\n", c->synopsis, c->summary);
        if (c->options && c->options[0].kind != OPTK_END) {
            fprintf(f, "\noptions:\n");
            opts_print_help(c->options, f);
        }
        return;
    }
    fprintf(f, "tandem %s - an ONNX inference engine for the client and the cloud\n\n", TDM_VERSION);
    fprintf(f, "usage: tandem <command> [options]\n\ncommands:\n");
    for (int i = 0; i < CLI_NUM_COMMANDS; i++)
        fprintf(f, "  %-6s %s\n", cli_commands[i]->name, cli_commands[i]->summary);
    fprintf(f, "  %-6s %s\n", "help", "show this list, or `tandem help COMMAND` for a command's options");
    fprintf(f, "\n  tandem --version   print the version\n");
    fprintf(f, "\nsynopsis:\n");
    for (int i = 0; i < CLI_NUM_COMMANDS; i++) fprintf(f, "  tandem %s\n", cli_commands[i]->synopsis);
    fprintf(f, "\nexit codes: 0 success, 1 runtime error, 2 usage error\n");
}

/* Length of a valid UTF-8 sequence at s (2..4 bytes), or 0. */
static int cli_utf8_len(const unsigned char *s) {
    int n = s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3 : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return n;
}

/* Print one "tandem: ..." line. Control characters (a newline inside an engine message) become spaces and bytes that
 * are not UTF-8 (names from a corrupted file) become '?', so the message stays one readable line. */
static void cli_vreport(const char *fmt, va_list ap) {
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    for (unsigned char *p = (unsigned char *)buf; *p; p++) {
        if (*p < 0x20 || *p == 0x7F) {
            *p = ' ';
        } else if (*p >= 0x80) {
            int n = cli_utf8_len(p);
            if (n) p += n - 1;
            else *p = '?';
        }
    }
    fflush(stdout);
    fprintf(stderr, "tandem: %s\n", buf);
    fflush(stderr);
}

int cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    cli_vreport(fmt, ap);
    va_end(ap);
    return CLI_ERR;
}

int cli_usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    cli_vreport(fmt, ap);
    va_end(ap);
    return CLI_USAGE;
}

int cli_engine_error(tdm_status st, const char *what) {
    const char *msg = tdm_last_error();
    if (!msg || !*msg) msg = tdm_status_name(st);
    if (!msg) msg = "unknown error";
    return cli_error("%s: %s", what, msg);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        cli_print_usage(stdout, NULL);
        return CLI_OK;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0 || strcmp(cmd, "version") == 0) {
        printf("tandem %s (kernels: %s)\n", TDM_VERSION, tdm_kernel_isa());
        return CLI_OK;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (argc > 2 && !cli_find_command(argv[2]))
            return cli_usage_error("unknown command '%s' (try 'tandem help')", argv[2]);
        cli_print_usage(stdout, argc > 2 ? argv[2] : NULL);
        return CLI_OK;
    }
    const cli_command *c = cli_find_command(cmd);
    if (!c) {
        if (cmd[0] == '-') return cli_usage_error("unknown option '%s' (try 'tandem help')", cmd);
        return cli_usage_error("unknown command '%s' (try 'tandem help')", cmd);
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli_print_usage(stdout, c->name);
            return CLI_OK;
        }
    }
    return c->run(c, argc - 1, argv + 1);
}
