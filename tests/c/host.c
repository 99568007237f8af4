/*
 * A C host of the migration module, using only include/dcache_migration.h.
 *
 * Three pools live in this process, each with an in-memory repository whose replicas hold
 * real bytes. A shared namespace records where each file is, a pool manager reports the
 * pools with cost data, a pin manager moves pin records, the transport hands messages
 * straight to the receiving pool's module, and a p2p worker thread copies bytes between
 * repositories. The test moves a few hundred files from pool1 to pool2 and pool3 with
 * `migration move`, checks every replica (state, pins, ADLER32 of the data), then walks the
 * error paths of the ABI. Run by tests/c_host.rs, also under valgrind.
 *
 * Locking rule of this host: no lock of ours is held while calling a dcm_ function, because
 * the module may call back into us from inside it.
 *
 * Usage: host [number-of-files]   (default 300)
 */
#define _POSIX_C_SOURCE 200809L

#include "dcache_migration.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NPOOLS 3
#define MAX_STICKY 4
#define ID_LEN 37
#define CAPACITY (1ull << 30)
#define PIN_OWNER "PinManager"

static atomic_int failures;

#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);              \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                          \
            atomic_fetch_add(&failures, 1);                                               \
        }                                                                                 \
    } while (0)

/* ------------------------------------------------------------------------------------ */
/* Data                                                                                  */

typedef struct sticky {
    char owner[64];
    int64_t expire;
} sticky;

typedef struct replica {
    char pnfsid[ID_LEN];
    int32_t state;
    sticky sticky[MAX_STICKY];
    size_t nsticky;
    uint64_t size;
    int64_t last_access;
    char checksum[9]; /* ADLER32 the namespace recorded, lower-case hex */
    unsigned char *data;
} replica;

enum { SVC_REPOSITORY, SVC_POOL_MANAGER, SVC_NAMESPACE, SVC_TRANSPORT, SVC_P2P, SVC_PIN_MANAGER, NSVC };

struct cluster;

typedef struct pool {
    char name[16];
    int index; /* position in the cluster; -1 for a pool outside it */
    struct cluster *cluster;
    pthread_mutex_t lock;
    replica *replicas; /* repository order */
    size_t count, cap;
    dcm_module *module;
    atomic_int frees[NSVC];
    atomic_int fail_sends;  /* refuse this many sends from now on */
    char stuck[ID_LEN];     /* set_state of this file is an illegal transition */
    char broken[ID_LEN];    /* set_state of this file fails with DCM_REPOSITORY_OTHER */
    char pin_at_removal[ID_LEN]; /* remove_if_unchanged pins this file first, once */
    char break_at_update[ID_LEN]; /* set_state_if_unchanged marks this file BROKEN first, once */
    atomic_int disabled;    /* the pool's mode: refuses copies (answered by accepts_copies) */
    atomic_int loading;     /* the repository is still loading: for_each cannot list it */
} pool;

typedef struct file_record {
    char pnfsid[ID_LEN];
    char checksum[9];
    unsigned locations; /* bit i: pool i has a replica */
    int deleted;
} file_record;

typedef struct p2p_job {
    struct p2p_job *next;
    pool *target;
    uint64_t token;
    char pnfsid[ID_LEN];
    char source[16];
    char checksum[9];
    int32_t state;
    sticky sticky[MAX_STICKY];
    size_t nsticky;
    int has_atime;
    int64_t atime;
} p2p_job;

typedef struct cluster {
    pool pools[NPOOLS];
    pthread_mutex_t ns_lock;
    file_record *files;
    size_t nfiles, cap;
    /* p2p worker */
    pthread_mutex_t q_lock;
    pthread_cond_t q_cond;
    p2p_job *head, *tail;
    int stop;
    pthread_t worker;
    /* fault injection and probes */
    char flaky[ID_LEN]; /* its first p2p fails */
    atomic_int flaky_failed;
    atomic_int probe_replies;
    atomic_uint reentrant_code;
    atomic_int cancels;
    atomic_int typed_messages; /* messages that crossed as dcm_message fields */
} cluster;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint32_t adler32(const unsigned char *data, uint64_t len) {
    uint32_t a = 1, b = 0;
    for (uint64_t i = 0; i < len; i++) {
        a = (a + data[i]) % 65521;
        b = (b + a) % 65521;
    }
    return (b << 16) | a;
}

static void copy_text(char *to, size_t size, const char *from) {
    snprintf(to, size, "%s", from ? from : "");
}

/* Reports an unexpected error and frees it; returns whether there was none. */
static int ok(dcm_error *e, const char *what) {
    if (e == NULL) return 1;
    fprintf(stderr, "FAIL %s: error %u: %s\n", what, dcm_error_code(e), dcm_error_message(e));
    atomic_fetch_add(&failures, 1);
    dcm_error_free(e);
    return 0;
}

/* Checks that `e` is an error with `code` whose message contains `text` (may be NULL). */
static void expect_error(dcm_error *e, uint32_t code, const char *text, const char *what) {
    CHECK(e != NULL, "%s: expected error %u, got success", what, code);
    if (e == NULL) return;
    const char *message = dcm_error_message(e);
    CHECK(dcm_error_code(e) == code, "%s: expected error %u, got %u (%s)", what, code, dcm_error_code(e), message);
    CHECK(message != NULL && message[0] != '\0', "%s: empty message", what);
    if (text != NULL && message != NULL)
        CHECK(strstr(message, text) != NULL, "%s: message '%s' lacks '%s'", what, message, text);
    dcm_error_free(e);
}

static pool *pool_named(cluster *c, const char *name) {
    for (int i = 0; i < NPOOLS; i++)
        if (strcmp(c->pools[i].name, name) == 0) return &c->pools[i];
    return NULL;
}

/* Index of a replica in a pool (lock held), or -1. */
static long find(const pool *p, const char *pnfsid) {
    for (size_t i = 0; i < p->count; i++)
        if (strcmp(p->replicas[i].pnfsid, pnfsid) == 0) return (long)i;
    return -1;
}

/* ------------------------------------------------------------------------------------ */
/* Namespace                                                                             */

static file_record *ns_find(cluster *c, const char *pnfsid) {
    for (size_t i = 0; i < c->nfiles; i++)
        if (strcmp(c->files[i].pnfsid, pnfsid) == 0) return &c->files[i];
    return NULL;
}

static void ns_create(cluster *c, const char *pnfsid, const char *checksum, int deleted) {
    pthread_mutex_lock(&c->ns_lock);
    if (c->nfiles == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->files = realloc(c->files, c->cap * sizeof *c->files);
    }
    file_record *f = &c->files[c->nfiles++];
    memset(f, 0, sizeof *f);
    copy_text(f->pnfsid, sizeof f->pnfsid, pnfsid);
    copy_text(f->checksum, sizeof f->checksum, checksum);
    f->deleted = deleted;
    pthread_mutex_unlock(&c->ns_lock);
}

static void ns_location(cluster *c, const char *pnfsid, int pool_index, int present) {
    if (pool_index < 0) return;
    pthread_mutex_lock(&c->ns_lock);
    file_record *f = ns_find(c, pnfsid);
    if (f != NULL) {
        if (present)
            f->locations |= 1u << pool_index;
        else
            f->locations &= ~(1u << pool_index);
    }
    pthread_mutex_unlock(&c->ns_lock);
}

/* ------------------------------------------------------------------------------------ */
/* Repository                                                                            */

/* A C view of a replica; the arrays hold the sticky records and the checksum. */
typedef struct view {
    dcm_replica_entry entry;
    dcm_sticky_record sticky[MAX_STICKY];
    dcm_checksum checksum;
} view;

static void make_view(const replica *r, view *v) {
    memset(v, 0, sizeof *v);
    for (size_t i = 0; i < r->nsticky; i++) {
        v->sticky[i].owner = r->sticky[i].owner;
        v->sticky[i].expire = r->sticky[i].expire;
    }
    v->checksum.kind = "ADLER32";
    v->checksum.value = r->checksum;
    v->entry.pnfsid = r->pnfsid;
    v->entry.state = r->state;
    v->entry.sticky = r->nsticky ? v->sticky : NULL;
    v->entry.sticky_count = r->nsticky;
    v->entry.size = r->size;
    v->entry.last_access = r->last_access;
    v->entry.storage_class = "test:disk@osm";
    v->entry.cache_class = NULL;
    v->entry.access_latency = DCM_ACCESS_LATENCY_ONLINE;
    v->entry.retention_policy = DCM_RETENTION_POLICY_REPLICA;
    v->entry.checksums = &v->checksum;
    v->entry.checksum_count = 1;
}

