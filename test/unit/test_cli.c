/*
 * test_cli.c -- muxd's command line (src/muxd/cli.c): argv arrays parsed
 * into the options, --help and --version asked for, and each usage error
 * returned as its message (main() prints it and exits 2).
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cli.h"
#include "escape.h"

#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 32

/* One parse: argv owned here (the parser may change it: --text). */
typedef struct {
    char *argv[MAX_ARGS + 1];
    int argc;
    muxd_options_t opts;
    char msg[1024];
    muxd_cli_result result;
} parse_t;

/* Parses "muxd" + the NULL-terminated arguments, with `activated`
 * sockets from socket activation (stored as 3, 4, ...). */
static parse_t *parse_activated(int activated, ...) {
    parse_t *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    va_list ap;
    va_start(ap, activated);
    p->argv[p->argc++] = strdup("muxd");
    for (const char *a; (a = va_arg(ap, const char *)) != NULL;) {
        assert_true(p->argc < MAX_ARGS);
        p->argv[p->argc++] = strdup(a);
    }
    va_end(ap);
    for (int i = 0; i < activated && i < MAX_LISTEN; i++)
        p->opts.inherited[i] = 3 + i;
    strcpy(p->msg, "(none)");
    p->result = muxd_cli_parse(p->argc, p->argv, activated, &p->opts, p->msg,
                               sizeof(p->msg));
    return p;
}

#define parse(...) parse_activated(0, __VA_ARGS__, (const char *)NULL)
#define parse_none() parse_activated(0, (const char *)NULL)

static void done(parse_t *p) {
    for (int i = 0; i < p->argc; i++)
        free(p->argv[i]);
    free(p);
}

/* The parse must fail with exactly `msg`. */
static void expect_error(parse_t *p, const char *msg) {
    assert_int_equal(p->result, MUXD_CLI_USAGE);
    assert_string_equal(p->msg, msg);
    done(p);
}

static void test_defaults(void **state) {
    (void)state;
    parse_t *p = parse_none();
    assert_int_equal(p->result, MUXD_CLI_SERVE);
    assert_ptr_equal(p->opts.config.service, &muxd_echo_service);
    assert_int_equal(p->opts.nlisten, 1);
    assert_string_equal(p->opts.listen_text[0], "127.0.0.1:9999");
    assert_int_equal(p->opts.listen[0].transport, MUX_TCP);
    assert_string_equal(p->opts.listen[0].host, "127.0.0.1");
    assert_string_equal(p->opts.listen[0].port, "9999");
    assert_int_equal(p->opts.shutdown_timeout_ms, 5000);
    assert_int_equal(p->opts.log.level, MUXD_LOG_NORMAL);
    assert_int_equal(p->opts.log.format, MUXD_LOG_TEXT);
    assert_int_equal(p->opts.workers, 0);
    assert_null(p->opts.config.text);
    assert_int_equal(p->opts.relay.dump_max, 16 << 20);
    done(p);
}

static void test_serving_options(void **state) {
    (void)state;
    parse_t *p = parse("-s", "hello", "--text", "Hi\\x21\\n", "--framing",
                       "line", "--max-line", "100", "--delay", "250");
    assert_int_equal(p->result, MUXD_CLI_SERVE);
    assert_ptr_equal(p->opts.config.service, &muxd_hello_service);
    assert_int_equal(p->opts.config.text_len, 4);
    assert_memory_equal(p->opts.config.text, "Hi!\n", 4);
    assert_int_equal(p->opts.server.framing, MUX_FRAMING_LINE);
    assert_int_equal(p->opts.server.max_line, 100);
    assert_int_equal(p->opts.server.delay_ms, 250);
    done(p);
}

static void test_limits_and_sizes(void **state) {
    (void)state;
    parse_t *p = parse("-m", "10", "--max-output", "64k", "--idle-timeout",
                       "0.5", "--shutdown-timeout", "0", "--max-rate", "7",
                       "--udp-budget", "5:10", "--max-per-source", "3");
    assert_int_equal(p->result, MUXD_CLI_SERVE);
    assert_int_equal(p->opts.server.max_clients, 10);
    assert_int_equal(p->opts.server.max_output, 64 * 1024);
    assert_int_equal(p->opts.server.idle_timeout_ms, 500);
    assert_int_equal(p->opts.shutdown_timeout_ms, 0);
    assert_int_equal(p->opts.server.max_rate, 7);
    assert_int_equal(p->opts.server.dgram_rate, 5);
    assert_int_equal(p->opts.server.dgram_burst, 10);
    assert_int_equal(p->opts.server.max_per_source, 3);
    done(p);
    p = parse("--udp-budget", "0");
    assert_int_equal(p->opts.server.dgram_rate, MUX_UNLIMITED);
    done(p);
}

