/*
 * cmd_seed.c — `printdesk seed-demo`: fills a database with realistic demo
 * orders spread over 90 days (a mix of statuses, one to three pets each,
 * their status history and notes) whose pets point at real images drawn
 * by libvips. A handful of pictures is drawn once and shared by every
 * order, so 100,000 orders stay small on disk.
 */
#include "cli/cli.h"

#include "common/err.h"
#include "common/util.h"
#include "db/db.h"
#include "db/db_batch.h"
#include "images/images.h"
#include "orders/print.h"
#include "obs/log.h"
#include "store/store.h"

#include <getopt.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEMO_PICTURES SYNTH_LOOKS
#define DEMO_MAX_ORDERS 1000000
#define DAY_MS (24LL * 3600 * 1000)
/* Bound parameters per INSERT (the PostgreSQL backend takes 1000). */
#define ARGS_PER_INSERT 960

static const char help[] =
    "usage: printdesk seed-demo [--orders N] [--if-empty] [--force] "
    "[OPTIONS]\n\n"
    "Fills the database with N demo orders (default 500) spread over the\n"
    "last 90 days, with pets and real demo photos in storage. Refuses a\n"
    "database that already has orders unless --force (add more) or\n"
    "--if-empty (do nothing, successfully).\n\nOptions:\n"
    "  --orders N            how many orders (1..1000000)\n"
    "  --seed N              random seed, for repeatable data (42)\n"
    "  --if-empty            seed only an empty database\n"
    "  --force               add orders even when some exist\n"
    CONFIG_FLAGS_HELP;

/* One stored picture and where its variants live, per tier. */
struct picture {
    int width, height;
    int64_t original_bytes, cutout_bytes;
    char original_sha[65], cutout_sha[65];
};

struct seeder {
    const struct images_api *images_api;
    db *d;
    store *st;
    int64_t now;
    uint64_t rng;
    struct picture pictures[DEMO_PICTURES];
    int64_t next_order_id, next_number, next_pet_id;
    int64_t next_history_id, next_note_id;
    db_batch *orders, *pets, *images, *history, *notes;
    int64_t n_pets, n_images;
};

/* ---- deterministic randomness ---- */

static uint64_t
rnd(struct seeder *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static int64_t
rnd_below(struct seeder *s, int64_t n)
{
    return n > 0 ? (int64_t)(rnd(s) % (uint64_t)n) : 0;
}

static const char *
pick(struct seeder *s, const char *const *list, int n)
{
    return list[rnd_below(s, n)];
}

/* ---- pictures ---- */

static const char *const tiers_used[] = {"order_pending", "order_completed"};

static void
picture_key(char *out, size_t len, const char *tier, int v, const char *what)
{
    snprintf(out, len, "%s/demo/pet-%d-%s", tier, v, what);
}

static void
sha_hex(char out[65], const void *data, size_t len)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];

    SHA256(data, len, digest);
    pd_hex(out, digest, sizeof(digest));
}

/* Stores one encoded picture under every tier the demo uses. */
static int
store_blob(store *st, int v, const char *what, const struct synth_blob *b)
{
    char key[STORE_KEY_MAX];
    int rc = PD_OK;

    for (size_t t = 0; t < 2 && rc == PD_OK; t++) {
        picture_key(key, sizeof(key), tiers_used[t], v, what);
        rc = store_put_bytes(st, key, b->data, b->len);
    }
    return rc;
}