/* Reports a change to the pool's module (no lock held). */
static void report(pool *p, int32_t kind, const replica *before, const replica *after) {
    view b, a;
    if (before) make_view(before, &b);
    make_view(after, &a);
    dcm_error *e = dcm_module_repository_event(p->module, kind, before ? &b.entry : NULL, &a.entry);
    if (e != NULL && dcm_error_code(e) == DCM_ERROR_CLOSED) {
        dcm_error_free(e); /* the pool is shutting down */
        return;
    }
    ok(e, "dcm_module_repository_event");
}

/* Adds a replica that takes ownership of `r->data`. Returns 0, or DCM_RC_FILE_IN_CACHE. */
static int repo_insert(pool *p, const replica *r) {
    pthread_mutex_lock(&p->lock);
    if (find(p, r->pnfsid) >= 0) {
        pthread_mutex_unlock(&p->lock);
        return DCM_RC_FILE_IN_CACHE;
    }
    if (p->count == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->replicas = realloc(p->replicas, p->cap * sizeof *p->replicas);
    }
    p->replicas[p->count++] = *r;
    replica after = *r;
    pthread_mutex_unlock(&p->lock);
    ns_location(p->cluster, r->pnfsid, p->index, 1);
    report(p, DCM_EVENT_STATE_CHANGED, NULL, &after);
    return 0;
}

static int32_t repo_for_each(void *ctx, dcm_replica_visitor visit, void *visit_ctx, char *errbuf, size_t size) {
    pool *p = ctx;
    (void)errbuf;
    (void)size;
    if (atomic_load(&p->loading)) return DCM_REPOSITORY_NOT_LOADED;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->count; i++) {
        view v;
        make_view(&p->replicas[i], &v);
        if (!visit(visit_ctx, &v.entry)) break;
    }
    pthread_mutex_unlock(&p->lock);
    return 0;
}

static int32_t repo_entry(void *ctx, const char *pnfsid, dcm_replica_visitor receive, void *receive_ctx, char *errbuf,
                          size_t size) {
    pool *p = ctx;
    (void)errbuf;
    (void)size;
    pthread_mutex_lock(&p->lock);
    long i = find(p, pnfsid);
    if (i >= 0) {
        view v;
        make_view(&p->replicas[i], &v);
        receive(receive_ctx, &v.entry);
    }
    pthread_mutex_unlock(&p->lock);
    return 0;
}

static int complete_state(int32_t s) {
    return s == DCM_STATE_CACHED || s == DCM_STATE_PRECIOUS || s == DCM_STATE_BROKEN;
}

/* The failures a test injects into the changes of a file (0: none). */
static int32_t injected_failure(pool *p, const char *pnfsid, char *errbuf, size_t size) {
    if (strcmp(pnfsid, p->stuck) == 0) {
        snprintf(errbuf, size, "injected repository failure: %s is stuck", pnfsid);
        return DCM_REPOSITORY_ILLEGAL_TRANSITION;
    }
    if (strcmp(pnfsid, p->broken) == 0) {
        snprintf(errbuf, size, "injected repository failure: disk of %s is gone", pnfsid);
        return DCM_REPOSITORY_OTHER;
    }
    return DCM_REPOSITORY_OK;
}

/* Removes replica i, with the pool's lock held by the caller; releases it and reports. */
static void remove_and_unlock(pool *p, long i, const char *pnfsid) {
    replica before = p->replicas[i];
    replica after = before;
    after.state = DCM_STATE_REMOVED;
    unsigned char *gone = before.data;
    memmove(&p->replicas[i], &p->replicas[i + 1], (p->count - (size_t)i - 1) * sizeof *p->replicas);
    p->count--;
    pthread_mutex_unlock(&p->lock);
    before.data = after.data = NULL; /* the views never read data */
    ns_location(p->cluster, pnfsid, p->index, 0);
    report(p, DCM_EVENT_STATE_CHANGED, &before, &after);
    free(gone);
}

static int32_t repo_set_state(void *ctx, const char *pnfsid, int32_t state, const char *reason, char *errbuf,
                              size_t size) {
    pool *p = ctx;
    (void)reason;
    int32_t injected = injected_failure(p, pnfsid, errbuf, size);
    if (injected != DCM_REPOSITORY_OK) return injected;
    pthread_mutex_lock(&p->lock);
    long i = find(p, pnfsid);
    int32_t current = i >= 0 ? p->replicas[i].state : DCM_STATE_NEW;
    if (i < 0 && state == DCM_STATE_REMOVED) {
        pthread_mutex_unlock(&p->lock);
        return DCM_REPOSITORY_OK;
    }
    if (i < 0 || !complete_state(current) || !(complete_state(state) || state == DCM_STATE_REMOVED)) {
        pthread_mutex_unlock(&p->lock);
        snprintf(errbuf, size, "Illegal state transition %d -> %d", current, state);
        return i < 0 ? DCM_REPOSITORY_NOT_FOUND : DCM_REPOSITORY_ILLEGAL_TRANSITION;
    }
    if (state == DCM_STATE_REMOVED) {
        remove_and_unlock(p, i, pnfsid);
        return DCM_REPOSITORY_OK;
    }
    replica before = p->replicas[i];
    p->replicas[i].state = state;
    replica after = p->replicas[i];
    pthread_mutex_unlock(&p->lock);
    before.data = after.data = NULL;
    report(p, DCM_EVENT_STATE_CHANGED, &before, &after);
    return DCM_REPOSITORY_OK;
}

/* Whether r is in state with exactly the records seen (any order; one record an owner). */
static int as_seen(const replica *r, int32_t state, const dcm_sticky_record *seen, size_t seen_count) {
    if (r->state != state || r->nsticky != seen_count) return 0;
    for (size_t k = 0; k < seen_count; k++) {
        int found = 0;
        for (size_t j = 0; j < r->nsticky && !found; j++)
            found = strcmp(r->sticky[j].owner, seen[k].owner) == 0 && r->sticky[j].expire == seen[k].expire;
        if (!found) return 0;
    }
    return 1;
}

/* The start of a conditional change: the injected failure, if any, or the pool's lock taken
 * and the replica's index in *i (DCM_REPOSITORY_OK), or DCM_REPOSITORY_NOT_FOUND unlocked. */
static int32_t lock_replica(pool *p, const char *pnfsid, long *i, char *errbuf, size_t size) {
    int32_t injected = injected_failure(p, pnfsid, errbuf, size);
    if (injected != DCM_REPOSITORY_OK) return injected;
    pthread_mutex_lock(&p->lock);
    *i = find(p, pnfsid);
    if (*i < 0) {
        pthread_mutex_unlock(&p->lock);
        snprintf(errbuf, size, "no replica of %s", pnfsid);
        return DCM_REPOSITORY_NOT_FOUND;
    }
    return DCM_REPOSITORY_OK;
}

/* The look and the removal under one hold of the pool's lock. */
static int32_t repo_remove_if_unchanged(void *ctx, const char *pnfsid, int32_t state, const dcm_sticky_record *seen,
                                        size_t seen_count, const char *reason, char *errbuf, size_t size) {
    pool *p = ctx;
    (void)reason;
    long i;
    int32_t status = lock_replica(p, pnfsid, &i, errbuf, size);
    if (status != DCM_REPOSITORY_OK) return status;
    replica *r = &p->replicas[i];
    replica before = *r;
    int pinned = strcmp(pnfsid, p->pin_at_removal) == 0 && r->nsticky < MAX_STICKY;
    if (pinned) {
        /* The pin manager, after the module's look and before its removal. */
        snprintf(r->sticky[r->nsticky].owner, sizeof r->sticky[0].owner, "%s-late", PIN_OWNER);
        r->sticky[r->nsticky++].expire = -1;
        p->pin_at_removal[0] = '\0';
    }
    if (!as_seen(r, state, seen, seen_count)) {
        replica after = *r;
        pthread_mutex_unlock(&p->lock);
        before.data = after.data = NULL;
        if (pinned) report(p, DCM_EVENT_STICKY_CHANGED, &before, &after);
        return DCM_REPOSITORY_CHANGED;
    }
    remove_and_unlock(p, i, pnfsid);
    return DCM_REPOSITORY_OK;
}

/* The look and the state change under one hold of the pool's lock. */
static int32_t repo_set_state_if_unchanged(void *ctx, const char *pnfsid, int32_t seen, int32_t state,
                                           const char *reason, char *errbuf, size_t size) {
    pool *p = ctx;
    (void)reason;
    long i;
    int32_t status = lock_replica(p, pnfsid, &i, errbuf, size);
    if (status != DCM_REPOSITORY_OK) return status;
    replica *r = &p->replicas[i];
    replica before = *r;
    int broken = strcmp(pnfsid, p->break_at_update) == 0;
    if (broken) {
        /* A checksum scan, after the module's look and before its change. */
        r->state = DCM_STATE_BROKEN;
        p->break_at_update[0] = '\0';
    }
    if (r->state != seen || !complete_state(state)) {
        int changed = r->state != seen;
        replica after = *r;
        pthread_mutex_unlock(&p->lock);
        before.data = after.data = NULL;
        if (broken) report(p, DCM_EVENT_STATE_CHANGED, &before, &after);
        if (changed) return DCM_REPOSITORY_CHANGED;
        snprintf(errbuf, size, "Illegal state transition %d -> %d", seen, state);
        return DCM_REPOSITORY_ILLEGAL_TRANSITION;
    }
    r->state = state;
    replica after = *r;
    pthread_mutex_unlock(&p->lock);
    before.data = after.data = NULL;
    if (state != seen) report(p, DCM_EVENT_STATE_CHANGED, &before, &after);
    return DCM_REPOSITORY_OK;
}