static void test_relay_options(void **state) {
    (void)state;
    parse_t *p = parse("--to", "127.0.0.1:5", "--connect-timeout", "0.5",
                       "--dump", "-", "--dump-max", "64k");
    assert_int_equal(p->result, MUXD_CLI_SERVE);
    assert_int_equal(p->opts.relay.nupstreams, 1);
    assert_string_equal(p->opts.relay.upstreams[0].upstream_text,
                        "127.0.0.1:5");
    assert_int_equal(p->opts.relay.connect_timeout_ms, 500);
    assert_string_equal(p->opts.relay.dump, "-");
    assert_int_equal(p->opts.relay.dump_max, 64 * 1024);
    done(p);
    expect_error(parse("--to", "5", "--dump", "-", "--dump-max", "0"),
                 "invalid dump limit: '0' (bytes, e.g. 64k; at most 1024G)");
    expect_error(parse("--to", "5", "--dump-max", "1M"),
                 "--dump-max needs --dump DIR|-");
    expect_error(parse("--dump-max", "1M"),
                 "--connect-timeout, --dump and --dump-max need --to "
                 "UPSTREAM");
}

static void test_listeners_take_host_given_later(void **state) {
    (void)state;
    parse_t *p =
        parse("-l", ":0", "-l", "udp://:7", "-l", "unix:/tmp/x", "-H", "::1");
    assert_int_equal(p->result, MUXD_CLI_SERVE);
    assert_int_equal(p->opts.nlisten, 3);
    assert_string_equal(p->opts.listen[0].host, "::1");
    assert_int_equal(p->opts.listen[1].transport, MUX_UDP);
    assert_string_equal(p->opts.listen[1].port, "7");
    assert_int_equal(p->opts.listen[2].transport, MUX_UNIX);
    done(p);
    p = parse("-H", "::1", "-p", "0");
    assert_string_equal(p->opts.listen_text[0], "[::1]:0");
    done(p);
}

static void test_fixture_options(void **state) {
    (void)state;
    parse_t *p = parse("--ready-file", "/tmp/r", "--pidfile", "/tmp/p", "--fd",
                       "7", "--workers", "3", "--log-format", "json", "-q",
                       "--user", "nobody", "--fault", "rst", "--allow",
                       "10.0.0.0/8", "--deny", "::1");
    assert_int_equal(p->result, MUXD_CLI_SERVE);
    assert_string_equal(p->opts.ready_file, "/tmp/r");
    assert_string_equal(p->opts.pidfile, "/tmp/p");
    assert_int_equal(p->opts.ninherited, 1);
    assert_int_equal(p->opts.inherited[0], 7);
    assert_int_equal(p->opts.nlisten, 0); /* an inherited socket: no default */
    assert_int_equal(p->opts.workers, 3);
    assert_int_equal(p->opts.log.format, MUXD_LOG_JSON);
    assert_int_equal(p->opts.log.level, MUXD_LOG_QUIET);
    assert_string_equal(p->opts.user, "nobody");
    assert_int_equal(p->opts.nfaults, 1);
    assert_string_equal(p->opts.faults[0], "rst");
    assert_int_equal(p->opts.acl.nallow, 1);
    assert_int_equal(p->opts.acl.ndeny, 1);
    done(p);
}

static void test_activated_sockets_come_first(void **state) {
    (void)state;
    parse_t *p = parse_activated(2, "--fd", "9", (const char *)NULL);
    assert_int_equal(p->result, MUXD_CLI_SERVE);
    assert_int_equal(p->opts.ninherited, 3);
    assert_int_equal(p->opts.inherited[0], 3);
    assert_int_equal(p->opts.inherited[1], 4);
    assert_int_equal(p->opts.inherited[2], 9);
    done(p);
    expect_error(parse_activated(2, "--fd", "4", (const char *)NULL),
                 "fd 4 is given twice (--fd or LISTEN_FDS)");
    expect_error(parse_activated(-1, (const char *)NULL),
                 "invalid LISTEN_PID or LISTEN_FDS in the environment");
    expect_error(parse_activated(65, "-h", (const char *)NULL),
                 "too many sockets in LISTEN_FDS (at most 64)");
}

static void test_help_and_version(void **state) {
    (void)state;
    parse_t *p = parse("-h", "--no-such-option");
    assert_int_equal(p->result, MUXD_CLI_HELP);
    done(p);
    p = parse("-p", "0", "--version");
    assert_int_equal(p->result, MUXD_CLI_VERSION);
    done(p);
    expect_error(parse("--no-such-option", "-h"),
                 "unknown option: '--no-such-option'");
}

