/*
 * legacy_parse.c — one row of the old webhook service's orders table in
 * printdesk's terms: its order number, its fulfillment_status mapped to
 * printdesk's workflow, its times (text or epoch numbers), and the pets
 * of its pet_data JSON. Pure: no database here.
 */
#include "dbcopy/legacy_internal.h"

#include "common/err.h"
#include "common/util.h"
#include "orders/print.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2000-01-01 and 2100-01-01 in ms: a legacy time outside is a mistake. */
#define TIME_MIN_MS 946684800000LL
#define TIME_MAX_MS 4102444800000LL
#define STATUS_LEN_MAX 32

static const struct {
    const char *legacy, *status;
} status_map[] = {
    {"pending", "pending"},          {"new", "pending"},
    {"received", "pending"},         {"unfulfilled", "pending"},
    {"processing", "in_production"}, {"in_production", "in_production"},
    {"in_progress", "in_production"}, {"printing", "in_production"},
    {"printed", "printed"},          {"completed", "completed"},
    {"complete", "completed"},       {"fulfilled", "completed"},
    {"shipped", "completed"},        {"delivered", "completed"},
    {"on_hold", "on_hold"},          {"hold", "on_hold"},
    {"held", "on_hold"},             {"cancelled", "cancelled"},
    {"canceled", "cancelled"},       {"refunded", "cancelled"},
};

static int say(char *reason, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes why a row is refused; returns PD_EINVAL. */
static int
say(char *reason, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, len, fmt, ap);
    va_end(ap);
    return PD_EINVAL;
}

const char *
legacy_status(const char *legacy)
{
    char key[STATUS_LEN_MAX + 1];
    size_t n = 0;
    const char *p = legacy != NULL ? legacy : "";

    p += strspn(p, " \t");
    for (; *p != '\0' && n < STATUS_LEN_MAX; p++) {
        char c = *p;

        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        key[n++] = c == ' ' || c == '-' ? '_' : c;
    }
    if (*p != '\0')
        return NULL;
    while (n > 0 && (key[n - 1] == '_' || key[n - 1] == '\t'))
        n--;
    key[n] = '\0';
    if (n == 0)
        return "pending";
    for (size_t i = 0; i < sizeof(status_map) / sizeof(status_map[0]); i++)
        if (strcmp(key, status_map[i].legacy) == 0)
            return status_map[i].status;
    return NULL;
}

/* ---- times ---- */

/* Seconds or milliseconds since the epoch, by size. */
static int
from_epoch(double v, int64_t *ms)
{
    double m = fabs(v) >= 1e11 ? v : v * 1000.0;

    if (!(m >= (double)TIME_MIN_MS && m < (double)TIME_MAX_MS))
        return PD_EINVAL;
    *ms = (int64_t)llround(m);
    return PD_OK;
}

/* An ISO 8601 time, lenient about what legacy rows left out. */
static int
iso_time(const char *s, int64_t *ms)
{
    if (pd_parse_iso_time(s, false, ms) != PD_OK)
        return PD_EINVAL;
    return *ms >= TIME_MIN_MS && *ms < TIME_MAX_MS ? PD_OK : PD_EINVAL;
}

int
legacy_time(const struct legacy_value *v, int64_t *ms)
{
    const char *s;
    size_t n;

    *ms = 0;
    if (v->type == LV_NULL)
        return PD_OK;
    if (v->type == LV_INT)
        return from_epoch((double)v->i, ms);
    if (v->type == LV_REAL)
        return from_epoch(v->d, ms);
    s = v->text + strspn(v->text, " \t");
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0)
        return PD_OK;
    if (strspn(s, "0123456789.") >= n) {
        char num[32];

        if (n >= sizeof(num))
            return PD_EINVAL;
        memcpy(num, s, n);
        num[n] = '\0';
        return from_epoch(strtod(num, NULL), ms);
    }
    return iso_time(s, ms) == PD_OK ? PD_OK : PD_EINVAL;
}