static int
draw_picture(struct seeder *s, int v)
{
    /* The last look is small, so print-readiness has something to flag. */
    int small = v == DEMO_PICTURES - 1;
    int w = small ? 900 : (v % 2 ? 2400 : 3000);
    int h = small ? 700 : (v % 2 ? 3000 : 2400);
    struct synth_pet pet = {0};
    struct picture *p = &s->pictures[v];
    int rc = s->images_api->make_demo_pet(v, w, h, &pet);

    if (rc == PD_OK)
        rc = store_blob(s->st, v, "original.jpg", &pet.original_jpeg);
    if (rc == PD_OK)
        rc = store_blob(s->st, v, "cutout.png", &pet.cutout_png);
    if (rc == PD_OK)
        rc = store_blob(s->st, v, "original-thumb.jpg", &pet.original_thumb);
    if (rc == PD_OK)
        rc = store_blob(s->st, v, "cutout-thumb.jpg", &pet.cutout_thumb);
    if (rc == PD_OK)
        rc = store_blob(s->st, v, "original-preview.jpg",
                        &pet.original_preview);
    if (rc == PD_OK)
        rc = store_blob(s->st, v, "cutout-preview.jpg", &pet.cutout_preview);
    if (rc == PD_OK) {
        p->width = pet.original_jpeg.width;
        p->height = pet.original_jpeg.height;
        p->original_bytes = (int64_t)pet.original_jpeg.len;
        p->cutout_bytes = (int64_t)pet.cutout_png.len;
        sha_hex(p->original_sha, pet.original_jpeg.data,
                pet.original_jpeg.len);
        sha_hex(p->cutout_sha, pet.cutout_png.data, pet.cutout_png.len);
    }
    s->images_api->free_demo_pet(&pet);
    return rc;
}

static int
draw_pictures(struct seeder *s)
{
    int64_t t0 = pd_mono_ns();

    for (int v = 0; v < DEMO_PICTURES; v++) {
        int rc = draw_picture(s, v);

        if (rc != PD_OK) {
            log_error("cannot make demo picture %d: %s", v, pd_err_str(rc));
            return rc;
        }
    }
    log_info("drew and stored %d demo pictures in %.1f s", DEMO_PICTURES,
             (double)(pd_mono_ns() - t0) / 1e9);
    return PD_OK;
}

/* ---- orders ---- */

static const char *const pet_names[] = {
    "Bella", "Max", "Luna", "Charlie", "Lucy", "Cooper", "Daisy", "Milo",
    "Bailey", "Sadie", "Rocky", "Molly", "Buddy", "Coco", "Teddy", "Nala",
    "Oliver", "Loki", "Pepper", "Biscuit", "Ziggy", "Mochi", "Winston",
    "Hazel", "Olive", "Juniper", "Pickles", "Noodle", "Gizmo", "Maple",
};
static const char *const print_sizes[] = {"8x10", "8x10", "11x14", "5x7",
                                          "12x12", "16x20"};
static const char *const order_notes[] = {
    "Please add a thin white border.",
    "Gift - no invoice in the box please.",
    "Customer asked for extra care with the whiskers.",
    "Rush: birthday on Friday.",
    "Can the background be a soft blue?",
};

/* The status an order of this age is likely to be in now. */
static const char *
status_for_age(struct seeder *s, int64_t age_ms)
{
    int64_t r = rnd_below(s, 100);

    if (age_ms < 2 * DAY_MS)
        return r < 60 ? "pending" : r < 90 ? "in_production" : "on_hold";
    if (age_ms < 7 * DAY_MS)
        return r < 10   ? "pending"
               : r < 45 ? "in_production"
               : r < 80 ? "printed"
               : r < 95 ? "completed"
                        : "on_hold";
    return r < 88 ? "completed" : r < 94 ? "cancelled"
                  : r < 97 ? "on_hold" : "printed";
}

/* Print-readiness flags of one picture at a print size (print.h). */
static int
readiness_flags(const struct picture *p, const char *size)
{
    enum print_readiness r;

    print_effective_dpi(size, p->width, p->height, &r);
    return print_warning_flags(r);
}

static const char *
tier_for(const char *status)
{
    return strcmp(status, "completed") == 0 ||
                   strcmp(status, "cancelled") == 0
               ? "order_completed"
               : "order_pending";
}