static void test_usage_errors(void **state) {
    (void)state;
    expect_error(parse("-x"), "unknown option: '-x'");
    expect_error(parse("-l"), "option '-l' needs an argument");
    expect_error(parse("stray"), "unexpected argument: 'stray'");
    expect_error(parse("-m", "0"), "invalid client limit: '0' (at least 1)");
    expect_error(parse("-b", "-1"), "invalid backlog: '-1' (0 to 2147483647)");
    expect_error(parse("--chat-memory", "2x"),
                 "invalid chat memory: '2x' (bytes, e.g. 64k; at most 1024G)");
    expect_error(parse("--idle-timeout", "soon"),
                 "invalid idle timeout: 'soon' (seconds)");
    expect_error(parse("--framing", "words"),
                 "invalid framing: 'words' (raw, line or auto)");
    expect_error(parse("--log-format", "xml"),
                 "invalid log format: 'xml' (text or json)");
    expect_error(parse("--allow", "10.0.0.0/33"),
                 "invalid CIDR: '10.0.0.0/33' (e.g. 10.0.0.0/8, ::1/128)");
    expect_error(parse("--fd", "2"),
                 "invalid fd: '2' (0, 1 and 2 are stdin, stdout and stderr, "
                 "not listening sockets)");
    expect_error(parse("--udp-budget", "0:5"),
                 "invalid UDP budget: '0:5' (0 takes no burst)");
    expect_error(parse("--fault", "melt"),
                 "invalid fault: 'melt' (unknown kind: latency, bandwidth, "
                 "split, slicer, drop-after, stall, rst, reset-peer, "
                 "slow-close, limit-time, timeout, refuse, blackhole, "
                 "accept-delay, corrupt)");
    expect_error(parse("--fault", "latency=5,odds=101"),
                 "invalid fault: 'latency=5,odds=101' (latency=MS: "
                 "odds=PERCENT (0 to 100: 25 or 25%) or a FRACTION (0 to 1: "
                 "0.25), in whole percents)");
    expect_error(parse("--fault", "rst=1"),
                 "invalid fault: 'rst=1' (rst: takes no value)");
    expect_error(parse("--text", "a\\q"),
                 "invalid escape in --text at '\\q' (known: " TEXT_ESCAPES ")");
}

static void test_unknown_service_lists_the_table(void **state) {
    (void)state;
    expect_error(parse("-s", "gopher"),
                 "unknown service: 'gopher' (echo, ack, hello, reply, greet, "
                 "discard, chargen, daytime, time, chat)");
}

static void test_combinations(void **state) {
    (void)state;
    expect_error(parse("--text", "x"),
                 "--text does not apply to the echo service (see muxd --help)");
    expect_error(parse("-s", "echo", "--chat-stall", "1"),
                 "--chat-memory and --chat-stall apply to the chat service, "
                 "not echo");
    expect_error(parse("--max-line", "10"),
                 "--max-line needs line or auto framing, and echo is framed "
                 "raw here: add --framing line");
    expect_error(parse("--workers", "2", "--max-accepts", "1"),
                 "--max-accepts cannot be combined with --workers (each "
                 "worker would count its own)");
    expect_error(parse("--workers", "2", "-l", "unix:/tmp/s"),
                 "--workers cannot share a unix socket: 'unix:/tmp/s' (TCP "
                 "and UDP only; or pass it with --fd)");
    parse_t *p = parse("-s", "chat", "--max-line", "10", "--chat-memory", "1M");
    assert_int_equal(p->result, MUXD_CLI_SERVE);
    assert_int_equal(p->opts.config.chat_memory, 1 << 20);
    done(p);
}

static void test_addresses(void **state) {
    (void)state;
    expect_error(parse("-l", "a b c"),
                 "invalid address 'a b c': not HOST:PORT, [V6]:PORT, "
                 "udp://HOST:PORT or unix:/PATH");
    expect_error(parse("-l", "nowhere"),
                 "invalid address 'nowhere': unknown service name (not in "
                 "/etc/services)");
    expect_error(parse("-p", "70000"),
                 "invalid port '70000': out of range (0-65535)");
    expect_error(parse("-l", "127.0.0.1:70000"),
                 "invalid address '127.0.0.1:70000': port out of range "
                 "(0-65535)");
}

/* The first error is the one reported, and nothing after it is parsed. */
static void test_first_error_wins(void **state) {
    (void)state;
    expect_error(parse("-m", "0", "--max-rate", "0", "-x"),
                 "invalid client limit: '0' (at least 1)");
    expect_error(parse("--fd", "x", "--fd", "1"),
                 "invalid fd: 'x' (0 to 2147483647)");
}