/* dCache's set_sticky: without overwrite, extend but never shorten. */
static int32_t sticky_change(pool *p, const char *pnfsid, const char *owner, int64_t expire, int overwrite,
                             char *errbuf, size_t size) {
    pthread_mutex_lock(&p->lock);
    long i = find(p, pnfsid);
    if (i < 0) {
        pthread_mutex_unlock(&p->lock);
        return DCM_REPOSITORY_NOT_FOUND;
    }
    replica *r = &p->replicas[i];
    if (!complete_state(r->state) || expire < -1) {
        pthread_mutex_unlock(&p->lock);
        snprintf(errbuf, size, "File is incomplete or expiry invalid");
        return DCM_REPOSITORY_ILLEGAL_TRANSITION;
    }
    replica before = *r;
    int changed = 0;
    size_t k;
    for (k = 0; k < r->nsticky; k++)
        if (strcmp(r->sticky[k].owner, owner) == 0) break;
    if (k < r->nsticky) {
        int64_t old = r->sticky[k].expire;
        int valid_at = old == -1 || old > expire;
        if (old != expire && (overwrite || !valid_at)) {
            r->sticky[k].expire = expire;
            changed = 1;
        }
    } else if (r->nsticky < MAX_STICKY) {
        copy_text(r->sticky[r->nsticky].owner, sizeof r->sticky[0].owner, owner);
        r->sticky[r->nsticky++].expire = expire;
        changed = 1;
    } else {
        pthread_mutex_unlock(&p->lock);
        snprintf(errbuf, size, "too many sticky records");
        return DCM_REPOSITORY_OTHER;
    }
    replica after = *r;
    pthread_mutex_unlock(&p->lock);
    if (changed) report(p, DCM_EVENT_STICKY_CHANGED, &before, &after);
    return DCM_REPOSITORY_OK;
}

static int32_t repo_set_sticky(void *ctx, const char *pnfsid, const char *owner, int64_t expire, bool overwrite,
                               char *errbuf, size_t size) {
    return sticky_change(ctx, pnfsid, owner, expire, overwrite, errbuf, size);
}

static void remove_sticky(pool *p, const char *pnfsid, const char *owner) {
    pthread_mutex_lock(&p->lock);
    long i = find(p, pnfsid);
    if (i < 0) {
        pthread_mutex_unlock(&p->lock);
        return;
    }
    replica *r = &p->replicas[i];
    replica before = *r;
    size_t kept = 0;
    for (size_t k = 0; k < r->nsticky; k++)
        if (strcmp(r->sticky[k].owner, owner) != 0) r->sticky[kept++] = r->sticky[k];
    int changed = kept != r->nsticky;
    r->nsticky = kept;
    replica after = *r;
    pthread_mutex_unlock(&p->lock);
    if (changed) report(p, DCM_EVENT_STICKY_CHANGED, &before, &after);
}

static int32_t repo_verify_checksum(void *ctx, const char *pnfsid, char *errbuf, size_t size) {
    pool *p = ctx;
    pthread_mutex_lock(&p->lock);
    long i = find(p, pnfsid);
    if (i < 0) {
        pthread_mutex_unlock(&p->lock);
        snprintf(errbuf, size, "no replica of %s", pnfsid);
        return DCM_RC_FILE_NOT_IN_REPOSITORY;
    }
    char actual[9];
    snprintf(actual, sizeof actual, "%08" PRIx32, adler32(p->replicas[i].data, p->replicas[i].size));
    int same = strcmp(actual, p->replicas[i].checksum) == 0;
    pthread_mutex_unlock(&p->lock);
    if (same) return 0;
    snprintf(errbuf, size, "Checksum mismatch: %s", actual);
    return DCM_RC_FILE_CORRUPTED;
}

/* ------------------------------------------------------------------------------------ */
/* Pool manager                                                                          */

static const dcm_named_queue REGULAR = {"regular", {0, 100, 0, 0, 0}};

static void pool_info(pool *p, dcm_pool_info *info) {
    pthread_mutex_lock(&p->lock);
    uint64_t used = 0;
    for (size_t i = 0; i < p->count; i++) used += p->replicas[i].size;
    pthread_mutex_unlock(&p->lock);
    memset(info, 0, sizeof *info);
    info->name = p->name;
    info->online = true;
    info->space.total = CAPACITY;
    info->space.free = CAPACITY - used;
    info->space.break_even = 0.7;
    info->movers = &REGULAR;
    info->mover_count = 1;
    info->mover_cost_factor = 0.5;
}

static int32_t pm_pools(void *ctx, const dcm_pool_selection *selection, uint64_t token, char *errbuf, size_t size) {
    pool *p = ctx;
    cluster *c = p->cluster;
    (void)errbuf;
    (void)size;
    dcm_pool_info infos[NPOOLS * 4];
    size_t n = 0;
    int all = 0;
    switch (selection->kind) {
    case DCM_SELECT_NAMES:
        for (size_t i = 0; i < selection->name_count && n < NPOOLS * 4; i++) {
            pool *q = pool_named(c, selection->names[i]);
            if (q != NULL) pool_info(q, &infos[n++]);
        }
        break;
    case DCM_SELECT_GROUPS:
        all = selection->name_count == 1 && strcmp(selection->names[0], "default") == 0;
        break;
    case DCM_SELECT_LINK:
        all = selection->name_count == 1 && strcmp(selection->names[0], "default-link") == 0;
        break;
    case DCM_SELECT_READERS:
        all = selection->attributes != NULL;
        break;
    default:
        break;
    }
    if (all)
        for (int i = 0; i < NPOOLS; i++) pool_info(&c->pools[i], &infos[n++]);
    ok(dcm_module_complete_pools(p->module, token, infos, n, NULL), "dcm_module_complete_pools");
    return 0;
}