/* Image ids name their demo session and kind, so they never collide. */
static int
add_image(struct seeder *s, int64_t order_id, const char *session,
          const char *kind, int v, const char *tier, int64_t at, char *id)
{
    const struct picture *p = &s->pictures[v];
    bool original = strcmp(kind, "original") == 0;
    char key[STORE_KEY_MAX], thumb[STORE_KEY_MAX], preview[STORE_KEY_MAX];

    snprintf(id, 40, "img_%s_%c", session, kind[0]);
    picture_key(key, sizeof(key), tier, v,
                original ? "original.jpg" : "cutout.png");
    picture_key(thumb, sizeof(thumb), tier, v,
                original ? "original-thumb.jpg" : "cutout-thumb.jpg");
    picture_key(preview, sizeof(preview), tier, v,
                original ? "original-preview.jpg" : "cutout-preview.jpg");
    s->n_images++;
    return db_batch_add(s->images, (db_arg[]){
        DB_TEXT(id), DB_TEXT(session), DB_TEXT(kind), DB_INT(order_id),
        DB_TEXT(key), DB_TEXT(thumb), DB_TEXT(preview), DB_TEXT(tier),
        DB_INT(original ? p->original_bytes : p->cutout_bytes),
        DB_INT(p->width), DB_INT(p->height),
        DB_TEXT(original ? "jpeg" : "png"),
        DB_TEXT(original ? p->original_sha : p->cutout_sha), DB_INT(1),
        DB_INT(at), DB_INT(at)});
}

/* One pet: its two images and its line item. Returns its flags. */
static int
add_pet(struct seeder *s, int64_t order_id, int64_t number, int position,
        const char *status, int64_t at, pd_buf *search, int *flags)
{
    const char *name = pick(s, pet_names, 30);
    const char *size = pick(s, print_sizes, 6);
    const char *tier = tier_for(status);
    int v = (int)rnd_below(s, DEMO_PICTURES);
    char session[24], original_id[40], cutout_id[40], variant[32];
    int rc;

    snprintf(session, sizeof(session), "demo-%lld-%d", (long long)number,
             position);
    snprintf(variant, sizeof(variant), "%s / Matte", size);
    rc = add_image(s, order_id, session, "original", v, tier, at,
                   original_id);
    if (rc == PD_OK)
        rc = add_image(s, order_id, session, "processed", v, tier, at,
                       cutout_id);
    if (rc != PD_OK)
        return rc;
    *flags |= readiness_flags(&s->pictures[v], size);
    buf_printf(search, " %s", name);
    s->n_pets++;
    return db_batch_add(s->pets, (db_arg[]){
        DB_INT(s->next_pet_id++), DB_INT(order_id),
        DB_INT(number * 1000 + position + 13000000000000LL),
        DB_INT(position), DB_TEXT(name), DB_TEXT("Custom Pet Portrait"),
        DB_TEXT(variant), DB_TEXT(size), DB_INT(1), DB_TEXT(session),
        DB_TEXT(original_id), DB_TEXT(cutout_id)});
}

/* The path an order took to its status, one history row per move. */
static int
add_history(struct seeder *s, int64_t order_id, const char *status,
            int64_t created, int64_t *last_change)
{
    static const char *const path[] = {"pending", "in_production",
                                       "printed", "completed"};
    const char *from = NULL;
    int64_t at = created, span = s->now - created;
    int rc = PD_OK;

    for (int i = 0; i < 4 && rc == PD_OK; i++) {
        rc = db_batch_add(s->history, (db_arg[]){
            DB_INT(s->next_history_id++), DB_INT(order_id), DB_TEXT(from),
            DB_TEXT(path[i]), DB_TEXT(i ? "staff:demo" : "shopify"),
            DB_INT(at)});
        from = path[i];
        if (strcmp(path[i], status) == 0)
            break;
        if (i == 3 || (strcmp(status, "cancelled") == 0 && i == 0) ||
            (strcmp(status, "on_hold") == 0 && i == 1))
            break;
        at += rnd_below(s, span / 4 + 1);
    }
    if (rc == PD_OK && (strcmp(status, "cancelled") == 0 ||
                        strcmp(status, "on_hold") == 0)) {
        at += rnd_below(s, span / 4 + 1);
        rc = db_batch_add(s->history, (db_arg[]){
            DB_INT(s->next_history_id++), DB_INT(order_id), DB_TEXT(from),
            DB_TEXT(status), DB_TEXT("staff:demo"), DB_INT(at)});
    }
    *last_change = at;
    return rc;
}