/* ---- fault specs (faults.c) ---- */

/* Whether `spec` is taken as --fault. */
static bool fault_ok(const char *spec) {
    parse_t *p = parse("--fault", spec);
    bool ok = p->result == MUXD_CLI_SERVE;
    done(p);
    return ok;
}

/* The last connection picked(): freed by the next call, or the test's
 * end (teardown). */
static muxd_conn_faults_t *last_picked;

static int free_picked(void **state) {
    (void)state;
    muxd_conn_faults_free(last_picked);
    last_picked = NULL;
    return 0;
}

/* What one connection gets of the specs (NULL-terminated), added in that
 * order (a relay's if `relay`). */
static muxd_conn_faults_t *picked_all(bool relay, const char *const *specs) {
    muxd_faults_t *faults = muxd_faults_new(1);
    assert_non_null(faults);
    char err[256] = "";
    for (size_t i = 0; specs[i]; i++)
        assert_int_not_equal(
            muxd_faults_add(faults, specs[i], err, sizeof(err)), 0);
    free_picked(NULL);
    last_picked = muxd_conn_faults_new();
    assert_non_null(last_picked);
    muxd_faults_pick(faults, relay, last_picked);
    muxd_faults_free(faults);
    return last_picked;
}

/* What one connection gets of `spec` alone (a relay's if `relay`). */
static muxd_conn_faults_t *picked(const char *spec, bool relay) {
    const char *specs[] = {spec, NULL};
    return picked_all(relay, specs);
}

/* A connection's stage chain of one direction, folded. */
#define OUT_OF(set) mux_faults_shape((set), MUX_OUT)
#define IN_OF(set) mux_faults_shape((set), MUX_IN)

/* Faults stack as stages in series, in the order they were added: two
 * latencies (and their jitters) add up, the slower bandwidth holds, the
 * smaller split; waits that end a stream add up, limits take the
 * sooner. Each fault is a named stage of its own. */
static void test_fault_stages_stack(void **state) {
    (void)state;
    const char *latencies[] = {"latency=50,jitter=5", "latency=30,jitter=2",
                               "bandwidth=10k", "bandwidth=4k", NULL};
    muxd_conn_faults_t *cf = picked_all(false, latencies);
    assert_int_equal(OUT_OF(cf->client)->latency_ms, 80);
    assert_int_equal(OUT_OF(cf->client)->jitter_ms, 7);
    assert_int_equal(OUT_OF(cf->client)->bandwidth, 4096);
    assert_int_equal(mux_faults_stages(cf->client, MUX_OUT), 4);
    assert_string_equal(mux_faults_stage(cf->client, MUX_OUT, 0)->name,
                        "latency");
    assert_int_equal(mux_faults_stage(cf->client, MUX_OUT, 1)->shape.latency_ms,
                     30);
    assert_string_equal(mux_faults_stage(cf->client, MUX_OUT, 3)->name,
                        "bandwidth");
    assert_int_equal(mux_faults_stages(cf->client, MUX_IN), 0);
    const char *ends[] = {"slow-close=100",     "slow-close=50",
                          "limit-time=900",     "limit-time=300",
                          "latency=5,dir=both", NULL};
    cf = picked_all(false, ends);
    assert_int_equal(mux_faults_get(cf->client, MUX_FAULT_SLOW_CLOSE_MS), 150);
    assert_int_equal(mux_faults_get(cf->client, MUX_FAULT_LIMIT_TIME_MS), 300);
    assert_int_equal(IN_OF(cf->client)->latency_ms, 5);
    assert_int_equal(OUT_OF(cf->client)->latency_ms, 5);
    const char *relayed[] = {"latency=20,dir=up", "latency=10,dir=up", NULL};
    cf = picked_all(true, relayed);
    assert_int_equal(OUT_OF(cf->upstream)->latency_ms, 30);
    assert_int_equal(IN_OF(cf->client)->latency_ms, 0);
}

/* Which of 200 connections `spec` (an rst with odds=) resets, as bits. */
static void odds_draws(const char *spec, uint64_t bits[4]) {
    muxd_faults_t *faults = muxd_faults_new(7);
    assert_non_null(faults);
    assert_int_not_equal(muxd_faults_add(faults, spec, NULL, 0), 0);
    memset(bits, 0, 4 * sizeof(uint64_t));
    for (unsigned i = 0; i < 200; i++) {
        muxd_conn_faults_t *cf = muxd_conn_faults_new();
        assert_non_null(cf);
        muxd_faults_pick(faults, false, cf);
        bits[i / 64] |= mux_faults_get(cf->client, MUX_FAULT_RST) << (i % 64);
        muxd_conn_faults_free(cf);
    }
    muxd_faults_free(faults);
}