static int32_t pm_groups_of(void *ctx, const char *name, uint64_t token, char *errbuf, size_t size) {
    pool *p = ctx;
    (void)name;
    (void)errbuf;
    (void)size;
    const char *groups[] = {"default"};
    ok(dcm_module_complete_groups(p->module, token, groups, 1, NULL), "dcm_module_complete_groups");
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Namespace service                                                                     */

static int32_t ns_cache_locations(void *ctx, const char *pnfsid, uint64_t token, char *errbuf, size_t size) {
    pool *p = ctx;
    cluster *c = p->cluster;
    pthread_mutex_lock(&c->ns_lock);
    file_record *f = ns_find(c, pnfsid);
    int gone = f == NULL || f->deleted;
    unsigned locations = gone ? 0 : f->locations;
    pthread_mutex_unlock(&c->ns_lock);
    if (gone) {
        /* A callback that reports failure: the task fails permanently (file deleted). */
        snprintf(errbuf, size, "No such file: %s was deleted", pnfsid);
        return DCM_RC_FILE_NOT_FOUND;
    }
    const char *names[NPOOLS];
    size_t n = 0;
    for (int i = 0; i < NPOOLS; i++)
        if (locations & (1u << i)) names[n++] = c->pools[i].name;
    ok(dcm_module_complete_locations(p->module, token, names, n, NULL), "dcm_module_complete_locations");
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Transport: reply ids carry the sender's token and pool index (+1; 0 is a probe).      */

static int32_t tp_send(void *ctx, const char *to, const uint8_t *bytes, size_t len, uint64_t token, char *errbuf,
                       size_t size) {
    pool *p = ctx;
    if (atomic_load(&p->fail_sends) > 0 && atomic_fetch_sub(&p->fail_sends, 1) > 0) {
        snprintf(errbuf, size, "injected transport failure to %s", to);
        return DCM_RC_SERVICE_UNAVAILABLE;
    }
    pool *target = p->cluster ? pool_named(p->cluster, to) : NULL;
    if (target == NULL || target->module == NULL) {
        snprintf(errbuf, size, "no route to %s", to);
        return DCM_RC_SERVICE_UNAVAILABLE;
    }
    uint64_t reply_id = token ? (token << 2) | (uint64_t)(p->index + 1) : 0;
    /* Every message crosses as dCache's fields, as through a bridge to dCache's message
     * classes: decoded, copied field by field, encoded again. */
    dcm_decoded_message *decoded = NULL;
    if (!ok(dcm_message_decode(bytes, len, &decoded), "dcm_message_decode")) return DCM_RC_SERVICE_UNAVAILABLE;
    dcm_message fields = *dcm_decoded_message_view(decoded);
    uint8_t *typed = NULL;
    size_t typed_len = 0;
    int encoded = ok(dcm_message_encode(&fields, &typed, &typed_len), "dcm_message_encode");
    dcm_decoded_message_free(decoded);
    if (!encoded) return DCM_RC_SERVICE_UNAVAILABLE;
    atomic_fetch_add(&p->cluster->typed_messages, 1);
    dcm_error *e = dcm_module_deliver(target->module, p->name, typed, typed_len, reply_id);
    dcm_bytes_free(typed, typed_len);
    if (e != NULL) {
        snprintf(errbuf, size, "delivery to %s failed: %s", to, dcm_error_message(e));
        dcm_error_free(e);
        return DCM_RC_SERVICE_UNAVAILABLE;
    }
    return 0;
}

static void tp_reply(void *ctx, uint64_t reply_id, const uint8_t *bytes, size_t len, const dcm_failure *failure) {
    pool *p = ctx;
    cluster *c = p->cluster;
    unsigned sender = (unsigned)(reply_id & 3);
    if (sender == 0) {
        /* A probe from the error-path tests: the module answered malformed bytes. It is
         * also a callback of p's module, so freeing p's module here must be refused. */
        CHECK(failure == NULL && bytes != NULL && len > 0, "probe reply without bytes");
        atomic_fetch_add(&c->probe_replies, 1);
        dcm_error *e = dcm_module_free(p->module);
        atomic_store(&c->reentrant_code, e ? dcm_error_code(e) : 0);
        dcm_error_free(e);
        return;
    }
    pool *source = &c->pools[sender - 1];
    /* The answer crosses as a return code and a message, like dCache's Message.setFailed. */
    uint8_t *answer = NULL;
    size_t answer_len = 0;
    if (failure == NULL) {
        int32_t rc = -1;
        char *text = NULL;
        if (ok(dcm_reply_decode(bytes, len, &rc, &text), "dcm_reply_decode")) {
            ok(dcm_reply_encode(rc, text, &answer, &answer_len), "dcm_reply_encode");
            dcm_string_free(text);
        }
    }
    dcm_error *e = dcm_module_complete_message(source->module, reply_id >> 2, answer ? answer : bytes,
                                               answer ? answer_len : len, failure);
    dcm_bytes_free(answer, answer_len);
    if (e != NULL && dcm_error_code(e) == DCM_ERROR_CLOSED) {
        dcm_error_free(e);
        return;
    }
    ok(e, "dcm_module_complete_message");
}

/* ------------------------------------------------------------------------------------ */
/* P2p: a worker thread copies the bytes                                                 */

static int32_t p2p_start(void *ctx, const dcm_p2p_request *request, uint64_t token, char *errbuf, size_t size) {
    pool *p = ctx;
    cluster *c = p->cluster;
    if (request->sticky_count > MAX_STICKY) {
        snprintf(errbuf, size, "too many sticky records");
        return DCM_RC_DEFAULT_ERROR_CODE;
    }
    p2p_job *job = calloc(1, sizeof *job);
    job->target = p;
    job->token = token;
    copy_text(job->pnfsid, sizeof job->pnfsid, request->attributes.pnfsid);
    copy_text(job->source, sizeof job->source, request->source);
    for (size_t i = 0; i < request->attributes.checksum_count; i++)
        if (strcmp(request->attributes.checksums[i].kind, "ADLER32") == 0)
            copy_text(job->checksum, sizeof job->checksum, request->attributes.checksums[i].value);
    job->state = request->state;
    job->nsticky = request->sticky_count;
    for (size_t i = 0; i < request->sticky_count; i++) {
        copy_text(job->sticky[i].owner, sizeof job->sticky[i].owner, request->sticky[i].owner);
        job->sticky[i].expire = request->sticky[i].expire;
    }
    job->has_atime = request->has_atime;
    job->atime = request->atime;
    pthread_mutex_lock(&c->q_lock);
    if (c->tail)
        c->tail->next = job;
    else
        c->head = job;
    c->tail = job;
    pthread_cond_signal(&c->q_cond);
    pthread_mutex_unlock(&c->q_lock);
    return 0;
}

static void p2p_cancel(void *ctx, const char *request_id) {
    pool *p = ctx;
    (void)request_id;
    atomic_fetch_add(&p->cluster->cancels, 1);
}

static void run_p2p(cluster *c, p2p_job *job) {
    dcm_failure failure = {DCM_FAILURE_ERROR, 0, NULL};
    char cause[256] = "";
    dcm_error *e = NULL;
    pool *source = pool_named(c, job->source);
    replica r;
    memset(&r, 0, sizeof r);
    if (source == NULL) {
        failure.kind = DCM_FAILURE_NO_ROUTE;
        goto done;
    }
    if (strcmp(job->pnfsid, c->flaky) == 0 && atomic_exchange(&c->flaky_failed, 1) == 0) {
        failure.code = DCM_RC_UNEXPECTED_SYSTEM_EXCEPTION;
        snprintf(cause, sizeof cause, "injected p2p failure");
        goto done;
    }
    pthread_mutex_lock(&source->lock);
    long i = find(source, job->pnfsid);
    if (i < 0 || !(source->replicas[i].state == DCM_STATE_CACHED || source->replicas[i].state == DCM_STATE_PRECIOUS)) {
        pthread_mutex_unlock(&source->lock);
        failure.code = DCM_RC_FILE_NOT_IN_REPOSITORY;
        snprintf(cause, sizeof cause, "Pool %s does not contain %s", job->source, job->pnfsid);
        goto done;
    }
    const replica *original = &source->replicas[i];
    r.size = original->size;
    r.data = malloc(r.size ? r.size : 1);
    memcpy(r.data, original->data, r.size);
    copy_text(r.checksum, sizeof r.checksum, job->checksum[0] ? job->checksum : original->checksum);
    pthread_mutex_unlock(&source->lock);
    copy_text(r.pnfsid, sizeof r.pnfsid, job->pnfsid);
    r.state = job->state;
    r.nsticky = job->nsticky;
    memcpy(r.sticky, job->sticky, sizeof r.sticky);
    r.last_access = job->has_atime ? job->atime : now_ms();
    if (repo_insert(job->target, &r) != 0) {
        free(r.data);
        failure.code = DCM_RC_FILE_IN_CACHE;
        snprintf(cause, sizeof cause, "Replica already exists");
        goto done;
    }
    e = dcm_module_complete(job->target->module, job->token, NULL);
    if (e != NULL && dcm_error_code(e) == DCM_ERROR_CLOSED) e = (dcm_error_free(e), NULL);
    ok(e, "dcm_module_complete (p2p)");
    return;
done:
    failure.cause = cause;
    e = dcm_module_complete(job->target->module, job->token, &failure);
    if (e != NULL && dcm_error_code(e) == DCM_ERROR_CLOSED) e = (dcm_error_free(e), NULL);
    ok(e, "dcm_module_complete (p2p failure)");
}

static void *p2p_worker(void *arg) {
    cluster *c = arg;
    for (;;) {
        pthread_mutex_lock(&c->q_lock);
        while (c->head == NULL && !c->stop) pthread_cond_wait(&c->q_cond, &c->q_lock);
        p2p_job *job = c->head;
        if (job == NULL) {
            pthread_mutex_unlock(&c->q_lock);
            return NULL;
        }
        c->head = job->next;
        if (c->head == NULL) c->tail = NULL;
        pthread_mutex_unlock(&c->q_lock);
        run_p2p(c, job);
        free(job);
    }
}

/* ------------------------------------------------------------------------------------ */
/* Pin manager                                                                           */

static int32_t pin_move(void *ctx, const dcm_pin_move *request, uint64_t token, char *errbuf, size_t size) {
    pool *p = ctx;
    pool *source = pool_named(p->cluster, request->source);
    pool *target = pool_named(p->cluster, request->target);
    if (source == NULL || target == NULL) {
        snprintf(errbuf, size, "unknown pool");
        return DCM_RC_SERVICE_UNAVAILABLE;
    }
    dcm_failure failure = {DCM_FAILURE_ERROR, DCM_RC_FILE_NOT_IN_REPOSITORY, NULL};
    char cause[512];
    const dcm_failure *outcome = NULL;
    for (size_t i = 0; i < request->pin_count; i++) {
        const dcm_sticky_record *pin = &request->pins[i];
        int32_t status = sticky_change(target, request->pnfsid, pin->owner, pin->expire, 1, cause, sizeof cause);
        if (status != DCM_REPOSITORY_OK) {
            failure.cause = cause;
            outcome = &failure;
            break;
        }
        remove_sticky(source, request->pnfsid, pin->owner);
    }
    ok(dcm_module_complete(p->module, token, outcome), "dcm_module_complete (pins)");
    return 0;
}

static bool repo_accepts_copies(void *ctx) { return !atomic_load(&((pool *)ctx)->disabled); }

/* ------------------------------------------------------------------------------------ */
/* Pools and modules                                                                     */

static void free_repository(void *ctx) { atomic_fetch_add(&((pool *)ctx)->frees[SVC_REPOSITORY], 1); }
static void free_pool_manager(void *ctx) { atomic_fetch_add(&((pool *)ctx)->frees[SVC_POOL_MANAGER], 1); }
static void free_namespace(void *ctx) { atomic_fetch_add(&((pool *)ctx)->frees[SVC_NAMESPACE], 1); }
static void free_transport(void *ctx) { atomic_fetch_add(&((pool *)ctx)->frees[SVC_TRANSPORT], 1); }
static void free_p2p(void *ctx) { atomic_fetch_add(&((pool *)ctx)->frees[SVC_P2P], 1); }
static void free_pin_manager(void *ctx) { atomic_fetch_add(&((pool *)ctx)->frees[SVC_PIN_MANAGER], 1); }

static dcm_host host_of(pool *p) {
    dcm_host h;
    memset(&h, 0, sizeof h);
    h.repository = (dcm_repository){p,
                                     repo_for_each,
                                     repo_entry,
                                     repo_set_state,
                                     repo_set_sticky,
                                     repo_verify_checksum,
                                     repo_accepts_copies,
                                     free_repository,
                                     /* pool3 leaves both NULL: entry, then set_state */
                                     p->index == 2 ? NULL : repo_remove_if_unchanged,
                                     p->index == 2 ? NULL : repo_set_state_if_unchanged};
    h.pool_manager = (dcm_pool_manager){p, pm_pools, pm_groups_of, free_pool_manager};
    h.pnfs_manager = (dcm_pnfs_manager){p, ns_cache_locations, free_namespace};
    h.transport = (dcm_transport){p, tp_send, tp_reply, free_transport};
    h.p2p = (dcm_p2p){p, p2p_start, p2p_cancel, free_p2p};
    h.pin_manager = (dcm_pin_manager){p, pin_move, free_pin_manager};
    return h;
}

static void pool_init(pool *p, cluster *c, const char *name, int index) {
    memset(p, 0, sizeof *p);
    copy_text(p->name, sizeof p->name, name);
    p->index = index;
    p->cluster = c;
    pthread_mutex_init(&p->lock, NULL);
}

static void pool_destroy(pool *p) {
    for (size_t i = 0; i < p->count; i++) free(p->replicas[i].data);
    free(p->replicas);
    pthread_mutex_destroy(&p->lock);
}

static void check_freed_once(pool *p) {
    for (int s = 0; s < NSVC; s++)
        CHECK(atomic_load(&p->frees[s]) == 1, "%s: free of service %d called %d times", p->name, s,
              atomic_load(&p->frees[s]));
}

static dcm_module *start_module(pool *p, uint64_t seed) {
    dcm_config config;
    ok(dcm_config_default(&config), "dcm_config_default");
    config.worker_threads = 2;
    config.seed = seed;
    dcm_host host = host_of(p);
    dcm_module *m = NULL;
    if (!ok(dcm_module_new(p->name, &host, &config, &m), "dcm_module_new")) exit(1);
    return m;
}

/* Runs a command that must succeed; returns its output (free with dcm_string_free). */
static char *run(pool *p, const char *line) {
    char *out = NULL;
    if (!ok(dcm_module_execute(p->module, line, &out), line)) {
        fprintf(stderr, "  command: %s\n", line);
        return NULL;
    }
    return out;
}

static void make_id(char *id, unsigned n) { snprintf(id, ID_LEN, "00010000000000000000%04X", n); }

static uint32_t lcg_state = 12345;
static uint32_t lcg(void) {
    lcg_state = lcg_state * 1103515245u + 12345u;
    return lcg_state >> 8;
}

/* Creates a replica of file n on pool p (registered in the namespace). */
static void populate(cluster *c, pool *p, unsigned n, int deleted) {
    replica r;
    memset(&r, 0, sizeof r);
    make_id(r.pnfsid, n);
    r.state = n % 3 == 0 ? DCM_STATE_PRECIOUS : DCM_STATE_CACHED;
    if (n % 10 == 0) {
        snprintf(r.sticky[0].owner, sizeof r.sticky[0].owner, "%s-%u", PIN_OWNER, n);
        r.sticky[0].expire = -1;
        r.nsticky = 1;
    }
    r.size = 64 + lcg() % 4000;
    r.data = malloc(r.size);
    for (uint64_t i = 0; i < r.size; i++) r.data[i] = (unsigned char)lcg();
    snprintf(r.checksum, sizeof r.checksum, "%08" PRIx32, adler32(r.data, r.size));
    r.last_access = now_ms() - 3600 * 1000;
    ns_create(c, r.pnfsid, r.checksum, deleted);
    CHECK(repo_insert(p, &r) == 0, "populate %u", n);
}

/* ------------------------------------------------------------------------------------ */
/* The scenario                                                                          */

/* Polls `migration info` until the job ends; returns its final state (NULL on timeout) and
 * its last info text in *info (free with dcm_string_free). */
static const char *wait_job(pool *p, const char *job, char **info) {
    static const char *ends[] = {"FINISHED", "FAILED", "CANCELLED"};
    char line[64];
    snprintf(line, sizeof line, "migration info %s", job);
    *info = NULL;
    for (int i = 0; i < 6000; i++) { /* up to 10 minutes under valgrind */
        char *out = run(p, line);
        if (out == NULL) return NULL;
        for (int k = 0; k < 3; k++) {
            char state[64];
            snprintf(state, sizeof state, "State      : %s\n", ends[k]);
            if (strstr(out, state) != NULL) {
                *info = out;
                return ends[k];
            }
        }
        dcm_string_free(out);
        sleep_ms(100);
    }
    fprintf(stderr, "job %s did not end in time\n", job);
    return NULL;
}

/* Starts a job on p and returns its id in job[32]. */
static int start_job(pool *p, const char *line, char *job) {
    char *out = run(p, line);
    if (out == NULL) return 0;
    int found = sscanf(out, "[%31[^]]]", job) == 1;
    CHECK(found, "job id in '%s'", out);
    dcm_string_free(out);
    return found;
}

static int move_files(cluster *c, unsigned nfiles) {
    pool *p1 = &c->pools[0];
    for (unsigned n = 1; n <= nfiles; n++) populate(c, p1, n, 0);
    char ghost[ID_LEN], stuck[ID_LEN];
    make_id(ghost, nfiles + 1);
    make_id(stuck, nfiles + 2);
    populate(c, p1, nfiles + 1, 1); /* deleted from the namespace */
    populate(c, p1, nfiles + 2, 0);
    copy_text(p1->stuck, sizeof p1->stuck, stuck);
    make_id(c->flaky, 7);
    atomic_store(&p1->fail_sends, 1);

    char job[32] = "";
    if (!start_job(p1, "migration move -concurrency=10 pool2 pool3", job)) return 0;
    char *info = NULL;
    const char *end = wait_job(p1, job, &info);
    int finished = end != NULL && strcmp(end, "FINISHED") == 0;
    CHECK(finished, "migration move ended %s", end ? end : "(not)");
    if (info != NULL) {
        printf("%s", info);
        /* Failures reported by callbacks become notes; the job retries and goes on. */
        CHECK(strstr(info, "injected transport failure") != NULL, "transport failure noted");
        CHECK(strstr(info, "injected p2p failure") != NULL, "p2p failure noted");
        CHECK(strstr(info, ghost) != NULL, "deleted file %s noted", ghost);
        dcm_string_free(info);
    }
    char *out = run(p1, "migration ls");
    if (out != NULL) {
        CHECK(strstr(out, "FINISHED") != NULL, "ls: %s", out);
        dcm_string_free(out);
    }
    if (!finished) return 0;

    /* Every file moved, with its state, pins and bytes. */
    pthread_mutex_lock(&p1->lock);
    CHECK(p1->count == 2, "pool1 keeps only the deleted and the stuck file, has %zu", p1->count);
    CHECK(find(p1, ghost) >= 0 && find(p1, stuck) >= 0, "ghost and stuck stay on pool1");
    pthread_mutex_unlock(&p1->lock);
    size_t moved = 0;
    for (unsigned n = 1; n <= nfiles + 2; n++) {
        if (n == nfiles + 1) continue;
        char id[ID_LEN];
        make_id(id, n);
        pthread_mutex_lock(&c->ns_lock);
        file_record f = *ns_find(c, id);
        pthread_mutex_unlock(&c->ns_lock);
        int copies = 0;
        for (int t = 1; t < NPOOLS; t++) {
            pool *q = &c->pools[t];
            pthread_mutex_lock(&q->lock);
            long i = find(q, id);
            if (i >= 0) {
                const replica *r = &q->replicas[i];
                copies++;
                char sum[9];
                snprintf(sum, sizeof sum, "%08" PRIx32, adler32(r->data, r->size));
                CHECK(strcmp(sum, f.checksum) == 0, "%s on %s: ADLER32 %s, namespace %s", id, q->name, sum, f.checksum);
                int32_t want = n % 3 == 0 ? DCM_STATE_PRECIOUS : DCM_STATE_CACHED;
                CHECK(r->state == want, "%s on %s: state %d, want %d", id, q->name, r->state, want);
                if (n % 10 == 0) {
                    char pin[64];
                    snprintf(pin, sizeof pin, "%s-%u", PIN_OWNER, n);
                    int pinned = 0;
                    for (size_t k = 0; k < r->nsticky; k++) pinned |= strcmp(r->sticky[k].owner, pin) == 0;
                    CHECK(pinned, "%s on %s lacks its pin %s", id, q->name, pin);
                }
                CHECK(f.locations & (1u << t), "namespace lacks %s on %s", id, q->name);
            }
            pthread_mutex_unlock(&q->lock);
        }
        CHECK(copies == 1, "%s has %d copies on the targets", id, copies);
        if (n <= nfiles) {
            CHECK(!(f.locations & 1u), "namespace still lists %s on pool1", id);
            moved += copies == 1;
        }
    }
    CHECK(moved == nfiles, "moved %zu of %u files", moved, nfiles);
    CHECK(atomic_load(&c->typed_messages) >= (int)(2 * nfiles), "%d messages crossed as typed fields",
          atomic_load(&c->typed_messages));
    printf("moved %zu files from pool1 to pool2 and pool3\n", moved);

    /* A repository that fails with DCM_REPOSITORY_OTHER while the source mode is applied
     * fails the job with a note (an illegal transition, as for `stuck`, is ignored). */
    char broken[ID_LEN];
    make_id(broken, nfiles + 3);
    populate(c, p1, nfiles + 3, 0);
    copy_text(p1->broken, sizeof p1->broken, broken);
    char line[128];
    snprintf(line, sizeof line, "migration move -pnfsid=%s pool2", broken);
    if (!start_job(p1, line, job)) return 0;
    end = wait_job(p1, job, &info);
    CHECK(end != NULL && strcmp(end, "FAILED") == 0, "job with a failing repository ended %s", end ? end : "(not)");
    if (info != NULL) {
        CHECK(strstr(info, "Failed to apply source mode: injected repository failure") != NULL, "noted: %s", info);
        dcm_string_free(info);
    }

    /* A pin set between the module's look at a source and its removal keeps the source: the
     * removal is refused (DCM_REPOSITORY_CHANGED), and the module, reading it again, finds the
     * pin and makes the replica removable instead. */
    char late[ID_LEN];
    unsigned n = (nfiles + 4) % 10 == 0 ? nfiles + 5 : nfiles + 4; /* not pinned by populate */
    make_id(late, n);
    populate(c, p1, n, 0);
    copy_text(p1->pin_at_removal, sizeof p1->pin_at_removal, late);
    snprintf(line, sizeof line, "migration move -pnfsid=%s pool2", late);
    if (!start_job(p1, line, job)) return 0;
    end = wait_job(p1, job, &info);
    CHECK(end != NULL && strcmp(end, "FINISHED") == 0, "move of a file pinned at its removal ended %s",
          end ? end : "(not)");
    dcm_string_free(info);
    CHECK(p1->pin_at_removal[0] == '\0', "the removal of %s was asked", late);
    pthread_mutex_lock(&p1->lock);
    long at = find(p1, late);
    int kept = at >= 0 && p1->replicas[at].state == DCM_STATE_CACHED && p1->replicas[at].nsticky >= 1 &&
               strcmp(p1->replicas[at].sticky[p1->replicas[at].nsticky - 1].owner, PIN_OWNER "-late") == 0;
    pthread_mutex_unlock(&p1->lock);
    CHECK(kept, "%s kept on pool1, cached, with the late pin", late);

    /* pool3 leaves remove_if_unchanged NULL: its module deletes a moved source with `entry`,
     * then `set_state`, as with a host of ABI version 2. */
    pool *p2 = &c->pools[1], *p3 = &c->pools[2];
    char plain[ID_LEN];
    unsigned m = (n + 1) % 10 == 0 ? n + 2 : n + 1; /* not pinned by populate */
    make_id(plain, m);
    populate(c, p3, m, 0);
    snprintf(line, sizeof line, "migration move -pnfsid=%s pool2", plain);
    if (!start_job(p3, line, job)) return 0;
    end = wait_job(p3, job, &info);
    CHECK(end != NULL && strcmp(end, "FINISHED") == 0, "move from pool3 ended %s", end ? end : "(not)");
    dcm_string_free(info);
    pthread_mutex_lock(&p3->lock);
    CHECK(find(p3, plain) < 0, "%s deleted from pool3 without remove_if_unchanged", plain);
    pthread_mutex_unlock(&p3->lock);
    pthread_mutex_lock(&p2->lock);
    CHECK(find(p2, plain) >= 0, "%s moved to pool2", plain);
    pthread_mutex_unlock(&p2->lock);
    return 1;
}

static void setup_lines(cluster *c) {
    pool *p2 = &c->pools[1];
    char *out = run(p2, "migration set concurrency-default 3");
    dcm_string_free(out);
    out = run(p2, "migration copy -permanent -id=perm -storage=none:none@osm pool3");
    dcm_string_free(out);
    char *lines = NULL;
    if (!ok(dcm_module_setup_lines(p2->module, &lines), "dcm_module_setup_lines")) return;
    CHECK(strstr(lines, "migration set concurrency-default 3\n") != NULL, "setup lines: %s", lines);
    CHECK(strstr(lines, "-id=perm") != NULL, "setup lines: %s", lines);

    /* A fresh pool (outside the cluster) replays them. */
    pool scratch;
    pool_init(&scratch, c, "scratch", -1);
    scratch.module = start_module(&scratch, 99);
    ok(dcm_module_replay(scratch.module, lines), "dcm_module_replay");
    out = run(&scratch, "migration get concurrency-default");
    CHECK(out != NULL && strstr(out, "3") != NULL, "replayed default: %s", out ? out : "(null)");
    dcm_string_free(out);
    out = run(&scratch, "migration ls");
    CHECK(out != NULL && strstr(out, "[perm]") != NULL, "replayed job: %s", out ? out : "(null)");
    dcm_string_free(out);

    /* Reload with a bad line: the others take effect, the error names the bad one. */
    size_t len = strlen(lines) + 64;
    char *bad = malloc(len);
    snprintf(bad, len, "%smigration frobnicate\n", lines);
    expect_error(dcm_module_reload(scratch.module, bad), DCM_ERROR_SYNTAX, "migration frobnicate", "reload");
    out = run(&scratch, "migration ls");
    CHECK(out != NULL && strstr(out, "[perm]") != NULL, "reloaded job: %s", out ? out : "(null)");
    dcm_string_free(out);
    free(bad);
    dcm_string_free(lines);

    ok(dcm_module_free(scratch.module), "dcm_module_free(scratch)");
    check_freed_once(&scratch);
    pool_destroy(&scratch);
}

/* Polls `migration info <job>` until it contains `text`; returns whether it did. */
static int wait_info(pool *p, const char *job, const char *text) {
    char line[64];
    snprintf(line, sizeof line, "migration info %s", job);
    for (int i = 0; i < 6000; i++) {
        char *out = run(p, line);
        int found = out != NULL && strstr(out, text) != NULL;
        dcm_string_free(out);
        if (found) return 1;
        sleep_ms(100);
    }
    return 0;
}

/* Populates pool1 with the first file from `from` on that is precious and not pinned, puts a
 * cached copy of it on `to`, and returns its number (its id in id[ID_LEN]). */
static unsigned precious_with_cached_copy(cluster *c, unsigned from, pool *to, char *id) {
    pool *p1 = &c->pools[0];
    unsigned n = from;
    while (n % 3 != 0 || n % 10 == 0) n++; /* populated precious (3), not pinned (10) */
    make_id(id, n);
    populate(c, p1, n, 0);
    pthread_mutex_lock(&p1->lock);
    replica copy = p1->replicas[find(p1, id)];
    copy.data = malloc(copy.size);
    memcpy(copy.data, p1->replicas[find(p1, id)].data, copy.size);
    pthread_mutex_unlock(&p1->lock);
    CHECK(copy.state == DCM_STATE_PRECIOUS, "%s populated precious", id);
    copy.state = DCM_STATE_CACHED;
    CHECK(repo_insert(to, &copy) == 0, "a cached copy of %s on %s", id, to->name);
    return n;
}

/* The drop-in safety rules of the C ABI: the pool mode asked per copy request, a NULL
 * verify callback refusing -verify, a repository that is still loading, and validation. */
static void safety(cluster *c, unsigned nfiles) {
    pool *p1 = &c->pools[0], *p2 = &c->pools[1];

    /* pool2 disables itself without telling its module: its accepts_copies answers. */
    unsigned n = nfiles + 10;
    char id[ID_LEN], job[32], line[128];
    make_id(id, n);
    populate(c, p1, n, 0);
    atomic_store(&p2->disabled, 1);
    snprintf(line, sizeof line, "migration copy -pnfsid=%s pool2", id);
    if (!start_job(p1, line, job)) return;
    CHECK(wait_info(p1, job, "Pool is disabled"), "the disabled target refused the copy");
    pthread_mutex_lock(&p2->lock);
    CHECK(find(p2, id) < 0, "no replica of %s on the disabled pool2", id);
    pthread_mutex_unlock(&p2->lock);
    atomic_store(&p2->disabled, 0);
    char *info = NULL;
    const char *end = wait_job(p1, job, &info);
    CHECK(end != NULL && strcmp(end, "FINISHED") == 0, "copy after enabling ended %s", end ? end : "(not)");
    dcm_string_free(info);
    pthread_mutex_lock(&p2->lock);
    CHECK(find(p2, id) >= 0, "pool2 has %s once enabled", id);
    pthread_mutex_unlock(&p2->lock);

    /* pool2 holds a cached copy of a precious file, and a checksum scan marks it BROKEN
     * between the target's look and its update: the update (precious, if still cached) is
     * refused, the target reads the replica again and fails the copy, and the move keeps its
     * source. dCache confirmed such a copy, and the move deleted the only good replica. */
    char doomed[ID_LEN];
    unsigned b = precious_with_cached_copy(c, nfiles + 11, p2, doomed); /* ids to nfiles + 10 are taken */
    copy_text(p2->break_at_update, sizeof p2->break_at_update, doomed);
    snprintf(line, sizeof line, "migration move -pnfsid=%s pool2", doomed);
    if (!start_job(p1, line, job)) return;
    CHECK(wait_info(p1, job, "Cannot update file in state BROKEN"), "the broken copy was not confirmed");
    CHECK(p2->break_at_update[0] == '\0', "the update of %s was asked", doomed);
    pthread_mutex_lock(&p1->lock);
    long source = find(p1, doomed);
    CHECK(source >= 0 && p1->replicas[source].state == DCM_STATE_PRECIOUS, "pool1 keeps %s precious", doomed);
    pthread_mutex_unlock(&p1->lock);
    pthread_mutex_lock(&p2->lock);
    long target = find(p2, doomed);
    CHECK(target >= 0 && p2->replicas[target].state == DCM_STATE_BROKEN, "pool2's copy of %s stays BROKEN", doomed);
    pthread_mutex_unlock(&p2->lock);
    snprintf(line, sizeof line, "migration cancel %s", job);
    dcm_string_free(run(p1, line));
    char *cancelled = NULL;
    const char *ended = wait_job(p1, job, &cancelled);
    CHECK(ended != NULL && strcmp(ended, "CANCELLED") == 0, "the move ended %s", ended ? ended : "(not)");
    dcm_string_free(cancelled);

    /* pool3 leaves set_state_if_unchanged NULL: holding a cached copy of a precious file, it
     * upgrades it through `entry`, then `set_state`, as a host of ABI version 3 did. */
    pool *p3 = &c->pools[2];
    char upgraded[ID_LEN];
    precious_with_cached_copy(c, b + 1, p3, upgraded);
    snprintf(line, sizeof line, "migration copy -pnfsid=%s pool3", upgraded);
    if (!start_job(p1, line, job)) return;
    char *copied = NULL;
    ended = wait_job(p1, job, &copied);
    CHECK(ended != NULL && strcmp(ended, "FINISHED") == 0, "the copy to pool3 ended %s", ended ? ended : "(not)");
    dcm_string_free(copied);
    pthread_mutex_lock(&p3->lock);
    long held = find(p3, upgraded);
    CHECK(held >= 0 && p3->replicas[held].state == DCM_STATE_PRECIOUS, "pool3's copy of %s made precious", upgraded);
    pthread_mutex_unlock(&p3->lock);

    /* validate: reports bad lines and changes nothing. */
    ok(dcm_module_validate(p1->module, "migration set concurrency-default 7\nmigration copy -permanent -id=v pool2\n"),
       "dcm_module_validate of good lines");
    expect_error(dcm_module_validate(p1->module, "migration copy -smode=sideways pool2\n"), DCM_ERROR_SYNTAX,
                 "migration copy -smode=sideways pool2", "validate of a bad line");
    char *out = run(p1, "migration get concurrency-default");
    CHECK(out != NULL && strstr(out, "7") == NULL, "validate changed nothing: %s", out ? out : "(null)");
    dcm_string_free(out);
    out = run(p1, "migration ls");
    CHECK(out != NULL && strstr(out, "[v]") == NULL, "validate created no job: %s", out ? out : "(null)");
    dcm_string_free(out);

    /* A pool whose repository cannot verify (NULL verify_checksum) refuses -verify. */
    pool scratch;
    pool_init(&scratch, c, "scratch", -1);
    dcm_host host = host_of(&scratch);
    host.repository.verify_checksum = NULL;
    dcm_module *m = NULL;
    if (!ok(dcm_module_new("scratch", &host, NULL, &m), "dcm_module_new without verify")) return;
    scratch.module = m;
    expect_error(dcm_module_execute(m, "migration move pool2", &out), DCM_ERROR_UNSUPPORTED, "-verify",
                 "move without a verifier");
    dcm_string_free(run(&scratch, "migration copy pool2"));

    /* A repository that is still loading: the job waits instead of failing. */
    atomic_store(&scratch.loading, 1);
    ok(dcm_module_pool_started(m), "pool_started while loading");
    if (start_job(&scratch, "migration copy -verify=false pool2", job)) {
        CHECK(wait_info(&scratch, job, "Repository is still loading; waiting for it"), "the job waits for loading");
        atomic_store(&scratch.loading, 0);
        ok(dcm_module_repository_loaded(m), "dcm_module_repository_loaded");
        end = wait_job(&scratch, job, &info);
        CHECK(end != NULL && strcmp(end, "FINISHED") == 0, "job after loading ended %s", end ? end : "(not)");
        dcm_string_free(info);
    }
    ok(dcm_module_free(m), "dcm_module_free(scratch)");
    check_freed_once(&scratch);
    pool_destroy(&scratch);
}

static void commands(void) {
    size_t n = dcm_command_count();
    CHECK(n > 10, "%zu commands", n);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = dcm_command_name(i);
        CHECK(name != NULL && dcm_command_summary(i) != NULL, "command %zu", i);
        if (name == NULL) continue;
        found |= strcmp(name, "migration move") == 0;
        if (strcmp(name, "migration copy") == 0) {
            /* Typed options for a shell that registers them: dCache's categories. */
            int accessed = 0;
            for (size_t k = 0; k < dcm_command_option_count(i); k++) {
                dcm_command_option o;
                if (!ok(dcm_command_option_get(i, k, &o), "dcm_command_option_get")) break;
                if (strcmp(o.name, "accessed") == 0) {
                    accessed = strcmp(o.category, "Filter options") == 0 && o.takes_value &&
                               strcmp(o.value, "=<n>|[<n>]..[<m>]") == 0;
                }
            }
            CHECK(accessed, "migration copy -accessed is a Filter option taking =<n>|[<n>]..[<m>]");
        }
        char *help = NULL;
        if (ok(dcm_command_help(i, &help), name)) {
            CHECK(help != NULL && strstr(help, name) != NULL, "help of %s", name);
            dcm_string_free(help);
        }
    }
    CHECK(found, "migration move is listed");
    CHECK(dcm_command_name(n) == NULL, "name past the end");
    char *help = NULL;
    expect_error(dcm_command_help(n, &help), DCM_ERROR_INVALID_ARGUMENT, NULL, "help past the end");
    CHECK(help == NULL, "no help on error");
}

static void error_paths(cluster *c) {
    pool *p2 = &c->pools[1];
    char *out = (char *)"untouched";

    expect_error(dcm_module_execute(p2->module, "migration frobnicate", &out), DCM_ERROR_SYNTAX, NULL, "bad command");
    CHECK(out == NULL, "output is NULL after an error");
    expect_error(dcm_module_execute(p2->module, "migration info 999", &out), DCM_ERROR_NOT_FOUND, "Job not found",
                 "unknown job");
    expect_error(dcm_module_execute(NULL, "migration ls", &out), DCM_ERROR_INVALID_ARGUMENT, "NULL", "NULL handle");
    expect_error(dcm_module_execute(p2->module, NULL, &out), DCM_ERROR_INVALID_ARGUMENT, "NULL", "NULL line");
    expect_error(dcm_module_execute(p2->module, "migration info \xff\xfe", &out), DCM_ERROR_INVALID_ARGUMENT, "UTF-8",
                 "invalid UTF-8");
    ok(dcm_module_execute(p2->module, "migration ls", NULL), "output may be NULL");

    /* Errors: NULL and double frees are harmless. */
    dcm_error *e = dcm_module_execute(p2->module, "migration frobnicate", NULL);
    dcm_error_free(e);
    dcm_error_free(e);
    dcm_error_free(NULL);
    dcm_string_free(NULL);
    CHECK(dcm_error_code(NULL) == 0 && dcm_error_message(NULL) == NULL, "NULL error");
    expect_error(dcm_config_default(NULL), DCM_ERROR_INVALID_ARGUMENT, NULL, "NULL config");

    /* Invalid enumeration values and entries. */
    replica r;
    memset(&r, 0, sizeof r);
    make_id(r.pnfsid, 4242);
    r.state = DCM_STATE_CACHED;
    view v;
    make_view(&r, &v);
    expect_error(dcm_module_repository_event(p2->module, 99, NULL, &v.entry), DCM_ERROR_INVALID_ARGUMENT,
                 "event kind", "event kind");
    v.entry.state = 42;
    expect_error(dcm_module_repository_event(p2->module, DCM_EVENT_STATE_CHANGED, NULL, &v.entry),
                 DCM_ERROR_INVALID_ARGUMENT, "replica state 42", "state");
    make_view(&r, &v);
    v.entry.pnfsid = "not-an-id";
    expect_error(dcm_module_repository_event(p2->module, DCM_EVENT_STATE_CHANGED, NULL, &v.entry),
                 DCM_ERROR_INVALID_ARGUMENT, "pnfsid", "pnfsid");
    make_view(&r, &v);
    v.entry.access_latency = 7;
    expect_error(dcm_module_repository_event(p2->module, DCM_EVENT_STATE_CHANGED, NULL, &v.entry),
                 DCM_ERROR_INVALID_ARGUMENT, "access latency", "access latency");
    make_view(&r, &v);
    expect_error(dcm_module_repository_event(p2->module, DCM_EVENT_STICKY_CHANGED, NULL, &v.entry),
                 DCM_ERROR_INVALID_ARGUMENT, "before", "sticky change without before");

    /* Tokens: unknown, and invalid failures (checked before the token). */
    expect_error(dcm_module_complete(p2->module, 987654321, NULL), DCM_ERROR_INVALID_ARGUMENT, "unknown token",
                 "unknown token");
    dcm_failure bad = {17, 1, "x"};
    expect_error(dcm_module_complete(p2->module, 1, &bad), DCM_ERROR_INVALID_ARGUMENT, "failure kind", "failure kind");
    const char *names[] = {"pool1", "\xc3\x28"};
    expect_error(dcm_module_complete_locations(p2->module, 987654321, names, 2, NULL), DCM_ERROR_INVALID_ARGUMENT,
                 "UTF-8", "location UTF-8");

    /* A malformed message is answered (through transport.reply) with an error reply; that
     * reply callback tries to free its own module, which must be refused. */
    const uint8_t garbage[] = "not a message";
    ok(dcm_module_deliver(p2->module, "pool1", garbage, sizeof garbage, 77u << 2), "deliver garbage");
    for (int i = 0; i < 500 && atomic_load(&c->probe_replies) == 0; i++) sleep_ms(10);
    CHECK(atomic_load(&c->probe_replies) == 1, "probe answered %d times", atomic_load(&c->probe_replies));
    CHECK(atomic_load(&c->reentrant_code) == DCM_ERROR_REENTRANT, "free from a callback: %u",
          atomic_load(&c->reentrant_code));
    out = run(p2, "migration ls");
    CHECK(out != NULL, "pool2 survives the refused free");
    dcm_string_free(out);

    /* dcm_module_new failures still free every context exactly once. */
    pool scratch;
    pool_init(&scratch, c, "scratch", -1);
    dcm_host host = host_of(&scratch);
    dcm_module *m = (dcm_module *)&scratch;
    expect_error(dcm_module_new("pool\xff", &host, NULL, &m), DCM_ERROR_INVALID_ARGUMENT, "UTF-8", "pool name");
    CHECK(m == NULL, "no module after an error");
    check_freed_once(&scratch);
    memset((void *)scratch.frees, 0, sizeof scratch.frees);
    host.p2p.cancel = NULL;
    expect_error(dcm_module_new("scratch", &host, NULL, &m), DCM_ERROR_INVALID_ARGUMENT, "p2p.cancel", "NULL callback");
    check_freed_once(&scratch);
    memset((void *)scratch.frees, 0, sizeof scratch.frees);
    host = host_of(&scratch);
    dcm_config config;
    ok(dcm_config_default(&config), "dcm_config_default");
    config.worker_threads = 0;
    expect_error(dcm_module_new("scratch", &host, &config, &m), DCM_ERROR_INVALID_ARGUMENT, "worker_threads",
                 "bad config");
    check_freed_once(&scratch);
    expect_error(dcm_module_new("scratch", NULL, NULL, &m), DCM_ERROR_INVALID_ARGUMENT, "host", "NULL host");

    /* A freed handle: use after free and double free are errors. */
    memset((void *)scratch.frees, 0, sizeof scratch.frees);
    scratch.module = start_module(&scratch, 7);
    ok(dcm_module_free(scratch.module), "dcm_module_free");
    check_freed_once(&scratch);
    expect_error(dcm_module_execute(scratch.module, "migration ls", &out), DCM_ERROR_CLOSED, NULL, "use after free");
    expect_error(dcm_module_pool_started(scratch.module), DCM_ERROR_CLOSED, NULL, "pool_started after free");
    expect_error(dcm_module_free(scratch.module), DCM_ERROR_CLOSED, NULL, "double free");
    expect_error(dcm_module_free(NULL), DCM_ERROR_INVALID_ARGUMENT, NULL, "free NULL");
    check_freed_once(&scratch);
    pool_destroy(&scratch);
}

int main(int argc, char **argv) {
    unsigned nfiles = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 300;
    if (nfiles < 10 || nfiles > 60000) nfiles = 300;
    CHECK(dcm_abi_version() == DCM_ABI_VERSION, "ABI version %u, header %u", dcm_abi_version(), DCM_ABI_VERSION);

    cluster *c = calloc(1, sizeof *c);
    pthread_mutex_init(&c->ns_lock, NULL);
    pthread_mutex_init(&c->q_lock, NULL);
    pthread_cond_init(&c->q_cond, NULL);
    pthread_create(&c->worker, NULL, p2p_worker, c);
    for (int i = 0; i < NPOOLS; i++) {
        char name[16];
        snprintf(name, sizeof name, "pool%d", i + 1);
        pool_init(&c->pools[i], c, name, i);
    }
    for (int i = 0; i < NPOOLS; i++) c->pools[i].module = start_module(&c->pools[i], 1 + (uint64_t)i);
    for (int i = 0; i < NPOOLS; i++) ok(dcm_module_pool_started(c->pools[i].module), "dcm_module_pool_started");

    commands();
    move_files(c, nfiles);
    safety(c, nfiles);
    setup_lines(c);
    error_paths(c);

    for (int i = 0; i < NPOOLS; i++) {
        ok(dcm_module_free(c->pools[i].module), "dcm_module_free");
        check_freed_once(&c->pools[i]);
    }
    for (int i = 0; i < NPOOLS; i++)
        expect_error(dcm_module_free(c->pools[i].module), DCM_ERROR_CLOSED, NULL, "double free");

    pthread_mutex_lock(&c->q_lock);
    c->stop = 1;
    pthread_cond_signal(&c->q_cond);
    pthread_mutex_unlock(&c->q_lock);
    pthread_join(c->worker, NULL);
    for (int i = 0; i < NPOOLS; i++) pool_destroy(&c->pools[i]);
    free(c->files);
    pthread_cond_destroy(&c->q_cond);
    pthread_mutex_destroy(&c->q_lock);
    pthread_mutex_destroy(&c->ns_lock);
    free(c);

    int n = atomic_load(&failures);
    if (n != 0) {
        fprintf(stderr, "c_host: %d check(s) failed\n", n);
        return 1;
    }
    printf("c_host: all checks passed\n");
    return 0;
}
