/*
 * The C ABI throughput bench: two pools in this process, `src` with N generated replicas and
 * `dst` empty, whose services all answer inside the callback: the pool manager, the namespace
 * (every file is on src), the pin manager, a p2p client that completes at once without data,
 * and a transport that hands the bytes straight to the other module. For each concurrency it
 * runs `migration move -concurrency=C dst` to FINISHED and prints `rate C files_per_second`.
 * Modelled on tests/c/host.c; uses only include/dcache_migration.h.
 *
 * Usage: bench_host FILES CONCURRENCY...
 */
#define _POSIX_C_SOURCE 200809L

#include "dcache_migration.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ID_LEN 25
#define PREFIX "0000B10C"

typedef struct pool {
    const char *name;
    int index; /* 0 = src, 1 = dst */
    dcm_module *module;
    uint64_t n;              /* replicas (src only) */
    _Atomic uint64_t *deleted; /* one bit per replica */
    struct pool *peer;
} pool;

static void die(dcm_error *e, const char *what) {
    if (e == NULL) return;
    fprintf(stderr, "%s: error %u: %s\n", what, dcm_error_code(e), dcm_error_message(e));
    exit(1);
}

static void check(dcm_error *e, const char *what) {
    if (e == NULL) return;
    if (dcm_error_code(e) == DCM_ERROR_CLOSED) { /* shutting down */
        dcm_error_free(e);
        return;
    }
    die(e, what);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Ids are written and read by hand: snprintf parses its format and strtoull handles signs,
   bases and white space on every call, which made this instant host's own work a visible part
   of what the bench measures (as String.format was in the JNI bench's host). */
static void make_id(char *id, uint64_t i) {
    static const char hex[] = "0123456789ABCDEF";
    memcpy(id, PREFIX, 8);
    for (int d = 23; d >= 8; d--, i >>= 4) id[d] = hex[i & 0xF];
    id[24] = '\0';
}

/* The index of a generated id, or UINT64_MAX. */
static uint64_t parse_id(const char *id) {
    if (strncmp(id, PREFIX, 8) != 0) return UINT64_MAX;
    uint64_t i = 0;
    for (int d = 8; d < 24; d++) {
        char c = id[d];
        unsigned digit;
        if (c >= '0' && c <= '9') digit = (unsigned)(c - '0');
        else if (c >= 'A' && c <= 'F') digit = (unsigned)(c - 'A' + 10);
        else if (c >= 'a' && c <= 'f') digit = (unsigned)(c - 'a' + 10);
        else return UINT64_MAX;
        i = i << 4 | digit;
    }
    return id[24] == '\0' ? i : UINT64_MAX;
}

static int is_deleted(const pool *p, uint64_t i) { return (atomic_load(&p->deleted[i / 64]) >> (i % 64)) & 1; }

static void fill(dcm_replica_entry *e, const char *id, uint64_t i, int32_t state) {
    memset(e, 0, sizeof *e);
    e->pnfsid = id;
    e->state = state;
    e->size = 1000 + (i * 2654435761u) % 1000000;
    e->last_access = 1700000000000LL;
    e->storage_class = "atlas:raw@osm";
    e->access_latency = DCM_ACCESS_LATENCY_ONLINE;
    e->retention_policy = DCM_RETENTION_POLICY_CUSTODIAL;
}

/* ---- Repository ------------------------------------------------------------------------ */

static int32_t repo_for_each(void *ctx, dcm_replica_visitor visit, void *visit_ctx, char *err, size_t size) {
    pool *p = ctx;
    (void)err;
    (void)size;
    char id[ID_LEN];
    dcm_replica_entry e;
    for (uint64_t i = 0; i < p->n; i++) {
        if (is_deleted(p, i)) continue;
        make_id(id, i);
        fill(&e, id, i, DCM_STATE_PRECIOUS);
        if (!visit(visit_ctx, &e)) break;
    }
    return 0;
}

static int32_t repo_entry(void *ctx, const char *pnfsid, dcm_replica_visitor receive, void *receive_ctx, char *err,
                          size_t size) {
    pool *p = ctx;
    (void)err;
    (void)size;
    uint64_t i = parse_id(pnfsid);
    if (i < p->n && !is_deleted(p, i)) {
        dcm_replica_entry e;
        fill(&e, pnfsid, i, DCM_STATE_PRECIOUS);
        receive(receive_ctx, &e);
    }
    return 0;
}

static int32_t repo_set_state(void *ctx, const char *pnfsid, int32_t state, const char *reason, char *err,
                              size_t size) {
    pool *p = ctx;
    (void)reason;
    uint64_t i = parse_id(pnfsid);
    if (i >= p->n || is_deleted(p, i)) return state == DCM_STATE_REMOVED ? DCM_REPOSITORY_OK : DCM_REPOSITORY_NOT_FOUND;
    if (state != DCM_STATE_REMOVED) {
        snprintf(err, size, "bench replicas stay precious");
        return state == DCM_STATE_PRECIOUS ? DCM_REPOSITORY_OK : DCM_REPOSITORY_ILLEGAL_TRANSITION;
    }
    atomic_fetch_or(&p->deleted[i / 64], (uint64_t)1 << (i % 64));
    dcm_replica_entry before, after;
    fill(&before, pnfsid, i, DCM_STATE_PRECIOUS);
    fill(&after, pnfsid, i, DCM_STATE_REMOVED);
    check(dcm_module_repository_event(p->module, DCM_EVENT_STATE_CHANGED, &before, &after), "repository_event");
    return DCM_REPOSITORY_OK;
}

/* Every replica here is precious with no record, and nothing but a removal changes one. */
static int32_t repo_remove_if_unchanged(void *ctx, const char *pnfsid, int32_t state, const dcm_sticky_record *sticky,
                                        size_t sticky_count, const char *reason, char *err, size_t size) {
    (void)sticky;
    if (state != DCM_STATE_PRECIOUS || sticky_count != 0) return DCM_REPOSITORY_CHANGED;
    return repo_set_state(ctx, pnfsid, DCM_STATE_REMOVED, reason, err, size);
}

static int32_t repo_set_sticky(void *ctx, const char *pnfsid, const char *owner, int64_t expire, bool overwrite,
                               char *err, size_t size) {
    (void)ctx, (void)pnfsid, (void)owner, (void)expire, (void)overwrite, (void)err, (void)size;
    return DCM_REPOSITORY_OK;
}

static int32_t repo_verify(void *ctx, const char *pnfsid, char *err, size_t size) {
    (void)ctx, (void)pnfsid, (void)err, (void)size;
    return 0;
}

/* ---- Pool manager, namespace, pin manager --------------------------------------------- */

static const dcm_named_queue REGULAR = {"regular", {0, 100, 0, 0, 0}};

static int32_t pm_pools(void *ctx, const dcm_pool_selection *selection, uint64_t token, char *err, size_t size) {
    pool *p = ctx;
    (void)err;
    (void)size;
    dcm_pool_info infos[4];
    size_t n = 0;
    if (selection->kind == DCM_SELECT_NAMES) {
        for (size_t i = 0; i < selection->name_count && n < 4; i++) {
            dcm_pool_info *info = &infos[n++];
            memset(info, 0, sizeof *info);
            info->name = selection->names[i];
            info->online = true;
            info->space.total = 1ull << 50;
            info->space.free = 1ull << 49;
            info->space.break_even = 0.7;
            info->movers = &REGULAR;
            info->mover_count = 1;
            info->mover_cost_factor = 0.5;
        }
    }
    check(dcm_module_complete_pools(p->module, token, infos, n, NULL), "complete_pools");
    return 0;
}

static int32_t pm_groups(void *ctx, const char *name, uint64_t token, char *err, size_t size) {
    pool *p = ctx;
    (void)name, (void)err, (void)size;
    check(dcm_module_complete_groups(p->module, token, NULL, 0, NULL), "complete_groups");
    return 0;
}

static int32_t ns_locations(void *ctx, const char *pnfsid, uint64_t token, char *err, size_t size) {
    pool *p = ctx;
    (void)pnfsid, (void)err, (void)size;
    const char *where[] = {"src"};
    check(dcm_module_complete_locations(p->module, token, where, 1, NULL), "complete_locations");
    return 0;
}

static int32_t pins_move(void *ctx, const dcm_pin_move *request, uint64_t token, char *err, size_t size) {
    pool *p = ctx;
    (void)request, (void)err, (void)size;
    check(dcm_module_complete(p->module, token, NULL), "complete (pins)");
    return 0;
}

/* ---- Transport: reply ids carry the sender's token and index -------------------------- */

static int32_t tp_send(void *ctx, const char *to, const uint8_t *bytes, size_t len, uint64_t token, char *err,
                       size_t size) {
    pool *p = ctx;
    if (strcmp(to, p->peer->name) != 0) {
        snprintf(err, size, "no route to %s", to);
        return DCM_RC_SERVICE_UNAVAILABLE;
    }
    uint64_t reply_id = token ? (token << 1) | (uint64_t)p->index : 0;
    check(dcm_module_deliver(p->peer->module, p->name, bytes, len, reply_id), "deliver");
    return 0;
}

static void tp_reply(void *ctx, uint64_t reply_id, const uint8_t *bytes, size_t len, const dcm_failure *failure) {
    pool *p = ctx; /* the pool that answers; the sender is its peer (index in the low bit) */
    (void)reply_id;
    check(dcm_module_complete_message(p->peer->module, reply_id >> 1, bytes, len, failure), "complete_message");
}

/* ---- P2p: done at once, no data -------------------------------------------------------- */

static int32_t p2p_start(void *ctx, const dcm_p2p_request *request, uint64_t token, char *err, size_t size) {
    pool *p = ctx;
    (void)request, (void)err, (void)size;
    check(dcm_module_complete(p->module, token, NULL), "complete (p2p)");
    return 0;
}

static void p2p_cancel(void *ctx, const char *id) { (void)ctx, (void)id; }

/* ---- The bench -------------------------------------------------------------------------- */

static dcm_module *start(pool *p) {
    dcm_host h;
    memset(&h, 0, sizeof h);
    h.repository = (dcm_repository){p,           repo_for_each, repo_entry, repo_set_state, repo_set_sticky, repo_verify,
                                     NULL,        NULL,          repo_remove_if_unchanged, NULL};
    h.pool_manager = (dcm_pool_manager){p, pm_pools, pm_groups, NULL};
    h.pnfs_manager = (dcm_pnfs_manager){p, ns_locations, NULL};
    h.transport = (dcm_transport){p, tp_send, tp_reply, NULL};
    h.p2p = (dcm_p2p){p, p2p_start, p2p_cancel, NULL};
    h.pin_manager = (dcm_pin_manager){p, pins_move, NULL};
    dcm_config config;
    die(dcm_config_default(&config), "config_default");
    config.seed = 7;
    dcm_module *m = NULL;
    die(dcm_module_new(p->name, &h, &config, &m), "module_new");
    return m;
}

static double run(uint64_t files, unsigned concurrency) {
    pool src = {"src", 0, NULL, files, NULL, NULL}, dst = {"dst", 1, NULL, 0, NULL, NULL};
    src.deleted = calloc(files / 64 + 1, sizeof *src.deleted);
    dst.deleted = calloc(1, sizeof *dst.deleted);
    src.peer = &dst;
    dst.peer = &src;
    src.module = start(&src);
    dst.module = start(&dst);
    die(dcm_module_pool_started(src.module), "pool_started");
    die(dcm_module_pool_started(dst.module), "pool_started");
    char line[64];
    snprintf(line, sizeof line, "migration move -concurrency=%u dst", concurrency);
    double t0 = now_s();
    char *out = NULL;
    die(dcm_module_execute(src.module, line, &out), line);
    dcm_string_free(out);
    for (;;) {
        char *info = NULL;
        dcm_error *e = dcm_module_execute(src.module, "migration info 1", &info);
        if (e != NULL && dcm_error_code(e) == DCM_ERROR_NOT_FOUND) {
            dcm_error_free(e); /* the job is created on the module's threads */
        } else {
            die(e, "migration info 1");
            int finished = strstr(info, "State      : FINISHED\n") != NULL;
            int failed = strstr(info, "State      : FAILED\n") != NULL || strstr(info, "State      : CANCELLED\n");
            if (failed) {
                fprintf(stderr, "the job ended badly:\n%s", info);
                exit(1);
            }
            dcm_string_free(info);
            if (finished) break;
        }
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    double elapsed = now_s() - t0;
    uint64_t left = 0;
    for (uint64_t i = 0; i < files; i++) left += !is_deleted(&src, i);
    if (left != 0) {
        fprintf(stderr, "%" PRIu64 " files were not moved\n", left);
        exit(1);
    }
    die(dcm_module_free(src.module), "module_free");
    die(dcm_module_free(dst.module), "module_free");
    free(src.deleted);
    free(dst.deleted);
    return (double)files / elapsed;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_host FILES CONCURRENCY...\n");
        return 2;
    }
    if (dcm_abi_version() != DCM_ABI_VERSION) {
        fprintf(stderr, "library ABI %u, header %u\n", dcm_abi_version(), DCM_ABI_VERSION);
        return 1;
    }
    uint64_t files = strtoull(argv[1], NULL, 10);
    for (int a = 2; a < argc; a++) {
        unsigned concurrency = (unsigned)strtoul(argv[a], NULL, 10);
        printf("rate %u %.0f\n", concurrency, run(files, concurrency));
        fflush(stdout);
    }
    return 0;
}