/* odds= takes a percent (25, 25%) and a fraction with a point (0.25, as
 * toxiproxy's toxicity): the same draws. */
static void test_fault_odds_percent_and_fraction(void **state) {
    (void)state;
    uint64_t percent[4], sign[4], fraction[4];
    odds_draws("rst,odds=50", percent);
    odds_draws("rst,odds=50%", sign);
    odds_draws("rst,odds=0.5", fraction);
    assert_memory_equal(percent, sign, sizeof(percent));
    assert_memory_equal(percent, fraction, sizeof(percent));
    assert_true(percent[0] != 0 && percent[0] != UINT64_MAX);
    odds_draws("rst,odds=5", percent);
    odds_draws("rst,odds=0.05", fraction);
    assert_memory_equal(percent, fraction, sizeof(percent));
    assert_true(fault_ok("latency=5,odds=1.0"));
    assert_true(fault_ok("latency=5,odds=0.0"));
    assert_true(fault_ok("latency=5,odds=0.250"));
    assert_true(fault_ok("latency=5,odds=100%"));
    const char *bad[] = {"1.5", "0.333", "101", "101%", ".5",   "0.",
                         "%",   "5%%",   "-1",  "0x10", "1e-1", "0.5%"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char spec[64], msg[256];
        snprintf(spec, sizeof(spec), "latency=5,odds=%s", bad[i]);
        snprintf(msg, sizeof(msg),
                 "invalid fault: '%s' (latency=MS: odds=PERCENT (0 to 100: "
                 "25 or 25%%) or a FRACTION (0 to 1: 0.25), in whole "
                 "percents)",
                 spec);
        expect_error(parse("--fault", spec), msg);
    }
}

/* split=BYTES:0 writes the pieces back to back; split=BYTES pauses 10 ms. */
static void test_fault_split_without_pause(void **state) {
    (void)state;
    muxd_conn_faults_t *cf = picked("split=4:0", false);
    assert_int_equal(OUT_OF(cf->client)->split, 4);
    assert_int_equal(OUT_OF(cf->client)->split_us, 0);
    cf = picked("split=4", false);
    assert_int_equal(OUT_OF(cf->client)->split_us, 10000);
    cf = picked("split=1k:7,dir=up", false);
    assert_int_equal(IN_OF(cf->client)->split, 1024);
    assert_int_equal(IN_OF(cf->client)->split_us, 7000);
    expect_error(parse("--fault", "split=0:5"),
                 "invalid fault: 'split=0:5' (split=BYTES[:MS]: BYTES at "
                 "least 1 (k, M, G), MS 0 to 3600000 (default 10))");
    expect_error(parse("--fault", "split=4:"),
                 "invalid fault: 'split=4:' (split=BYTES[:MS]: BYTES at "
                 "least 1 (k, M, G), MS 0 to 3600000 (default 10))");
}

/* slicer=BYTES[:VAR[:US]]: a slice stage, its variation and pause (in
 * microseconds), and a seed of its own (--seed, its id, the connection's
 * number); a variation must stay below BYTES. */
static void test_fault_slicer(void **state) {
    (void)state;
    muxd_conn_faults_t *cf = picked("slicer=100:20:500", false);
    assert_int_equal(OUT_OF(cf->client)->slice, 100);
    assert_int_equal(OUT_OF(cf->client)->slice_variation, 20);
    assert_int_equal(OUT_OF(cf->client)->split_us, 500);
    assert_int_equal(OUT_OF(cf->client)->split, 0);
    uint64_t seed = OUT_OF(cf->client)->seed;
    assert_int_not_equal(seed, 0);
    assert_int_equal(picked("slicer=100:20:500", false)->serial, 1);
    assert_int_equal(OUT_OF(last_picked->client)->seed, seed); /* repeats */
    cf = picked("slicer=1k,dir=up", true); /* a relay: the upstream's */
    assert_int_equal(OUT_OF(cf->upstream)->slice, 1024);
    assert_int_equal(OUT_OF(cf->upstream)->slice_variation, 0);
    assert_int_equal(OUT_OF(cf->upstream)->split_us, 0);
    assert_int_equal(OUT_OF(cf->client)->slice, 0);
    const char *bad[] = {"slicer=0", "slicer=10:10",
                         "slicer=10:5:", "slicer=10::5",
                         "slicer=10:5:3600000001"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "invalid fault: '%s' (slicer=BYTES[:VAR[:US]]: BYTES at "
                 "least 1, VAR below BYTES (k, M, G), US 0 to "
                 "3600000000 (default 0))",
                 bad[i]);
        expect_error(parse("--fault", bad[i]), msg);
    }
}