int
legacy_number(const struct legacy_value *v, int64_t *out)
{
    const char *s;
    size_t n;

    if (v->type == LV_INT) {
        *out = v->i;
        return v->i > 0 ? PD_OK : PD_EINVAL;
    }
    if (v->type != LV_TEXT)
        return PD_EINVAL;
    s = v->text + strspn(v->text, " \t");
    if (*s == '#')
        s++;
    n = strspn(s, "0123456789");
    if (n == 0 || n > 18 || s[n + strspn(s + n, " \t")] != '\0')
        return PD_EINVAL;
    *out = strtoll(s, NULL, 10);
    return *out > 0 ? PD_OK : PD_EINVAL;
}

/* ---- pet_data ---- */

/* Copies at most max bytes of s into out, not splitting a character. */
static void
clip_utf8(const char *s, size_t max, char *out)
{
    size_t n = strlen(s);

    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out, s, n);
    out[n] = '\0';
}

/* The first string among an object's keys, or NULL. */
static const char *
first_string(json_t *o, const char *a, const char *b, const char *c)
{
    const char *keys[] = {a, b, c};

    for (int i = 0; i < 3; i++) {
        const char *s = json_string_value(json_object_get(o, keys[i]));

        if (s != NULL && s[strspn(s, " \t")] != '\0')
            return s + strspn(s, " \t");
    }
    return NULL;
}

/* "8x10" for any size print_size_parse reads, else the text clipped. */
static void
print_size(const char *text, char out[LEGACY_PRINT_SIZE_MAX + 1])
{
    char size[64];
    double w, h;

    out[0] = '\0';
    if (text == NULL)
        return;
    if (print_size_parse(text, &w, &h)) {
        snprintf(size, sizeof(size), "%gx%g", w, h);
        text = size;
    }
    clip_utf8(text, LEGACY_PRINT_SIZE_MAX, out);
}

static int
read_pet(json_t *item, size_t i, struct legacy_pet *pet, char *reason,
         size_t len)
{
    const char *name = NULL;

    memset(pet, 0, sizeof(*pet));
    if (json_is_string(item)) {
        name = json_string_value(item);
    } else if (json_is_object(item)) {
        name = first_string(item, "name", "petName", "pet_name");
        print_size(first_string(item, "printSize", "print_size", "size"),
                   pet->print_size);
    } else {
        return say(reason, len, "pet_data: pet %zu is neither an object "
                   "nor a name", i + 1);
    }
    clip_utf8(name != NULL ? name : "", LEGACY_PET_NAME_MAX, pet->name);
    return PD_OK;
}

/* The list of pets in root (NULL with *single for one pet object). */
static int
pet_list(json_t *root, json_t **list, bool *single, char *reason,
         size_t len)
{
    json_t *pets = json_object_get(root, "pets");

    *list = NULL;
    *single = false;
    if (json_is_array(root)) {
        *list = root;
    } else if (!json_is_object(root)) {
        return say(reason, len, "pet_data is neither an object nor a list");
    } else if (pets != NULL && !json_is_null(pets)) {
        if (!json_is_array(pets))
            return say(reason, len, "pet_data: \"pets\" is not a list");
        *list = pets;
    } else {
        *single = first_string(root, "name", "petName", "pet_name") != NULL;
    }
    return PD_OK;
}