static int
add_order(struct seeder *s, int64_t created)
{
    int64_t id = s->next_order_id++, number = s->next_number++;
    const char *status = status_for_age(s, s->now - created);
    const char *note = rnd_below(s, 10) == 0 ? pick(s, order_notes, 5) : NULL;
    int pets = rnd_below(s, 10) < 6 ? 1 : rnd_below(s, 4) < 3 ? 2 : 3;
    int flags = 0, rc = PD_OK;
    int64_t changed = created;
    char name[32];
    pd_buf search;

    snprintf(name, sizeof(name), "#%lld", (long long)number);
    buf_init(&search);
    buf_printf(&search, "#%lld %lld", (long long)number, (long long)number);
    for (int p = 0; p < pets && rc == PD_OK; p++)
        rc = add_pet(s, id, number, p, status, created, &search, &flags);
    if (rc == PD_OK)
        rc = add_history(s, id, status, created, &changed);
    if (rc == PD_OK && note != NULL) {
        buf_printf(&search, " %s", note);
        rc = db_batch_add(s->notes, (db_arg[]){
            DB_INT(s->next_note_id++), DB_INT(id), DB_TEXT("staff:demo"),
            DB_TEXT(note), DB_INT(changed)});
    }
    buf_puts(&search, " demo");
    for (char *c = search.data; c != NULL && *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    if (rc == PD_OK)
        rc = db_batch_add(s->orders, (db_arg[]){
            DB_INT(id), DB_INT(9007199254740993LL + number * 7919),
            DB_INT(number), DB_TEXT(name), DB_TEXT(status),
            DB_TEXT(strcmp(status, "cancelled") ? "paid" : "refunded"),
            DB_TEXT(strcmp(status, "completed") ? NULL : "fulfilled"),
            DB_INT(created), DB_INT(changed), DB_INT(created),
            DB_INT(created), DB_INT(changed), DB_TEXT("demo"),
            DB_TEXT("USD"), DB_TEXT(pets > 1 ? "79.00" : "49.00"),
            DB_INT(flags), DB_TEXT(buf_cstr(&search))});
    buf_free(&search);
    return rc;
}

/* ---- batches ---- */

static const char *const order_cols[] = {
    "id", "shopify_id", "order_number", "name", "status", "financial_status",
    "fulfillment_status", "created_at", "updated_at", "shopify_created_at",
    "shopify_updated_at", "status_changed_at", "tags", "currency",
    "total_price", "warning_flags", "search_text"};
static const char *const pet_cols[] = {
    "id", "order_id", "line_item_id", "position", "pet_name",
    "product_title", "variant_title", "print_size", "quantity",
    "session_id", "original_image_id", "processed_image_id"};
static const char *const image_cols[] = {
    "id", "session_id", "kind", "order_id", "object_key", "thumb_key",
    "preview_key", "tier", "bytes", "width", "height", "format", "sha256",
    "orientation", "created_at", "tier_changed_at"};
static const char *const history_cols[] = {
    "id", "order_id", "from_status", "to_status", "actor", "at"};
static const char *const note_cols[] = {"id", "order_id", "author", "body",
                                        "created_at"};

#define NCOLS(a) ((int)(sizeof(a) / sizeof(a[0])))

static int
open_batches(struct seeder *s)
{
    /* Orders first: pets and images refer to them. */
    s->orders = db_batch_new(s->d, "orders", order_cols, NCOLS(order_cols),
                             ARGS_PER_INSERT / NCOLS(order_cols));
    s->images = db_batch_new(s->d, "images", image_cols, NCOLS(image_cols),
                             ARGS_PER_INSERT / NCOLS(image_cols));
    s->pets = db_batch_new(s->d, "pets", pet_cols, NCOLS(pet_cols),
                             ARGS_PER_INSERT / NCOLS(pet_cols));
    s->history = db_batch_new(s->d, "status_history", history_cols,
                              NCOLS(history_cols),
                             ARGS_PER_INSERT / NCOLS(history_cols));
    s->notes = db_batch_new(s->d, "notes", note_cols, NCOLS(note_cols),
                             ARGS_PER_INSERT / NCOLS(note_cols));
    return s->orders && s->images && s->pets && s->history && s->notes
               ? PD_OK
               : PD_ENOMEM;
}

/* Flushes in dependency order; frees all batches either way. */
static int
close_batches(struct seeder *s, bool flush)
{
    db_batch *order[] = {s->orders, s->images, s->pets, s->history,
                         s->notes};
    int rc = PD_OK;

    for (int i = 0; i < 5; i++) {
        if (flush && rc == PD_OK)
            rc = db_batch_flush(order[i]);
        db_batch_free(order[i]);
    }
    s->orders = s->images = s->pets = s->history = s->notes = NULL;
    return rc;
}

/*
 * Batches fill at different rates; writing all of them, parents first,
 * whenever one is nearly full keeps every reference valid.
 */
static int
flush_all(struct seeder *s)
{
    db_batch *order[] = {s->orders, s->images, s->pets, s->history,
                         s->notes};
    int rc = PD_OK;

    for (int i = 0; i < 5 && rc == PD_OK; i++)
        rc = db_batch_flush(order[i]);
    return rc;
}

/* The most rows one order adds to a table (3 pets of 2 images). */
#define ROWS_PER_ORDER_MAX 8

static bool
needs_flush(const struct seeder *s)
{
    const db_batch *all[] = {s->orders, s->images, s->pets, s->history,
                             s->notes};

    for (int i = 0; i < 5; i++)
        if (db_batch_room(all[i]) < ROWS_PER_ORDER_MAX)
            return true;
    return false;
}

static int
next_ids(struct seeder *s)
{
    static const struct {
        const char *sql;
        int64_t *slot;
    } q[] = {
        {"SELECT COALESCE(MAX(id), 0) + 1 FROM orders", NULL},
        {"SELECT COALESCE(MAX(order_number), 1000) + 1 FROM orders", NULL},
        {"SELECT COALESCE(MAX(id), 0) + 1 FROM pets", NULL},
        {"SELECT COALESCE(MAX(id), 0) + 1 FROM status_history", NULL},
        {"SELECT COALESCE(MAX(id), 0) + 1 FROM notes", NULL},
    };
    int64_t *slots[] = {&s->next_order_id, &s->next_number, &s->next_pet_id,
                        &s->next_history_id, &s->next_note_id};

    for (int i = 0; i < 5; i++) {
        int rc = db_query_int(s->d, q[i].sql, NULL, 0, slots[i]);

        if (rc != PD_OK)
            return rc;
    }
    return PD_OK;
}

/* PostgreSQL's identity sequences must move past the explicit ids. */
static int
after_load(struct seeder *s)
{
    static const char *const tables[] = {"orders", "pets", "status_history",
                                         "notes"};
    char sql[200];
    int rc = PD_OK;

    if (db_kind(s->d) == DB_POSTGRES) {
        for (int i = 0; i < 4 && rc == PD_OK; i++) {
            snprintf(sql, sizeof(sql),
                     "SELECT setval(pg_get_serial_sequence('%s', 'id'), "
                     "(SELECT COALESCE(MAX(id), 1) FROM %s))",
                     tables[i], tables[i]);
            rc = db_query_int(s->d, sql, NULL, 0, &(int64_t){0});
        }
    }
    return rc == PD_OK ? db_exec(s->d, "ANALYZE", NULL, 0, NULL) : rc;
}

static int
insert_orders(struct seeder *s, int64_t count)
{
    int64_t span = 90 * DAY_MS;
    int rc;

    if ((rc = next_ids(s)) != PD_OK || (rc = db_begin_write(s->d)) != PD_OK)
        return rc;
    rc = open_batches(s);
    for (int64_t i = 0; i < count && rc == PD_OK; i++) {
        int64_t created = s->now - span + (span * i) / count +
                          rnd_below(s, span / count + 1) / 2;

        if (needs_flush(s))
            rc = flush_all(s);
        if (rc == PD_OK)
            rc = add_order(s, created);
    }
    rc = close_batches(s, rc == PD_OK) == PD_OK ? rc : PD_ERR;
    if (rc == PD_OK)
        rc = db_commit(s->d);
    else
        db_rollback(s->d);
    return rc == PD_OK ? after_load(s) : rc;
}

/* ---- command ---- */

struct seed_options {
    int64_t orders;
    int64_t seed;
    bool if_empty;
    bool force;
};

/* Takes the seed-demo flags out of argv; config flags stay. */
static int
parse_seed_flags(int *argc, char **argv, struct seed_options *o)
{
    int out = 1;

    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < *argc;

        if (strcmp(a, "--if-empty") == 0) {
            o->if_empty = true;
        } else if (strcmp(a, "--force") == 0) {
            o->force = true;
        } else if (strcmp(a, "--orders") == 0 || strcmp(a, "--seed") == 0) {
            int64_t *slot = a[2] == 'o' ? &o->orders : &o->seed;

            if (!has_value || pd_parse_i64(argv[++i], a[2] == 'o' ? 1 : 0,
                                           a[2] == 'o' ? DEMO_MAX_ORDERS
                                                       : INT64_MAX,
                                           slot) != PD_OK) {
                fprintf(stderr, "printdesk seed-demo: %s needs a number%s\n",
                        a, a[2] == 'o' ? " from 1 to 1000000" : "");
                return CONFIG_EXIT_BAD;
            }
        } else {
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    return 0;
}

static int
check_existing(db *d, const struct seed_options *o, bool *skip)
{
    int64_t existing = 0;
    int rc = db_query_int(d, "SELECT COUNT(*) FROM orders", NULL, 0,
                          &existing);

    *skip = false;
    if (rc != PD_OK || existing == 0 || o->force)
        return rc;
    if (o->if_empty) {
        log_notice("the database already has %lld orders; no demo data "
                   "added", (long long)existing);
        *skip = true;
        return PD_OK;
    }
    log_error("the database already has %lld orders; use --force to add "
              "demo orders anyway", (long long)existing);
    return PD_ECONFLICT;
}

static int
seed(const struct config *cfg, const struct seed_options *o)
{
    struct seeder s = {.now = pd_now_ms(), .rng = (uint64_t)o->seed};
    char err[512];
    bool skip;
    int rc;
    int64_t t0 = pd_mono_ns();

    if (db_open(cfg->database_url, &s.d, err, sizeof(err)) != PD_OK) {
        log_error("cannot open the database: %s", err);
        return PD_EUNAVAIL;
    }
    rc = db_migrate(s.d, NULL);
    if (rc == PD_OK)
        rc = check_existing(s.d, o, &skip);
    if (rc != PD_OK || skip)
        goto done;
    if (store_open(cfg->storage_url, &s.st, err, sizeof(err)) != PD_OK) {
        log_error("cannot open storage: %s", err);
        rc = PD_EUNAVAIL;
        goto done;
    }
    rc = images_load(&s.images_api);
    if (rc == PD_OK)
        rc = draw_pictures(&s);
    if (rc == PD_OK)
        rc = insert_orders(&s, o->orders);
    if (rc == PD_OK)
        log_notice("seeded %lld demo orders (%lld pets, %lld images) in "
                   "%.1f s", (long long)o->orders, (long long)s.n_pets,
                   (long long)s.n_images,
                   (double)(pd_mono_ns() - t0) / 1e9);
    else
        log_error("seeding failed: %s (%s); nothing was added",
                  pd_err_str(rc), db_errmsg(s.d));
done:
    if (s.images_api != NULL)
        s.images_api->shutdown();
    store_close(s.st);
    db_close(s.d);
    return rc;
}

int
cmd_seed_demo(int argc, char **argv)
{
    struct seed_options o = {.orders = 500, .seed = 42};
    struct config cfg;
    char err[512];
    int rc;

    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if ((rc = parse_seed_flags(&argc, argv, &o)) != 0 ||
        (rc = cli_load_config(&cfg, argc, argv)) != 0)
        return rc;
    if (config_prepare_data_dir(&cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "printdesk seed-demo: %s\n", err);
        return CONFIG_EXIT_BAD;
    }
    return seed(&cfg, &o) == PD_OK ? 0 : 1;
}