/* reset-peer=MS: the ending of the stream the direction names, MS or
 * MUX_AT_ONCE for 0; two take the sooner; no `,rst` with it. */
static void test_fault_reset_peer(void **state) {
    (void)state;
    muxd_conn_faults_t *cf = picked("reset-peer=0", true);
    assert_int_equal(mux_faults_get(cf->client, MUX_FAULT_RESET_OUT_MS),
                     MUX_AT_ONCE);
    assert_int_equal(mux_faults_get(cf->upstream, MUX_FAULT_RESET_OUT_MS), 0);
    cf = picked("reset-peer=250,dir=up", true); /* the upstream's output */
    assert_int_equal(mux_faults_get(cf->upstream, MUX_FAULT_RESET_OUT_MS), 250);
    assert_int_equal(mux_faults_get(cf->client, MUX_FAULT_RESET_OUT_MS), 0);
    assert_int_equal(mux_faults_get(cf->client, MUX_FAULT_RESET_IN_MS), 0);
    cf = picked("reset-peer=250,dir=up", false); /* the client's input */
    assert_int_equal(mux_faults_get(cf->client, MUX_FAULT_RESET_IN_MS), 250);
    const char *two[] = {"reset-peer=300", "reset-peer=100", NULL};
    cf = picked_all(false, two);
    assert_int_equal(mux_faults_get(cf->client, MUX_FAULT_RESET_OUT_MS), 100);
    const char *at_once[] = {"reset-peer=300", "reset-peer=0", "reset-peer=100",
                             NULL};
    cf = picked_all(false, at_once);
    assert_int_equal(mux_faults_get(cf->client, MUX_FAULT_RESET_OUT_MS),
                     MUX_AT_ONCE);
    expect_error(parse("--fault", "reset-peer=100,rst"),
                 "invalid fault: 'reset-peer=100,rst' (reset-peer=MS: rst "
                 "does not combine with reset-peer)");
    expect_error(parse("--fault", "reset-peer"),
                 "invalid fault: 'reset-peer' (reset-peer=MS: needs a "
                 "value)");
}

/* `,rst` after another kind: one fault, drawn once, whose close is a
 * reset, on the side its dir= names in a relay. */
static void test_fault_kind_with_rst(void **state) {
    (void)state;
    muxd_conn_faults_t *cf = picked("drop-after=1000,rst", false);
    assert_int_equal(OUT_OF(cf->client)->drop_after, 1000);
    assert_int_equal(mux_faults_get(cf->client, MUX_FAULT_RST), 1);
    cf = picked("drop-after=1000,dir=up,rst", true);
    assert_int_equal(OUT_OF(cf->upstream)->drop_after, 1000);
    assert_int_equal(mux_faults_get(cf->upstream, MUX_FAULT_RST), 1);
    assert_int_equal(mux_faults_get(cf->client, MUX_FAULT_RST), 0);
    cf = picked("limit-time=500,rst", false);
    assert_int_equal(mux_faults_get(cf->client, MUX_FAULT_LIMIT_TIME_MS), 500);
    assert_int_equal(mux_faults_get(cf->client, MUX_FAULT_RST), 1);
    cf = picked("drop-after=1000", false);
    assert_int_equal(mux_faults_get(cf->client, MUX_FAULT_RST), 0);
    /* An rst combined with another kind does not reset refused clients
     * (the server-wide rst is an rst fault's alone). */
    muxd_faults_t *faults = muxd_faults_new(1);
    assert_non_null(faults);
    assert_int_not_equal(muxd_faults_add(faults, "drop-after=10,rst", NULL, 0),
                         0);
    mux_faults_t *server = mux_faults_new();
    assert_non_null(server);
    muxd_faults_server(faults, false, server);
    assert_int_equal(mux_faults_get(server, MUX_FAULT_RST), 0);
    mux_faults_free(server);
    muxd_faults_free(faults);
    expect_error(parse("--fault", "refuse,rst"),
                 "invalid fault: 'refuse,rst' (refuse: rst does not combine "
                 "with refuse)");
    expect_error(parse("--fault", "drop-after=9,rst=1"),
                 "invalid fault: 'drop-after=9,rst=1' (drop-after=BYTES: rst "
                 "takes no value)");
    expect_error(parse("--fault", "drop-after=9,rst,rst"),
                 "invalid fault: 'drop-after=9,rst,rst' (drop-after=BYTES: "
                 "rst given twice)");
}

/* A key or a kind given twice says so; a second kind says to give it a
 * fault of its own. */