int
legacy_pets(const char *json, struct legacy_pet **pets, int *n,
            char *reason, size_t len)
{
    json_error_t e;
    json_t *root, *list = NULL, *item;
    bool single = false;
    size_t i, count;
    int rc;

    *pets = NULL;
    *n = 0;
    if (json == NULL || json[strspn(json, " \t\r\n")] == '\0')
        return say(reason, len, "pet_data is empty");
    root = json_loads(json, JSON_DECODE_ANY, &e);
    if (root == NULL)
        return say(reason, len, "pet_data is not valid JSON (%s, line %d "
                   "column %d)", e.text, e.line, e.column);
    rc = pet_list(root, &list, &single, reason, len);
    count = single ? 1 : list != NULL ? json_array_size(list) : 0;
    if (rc == PD_OK && count > LEGACY_PETS_MAX)
        rc = say(reason, len, "pet_data holds %zu pets (at most %d)", count,
                 LEGACY_PETS_MAX);
    if (rc == PD_OK && count > 0) {
        *pets = calloc(count, sizeof(**pets));
        rc = *pets != NULL ? PD_OK : PD_ENOMEM;
    }
    if (rc == PD_OK && single)
        rc = read_pet(root, 0, &(*pets)[(*n)++], reason, len);
    for (i = 0; rc == PD_OK && !single && i < count; i++) {
        item = json_array_get(list, i);
        rc = read_pet(item, i, &(*pets)[(*n)++], reason, len);
    }
    json_decref(root);
    if (rc != PD_OK) {
        free(*pets);
        *pets = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- a whole row ---- */

/* The value's text for a report ("" for NULL), shortened. */
static void
shown(const struct legacy_value *v, char *out, size_t len)
{
    snprintf(out, len, "%.60s", v->type == LV_NULL ? "" : v->text);
}

static int
read_times(const struct legacy_value cols[LC_COUNT], struct legacy_order *o,
           char *reason, size_t len)
{
    static const char *const names[] = {"created_at", "updated_at",
                                        "completed_at", "last_accessed_at"};
    static const int at[] = {LC_CREATED, LC_UPDATED, LC_COMPLETED, LC_ACCESSED};
    int64_t *slots[] = {&o->created_ms, &o->updated_ms, &o->completed_ms,
                        &o->last_accessed_ms};
    char text[64];

    for (int i = 0; i < 4; i++) {
        if (legacy_time(&cols[at[i]], slots[i]) != PD_OK) {
            shown(&cols[at[i]], text, sizeof(text));
            return say(reason, len, "%s \"%s\" is not a time", names[i],
                       text);
        }
    }
    if (o->created_ms == 0)
        o->created_ms = o->updated_ms != 0 ? o->updated_ms : o->completed_ms;
    if (o->created_ms == 0)
        return say(reason, len, "no created_at, updated_at or completed_at");
    if (o->updated_ms < o->created_ms)
        o->updated_ms = o->created_ms;
    if (o->completed_ms > o->updated_ms)
        o->updated_ms = o->completed_ms;
    return PD_OK;
}

/* A borrowed text with something besides blanks in it, else NULL. */
static const char *
nonblank(const struct legacy_value *v)
{
    if (v->type == LV_NULL || v->text[strspn(v->text, " \t\r\n")] == '\0')
        return NULL;
    return v->text;
}

int
legacy_read_row(int64_t rowid, const struct legacy_value cols[LC_COUNT],
                struct legacy_order *o, char *reason, size_t len)
{
    char text[64];

    memset(o, 0, sizeof(*o));
    o->rowid = rowid;
    if (nonblank(&cols[LC_NUMBER]) == NULL)
        return say(reason, len, "no order number");
    if (legacy_number(&cols[LC_NUMBER], &o->number) != PD_OK) {
        shown(&cols[LC_NUMBER], text, sizeof(text));
        return say(reason, len, "order number \"%s\" is not a number", text);
    }
    snprintf(o->name, sizeof(o->name), "#%lld", (long long)o->number);
    o->legacy_status = nonblank(&cols[LC_STATUS]);
    o->status = legacy_status(o->legacy_status);
    if (o->status == NULL) {
        shown(&cols[LC_STATUS], text, sizeof(text));
        return say(reason, len, "unknown fulfillment_status \"%s\"", text);
    }
    if (read_times(cols, o, reason, len) != PD_OK)
        return PD_EINVAL;
    o->session = nonblank(&cols[LC_SESSION]);
    o->notes = nonblank(&cols[LC_NOTES]);
    o->download_count = cols[LC_DOWNLOADS].type == LV_INT ? cols[LC_DOWNLOADS].i
                                                          : 0;
    return legacy_pets(nonblank(&cols[LC_PET_DATA]), &o->pets, &o->n_pets,
                       reason, len);
}

void
legacy_order_clear(struct legacy_order *o)
{
    free(o->pets);
    o->pets = NULL;
    o->n_pets = 0;
}