static void test_fault_messages(void **state) {
    (void)state;
    expect_error(parse("--fault", "latency=10,latency=20"),
                 "invalid fault: 'latency=10,latency=20' (latency=MS: "
                 "latency given twice)");
    expect_error(parse("--fault", "rst,rst"),
                 "invalid fault: 'rst,rst' (rst: rst given twice)");
    expect_error(parse("--fault", "latency=1,odds=5,odds=6"),
                 "invalid fault: 'latency=1,odds=5,odds=6' (latency=MS: odds "
                 "given twice)");
    expect_error(parse("--fault", "latency=1,bandwidth=5"),
                 "invalid fault: 'latency=1,bandwidth=5' (latency=MS: one "
                 "kind a spec (only rst combines): give bandwidth a --fault "
                 "of its own)");
    expect_error(parse("--fault", "stall,jitter=5"),
                 "invalid fault: 'stall,jitter=5' (stall: unknown key (dir, "
                 "odds, first, proxy; jitter with latency; rst))");
    expect_error(parse("--fault", "latency=1,dir"),
                 "invalid fault: 'latency=1,dir' (latency=MS: a key needs "
                 "=VALUE (dir, odds, first, proxy, jitter))");
    /* Sizes offer only the suffixes they take. */
    expect_error(parse("--fault", "drop-after=1T"),
                 "invalid fault: 'drop-after=1T' (drop-after=BYTES: BYTES: 0 "
                 "to 1024G (suffixes k, M, G))");
    assert_true(fault_ok("drop-after=1024G"));
}

/* Numbers are decimal: no hex, sign, blank or exponent, in any option. */
static void test_numbers_are_decimal(void **state) {
    (void)state;
    expect_error(parse("--to", "5", "--connect-timeout", "0x10"),
                 "invalid connect timeout: '0x10' (seconds)");
    expect_error(parse("--idle-timeout", "1e3"),
                 "invalid idle timeout: '1e3' (seconds)");
    expect_error(parse("--idle-timeout", " 5"),
                 "invalid idle timeout: ' 5' (seconds)");
    expect_error(parse("--shutdown-timeout", "+5"),
                 "invalid shutdown timeout: '+5' (seconds)");
    expect_error(parse("-b", "0x10"), "invalid backlog: '0x10' (0 to "
                                      "2147483647)");
    expect_error(parse("-b", " 7"), "invalid backlog: ' 7' (0 to 2147483647)");
    expect_error(parse("-b", "+7"), "invalid backlog: '+7' (0 to 2147483647)");
    expect_error(parse("-s", "chat", "--chat-memory", "0x10"),
                 "invalid chat memory: '0x10' (bytes, e.g. 64k; at most "
                 "1024G)");
    parse_t *p = parse("--to", "5", "--connect-timeout", "010.50", "-b", "010",
                       "--idle-timeout", "2.");
    assert_int_equal(p->result, MUXD_CLI_SERVE);
    assert_int_equal(p->opts.relay.connect_timeout_ms, 10500);
    assert_int_equal(p->opts.server.backlog, 10);
    assert_int_equal(p->opts.server.idle_timeout_ms, 2000);
    done(p);
}

/* ---- several relays: each -l takes the --to after it ---- */

static void test_each_listen_takes_the_to_after_it(void **state) {
    (void)state;
    parse_t *p = parse("-l", "127.0.0.1:1", "--to", "7", "-l", "127.0.0.1:2",
                       "-l", "unix:/tmp/s", "--to", "unix:/tmp/up", "-l",
                       "127.0.0.1:3", "--to", "9");
    assert_int_equal(p->result, MUXD_CLI_SERVE);
    assert_int_equal(p->opts.nlisten, 4);
    assert_int_equal(p->opts.relay.nupstreams, 3);
    assert_string_equal(p->opts.relay.upstreams[1].upstream_text,
                        "unix:/tmp/up");
    size_t want[] = {0, 1, 1, 2};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(p->opts.listen_upstream[i], want[i]);
    done(p);
}

/* Every spelling with one --to relays every listener to it. */
static void test_one_to_relays_every_listener(void **state) {
    (void)state;
    parse_t *ps[] = {
        parse("-l", "127.0.0.1:1", "--to", "7"),
        parse("--to", "7"),
        parse("-p", "0", "--to", "7"),
        parse("--to", "7", "-l", "127.0.0.1:1", "-l", "127.0.0.1:2"),
        parse("-l", "127.0.0.1:1", "-l", "127.0.0.1:2", "--to", "7"),
        parse("-l", "127.0.0.1:1", "--to", "7", "-p", "0"),
        parse_activated(2, "-l", "127.0.0.1:1", "--to", "7", (char *)NULL),
    };
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        assert_int_equal(ps[i]->result, MUXD_CLI_SERVE);
        assert_int_equal(ps[i]->opts.relay.nupstreams, 1);
        for (size_t l = 0; l < ps[i]->opts.nlisten; l++)
            assert_int_equal(ps[i]->opts.listen_upstream[l], 0);
        done(ps[i]);
    }
}

static void test_ambiguous_to_is_a_usage_error(void **state) {
    (void)state;
    expect_error(parse("-l", "127.0.0.1:1", "--to", "7", "-l", "127.0.0.1:2"),
                 "-l 127.0.0.1:2 has no --to after it while other listeners "
                 "have one (each -l ADDR takes the --to after it)");
    expect_error(parse("--to", "7", "-l", "127.0.0.1:1", "--to", "8"),
                 "--to 7 comes before any -l, so it relays every listener, "
                 "and --to 8 has none: give each -l ADDR its own --to after "
                 "it");
    expect_error(parse("-l", "127.0.0.1:1", "--to", "7", "--to", "8"),
                 "--to 8 follows --to 7 with no -l between them (each -l "
                 "ADDR takes the --to after it)");
    expect_error(parse("-p", "5", "-l", "127.0.0.1:1", "--to", "7", "-l",
                       "127.0.0.1:2", "--to", "8"),
                 "the listener of -p/-H (127.0.0.1:5) cannot take one of "
                 "several --to: give it with -l ADDR --to UPSTREAM");
    expect_error(parse_activated(1, "-l", "127.0.0.1:1", "--to", "7", "-l",
                                 "127.0.0.1:2", "--to", "8", (char *)NULL),
                 "inherited sockets (--fd, LISTEN_FDS) cannot take one of "
                 "several --to: use -l ADDR --to UPSTREAM for each");
    expect_error(parse("--workers", "2", "-l", "127.0.0.1:1", "--to", "7", "-l",
                       "127.0.0.1:2", "--to", "8"),
                 "several --to cannot be combined with --workers (the other "
                 "workers bind worker 1's addresses without knowing their "
                 "upstreams): one muxd per relay");
    expect_error(parse("-l", "127.0.0.1:1", "-s", "chargen", "-l",
                       "127.0.0.1:2", "--to", "8"),
                 "--to relays bytes unchanged: -s, --text, --framing, "
                 "--max-line, --line-timeout and the chat options do not "
                 "apply");
}

/* Every row of the option table is reachable and in --help: names and
 * letters unique, each "--name" (with its "-x, ") in the help text. */
static void test_option_table(void **state) {
    (void)state;
    char *help = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&help, &len);
    assert_non_null(out);
    muxd_cli_usage(out);
    assert_int_equal(fclose(out), 0);
    size_t n = 0;
    for (const muxd_cli_option_t *a = muxd_cli_options; a->name; a++, n++) {
        assert_non_null(a->take);
        assert_true(a->help || a->topic == MUXD_TOPIC_FAULTS);
        for (const muxd_cli_option_t *b = muxd_cli_options; b != a; b++) {
            assert_string_not_equal(a->name, b->name);
            assert_true(!a->letter || a->letter != b->letter);
        }
        char forms[64];
        snprintf(forms, sizeof(forms), "%c%c%s--%s%s%s", a->letter ? '-' : ' ',
                 a->letter ? a->letter : ' ', a->letter ? ", " : "  ", a->name,
                 a->arg ? " " : "", a->arg ? a->arg : "");
        if (!strstr(help, forms))
            fail_msg("not in --help: '%s'", forms);
    }
    assert_true(n > 30);
    free(help);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_fault_odds_percent_and_fraction),
        cmocka_unit_test_teardown(test_fault_split_without_pause, free_picked),
        cmocka_unit_test_teardown(test_fault_slicer, free_picked),
        cmocka_unit_test_teardown(test_fault_reset_peer, free_picked),
        cmocka_unit_test_teardown(test_fault_kind_with_rst, free_picked),
        cmocka_unit_test_teardown(test_fault_stages_stack, free_picked),
        cmocka_unit_test(test_fault_messages),
        cmocka_unit_test(test_numbers_are_decimal),
        cmocka_unit_test(test_each_listen_takes_the_to_after_it),
        cmocka_unit_test(test_one_to_relays_every_listener),
        cmocka_unit_test(test_ambiguous_to_is_a_usage_error),
        cmocka_unit_test(test_serving_options),
        cmocka_unit_test(test_limits_and_sizes),
        cmocka_unit_test(test_relay_options),
        cmocka_unit_test(test_listeners_take_host_given_later),
        cmocka_unit_test(test_fixture_options),
        cmocka_unit_test(test_activated_sockets_come_first),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_unknown_service_lists_the_table),
        cmocka_unit_test(test_combinations),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_first_error_wins),
        cmocka_unit_test(test_option_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
