/*
 * plan.c — what copy-db copies and in which order, read from the target's
 * PostgreSQL catalog, so that tables and columns later migrations add are
 * copied with no change here: the schema's tables, their columns (the
 * ones the source has too, generated ones left out), primary keys, and
 * the foreign keys that put referenced tables first.
 */
#include "dbcopy/dbcopy_internal.h"

#include "common/err.h"
#include "obs/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLES_MAX 200

/* The schema's tables, without the two each side keeps for itself. */
static const char tables_sql[] =
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n "
    "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
    "AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
    "AND c.relname NOT IN ('schema_migrations', 'copy_progress') "
    "ORDER BY c.relname";

/* name, type, generated, identity, position in the primary key (0: not
 * in it), the type as SQL writes it. */
static const char columns_sql[] =
    "SELECT a.attname, t.typname, a.attgenerated <> '', "
    "a.attidentity <> '', "
    "COALESCE((SELECT k.n FROM unnest(i.indkey) WITH ORDINALITY "
    "AS k(att, n) WHERE k.att = a.attnum), 0), "
    "format_type(a.atttypid, a.atttypmod) "
    "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_type t ON t.oid = a.atttypid "
    "LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary "
    "WHERE n.nspname = current_schema() AND c.relname = ? "
    "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

/* (table, the table it references), self-references left out. */
static const char refs_sql[] =
    "SELECT s.relname, r.relname FROM pg_constraint k "
    "JOIN pg_class s ON s.oid = k.conrelid "
    "JOIN pg_class r ON r.oid = k.confrelid "
    "JOIN pg_namespace n ON n.oid = s.relnamespace "
    "WHERE k.contype = 'f' AND n.nspname = current_schema() "
    "AND s.oid <> r.oid";

/* A list of owned names. */
struct names {
    char **v;
    int n, cap;
};

static int
names_add(struct names *l, const char *s)
{
    if (l->n == l->cap) {
        int cap = l->cap > 0 ? l->cap * 2 : 16;
        char **v = realloc(l->v, (size_t)cap * sizeof(*v));

        if (v == NULL)
            return PD_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n] = strdup(s);
    return l->v[l->n++] != NULL ? PD_OK : PD_ENOMEM;
}

static int
names_find(const struct names *l, const char *s)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return i;
    return -1;
}

static void
names_free(struct names *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* Appends the first column of every row of sql (one text argument). */
static int
collect(db *d, const char *sql, const char *arg, struct names *out)
{
    db_rows *r = NULL;
    db_arg args[] = {DB_TEXT(arg)};
    int rc = db_query(d, sql, args, arg != NULL ? 1 : 0, &r);

    while (rc == PD_OK && (rc = db_step(r)) == 1)
        rc = names_add(out, db_col_text(r, 0));
    db_rows_free(r);
    return rc < 0 ? rc : PD_OK;
}

/* "name" with inner quotes doubled: an identifier both dialects read. */
static char *
quote_ident(const char *name)
{
    pd_buf b;

    buf_init(&b);
    buf_puts(&b, "\"");
    for (const char *p = name; *p != '\0'; p++) {
        if (*p == '"')
            buf_puts(&b, "\"");
        buf_append(&b, p, 1);
    }
    buf_puts(&b, "\"");
    if (b.failed) {
        buf_free(&b);
        return NULL;
    }
    return b.data;
}

static enum copy_class
class_of(const char *type)
{
    if (strcmp(type, "int2") == 0 || strcmp(type, "int4") == 0 ||
        strcmp(type, "int8") == 0)
        return CLASS_INT;
    if (strcmp(type, "bool") == 0)
        return CLASS_BOOL;
    if (strcmp(type, "float4") == 0 || strcmp(type, "float8") == 0)
        return CLASS_REAL;
    if (strcmp(type, "bytea") == 0)
        return CLASS_BLOB;
    return CLASS_TEXT; /* text, varchar, numeric, json...: as text */
}

/* Adds the column of the current row of r (a row of columns_sql). */
static int
add_column(struct copy_table *t, db_rows *r)
{
    struct copy_column *c = &t->cols[t->ncols];

    c->name = strdup(db_col_text(r, 0));
    c->quoted = quote_ident(c->name != NULL ? c->name : "");
    c->sql_type = strdup(db_col_text(r, 5));
    c->cls = class_of(db_col_text(r, 1));
    c->identity = db_col_int(r, 3) != 0;
    if (c->name == NULL || c->quoted == NULL || c->sql_type == NULL)
        return PD_ENOMEM;
    t->ncols++;
    return PD_OK;
}

/* Reads the target's columns of t, keeping those the source has. */
static int
load_columns(db *dst, const struct names *source_cols, struct copy_table *t,
             char *err, size_t errlen)
{
    db_rows *r = NULL;
    int key_pos[COPY_KEY_MAX] = {0};
    int rc = db_query(dst, columns_sql, (db_arg[]){DB_TEXT(t->name)}, 1, &r);

    while (rc == PD_OK && (rc = db_step(r)) == 1) {
        const char *name = db_col_text(r, 0);
        int64_t in_key = db_col_int(r, 4);

        rc = PD_OK;
        if (db_col_int(r, 2)) /* generated: the target computes it */
            continue;
        if (names_find(source_cols, name) < 0) {
            if (in_key > 0) {
                snprintf(err, errlen, "table %s: the source has no column "
                         "%s of its primary key", t->name, name);
                rc = PD_EINVAL;
            } else {
                log_warn("copy-db: %s.%s is not in the source; the target "
                         "fills it with its default", t->name, name);
            }
            continue;
        }
        if (db_col_text(r, 1)[0] == '_') { /* an array type */
            snprintf(err, errlen, "%s.%s is an array, which copy-db does "
                     "not copy", t->name, name);
            rc = PD_EINVAL;
            break;
        }
        if (t->ncols == COPY_COLUMNS_MAX || in_key > COPY_KEY_MAX) {
            snprintf(err, errlen, "table %s has more columns or key columns "
                     "than copy-db handles", t->name);
            rc = PD_ETOOBIG;
            break;
        }
        if (in_key > 0)
            key_pos[in_key - 1] = t->ncols + 1;
        rc = add_column(t, r);
    }
    db_rows_free(r);
    for (int k = 0; rc == PD_OK && k < COPY_KEY_MAX && key_pos[k]; k++)
        t->key[t->nkey++] = key_pos[k] - 1;
    return rc < 0 ? rc : PD_OK;
}

/* Refuses a key copy-db cannot page by. */
static int
check_key(const struct copy_table *t, char *err, size_t errlen)
{
    if (t->nkey == 0) {
        snprintf(err, errlen, "table %s has no primary key; copy-db pages "
                 "through tables by their primary keys", t->name);
        return PD_EINVAL;
    }
    for (int k = 0; k < t->nkey; k++) {
        const struct copy_column *c = &t->cols[t->key[k]];

        if (c->cls != CLASS_INT && c->cls != CLASS_TEXT) {
            snprintf(err, errlen, "table %s: key column %s is neither an "
                     "integer nor text", t->name, c->name);
            return PD_EINVAL;
        }
    }
    return PD_OK;
}

/*
 * The insert of a batch: one array per column, unnested into rows. One
 * statement and ncols arguments, however many rows.
 */
static int
build_insert(struct copy_table *t)
{
    pd_buf sql;

    buf_init(&sql);
    buf_printf(&sql, "INSERT INTO %s (", t->quoted);
    for (int c = 0; c < t->ncols; c++)
        buf_printf(&sql, "%s%s", c > 0 ? ", " : "", t->cols[c].quoted);
    buf_puts(&sql, ") SELECT * FROM unnest(");
    for (int c = 0; c < t->ncols; c++)
        buf_printf(&sql, "%s?::%s[]", c > 0 ? ", " : "",
                   t->cols[c].sql_type);
    buf_puts(&sql, ")");
    t->insert = sql.failed ? NULL : strdup(buf_cstr(&sql));
    buf_free(&sql);
    return t->insert != NULL ? PD_OK : PD_ENOMEM;
}

/* The two page queries: from the start, and after a key. */
static int
build_selects(struct copy_table *t)
{
    pd_buf cols, order, first, next;

    buf_init(&cols);
    buf_init(&order);
    buf_init(&first);
    buf_init(&next);
    for (int c = 0; c < t->ncols; c++)
        buf_printf(&cols, "%s%s", c > 0 ? ", " : "", t->cols[c].quoted);
    for (int k = 0; k < t->nkey; k++)
        buf_printf(&order, "%s%s", k > 0 ? ", " : "",
                   t->cols[t->key[k]].quoted);
    buf_printf(&first, "SELECT %s FROM %s ORDER BY %s LIMIT ?",
               buf_cstr(&cols), t->quoted, buf_cstr(&order));
    buf_printf(&next, "SELECT %s FROM %s WHERE (%s) > (", buf_cstr(&cols),
               t->quoted, buf_cstr(&order));
    for (int k = 0; k < t->nkey; k++)
        buf_puts(&next, k > 0 ? ", ?" : "?");
    buf_printf(&next, ") ORDER BY %s LIMIT ?", buf_cstr(&order));
    buf_free(&cols);
    buf_free(&order);
    if (first.failed || next.failed) {
        buf_free(&first);
        buf_free(&next);
        return PD_ENOMEM;
    }
    t->select_first = strdup(buf_cstr(&first));
    t->select_next = strdup(buf_cstr(&next));
    buf_free(&first);
    buf_free(&next);
    return t->select_first && t->select_next ? PD_OK : PD_ENOMEM;
}

static int
load_table(db *src, db *dst, const char *name, struct copy_table *t,
           char *err, size_t errlen)
{
    struct names source_cols = {0};
    int rc;

    t->name = strdup(name);
    t->quoted = quote_ident(name);
    t->cols = calloc(COPY_COLUMNS_MAX, sizeof(*t->cols));
    if (t->name == NULL || t->quoted == NULL || t->cols == NULL)
        return PD_ENOMEM;
    rc = collect(src, "SELECT name FROM pragma_table_info(?)", name,
                 &source_cols);
    if (rc == PD_OK && source_cols.n == 0) {
        snprintf(err, errlen, "the source has no table %s", name);
        rc = PD_EINVAL;
    }
    if (rc == PD_OK)
        rc = load_columns(dst, &source_cols, t, err, errlen);
    if (rc == PD_OK)
        rc = check_key(t, err, errlen);
    if (rc == PD_OK)
        rc = build_selects(t);
    if (rc == PD_OK)
        rc = build_insert(t);
    names_free(&source_cols);
    return rc;
}

/* The references as pairs of indexes into names: (table, referenced). */
static int
load_refs(db *dst, const struct names *names, int **pairs, int *npairs)
{
    db_rows *r = NULL;
    int cap = 0, rc = db_query(dst, refs_sql, NULL, 0, &r);

    *pairs = NULL;
    *npairs = 0;
    while (rc == PD_OK && (rc = db_step(r)) == 1) {
        int from = names_find(names, db_col_text(r, 0));
        int to = names_find(names, db_col_text(r, 1));

        rc = PD_OK;
        if (from < 0 || to < 0)
            continue;
        if (*npairs == cap) {
            int *v;

            cap = cap > 0 ? cap * 2 : 32;
            v = realloc(*pairs, (size_t)cap * 2 * sizeof(*v));
            if (v == NULL) {
                rc = PD_ENOMEM;
                break;
            }
            *pairs = v;
        }
        (*pairs)[2 * *npairs] = from;
        (*pairs)[2 * *npairs + 1] = to;
        (*npairs)++;
    }
    db_rows_free(r);
    return rc < 0 ? rc : PD_OK;
}

/* True when every table i references is placed already. */
static bool
ready(int i, const bool *placed, const int *pairs, int npairs)
{
    for (int e = 0; e < npairs; e++)
        if (pairs[2 * e] == i && !placed[pairs[2 * e + 1]])
            return false;
    return true;
}

/*
 * Writes into order the indexes of names so that referenced tables come
 * first, alphabetical among equals. PD_EINVAL (err names the tables) for
 * a cycle.
 */
static int
sort_tables(const struct names *names, const int *pairs, int npairs,
            int *order, char *err, size_t errlen)
{
    bool placed[TABLES_MAX] = {false};
    int n = 0;

    while (n < names->n) {
        int pick = -1;

        for (int i = 0; i < names->n && pick < 0; i++)
            if (!placed[i] && ready(i, placed, pairs, npairs))
                pick = i;
        if (pick < 0)
            break;
        placed[pick] = true;
        order[n++] = pick;
    }
    if (n == names->n)
        return PD_OK;
    snprintf(err, errlen, "tables reference each other in a cycle, so no "
             "order copies them:");
    for (int i = 0; i < names->n; i++)
        if (!placed[i] && strlen(err) + strlen(names->v[i]) + 2 < errlen)
            strcat(strcat(err, " "), names->v[i]);
    return PD_EINVAL;
}

int
copy_plan_load(db *src, db *dst, struct copy_plan *out, char *err,
               size_t errlen)
{
    struct names names = {0};
    int order[TABLES_MAX], *pairs = NULL, npairs = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    err[0] = '\0';
    rc = collect(dst, tables_sql, NULL, &names);
    if (rc == PD_OK && names.n > TABLES_MAX) {
        snprintf(err, errlen, "the target has more than %d tables",
                 TABLES_MAX);
        rc = PD_ETOOBIG;
    }
    if (rc == PD_OK)
        rc = load_refs(dst, &names, &pairs, &npairs);
    if (rc == PD_OK)
        rc = sort_tables(&names, pairs, npairs, order, err, errlen);
    if (rc == PD_OK) {
        out->t = calloc((size_t)(names.n > 0 ? names.n : 1),
                        sizeof(*out->t));
        rc = out->t != NULL ? PD_OK : PD_ENOMEM;
    }
    for (int i = 0; rc == PD_OK && i < names.n; i++, out->n++)
        rc = load_table(src, dst, names.v[order[i]], &out->t[i], err,
                        errlen);
    if (rc == PD_ENOMEM)
        snprintf(err, errlen, "out of memory reading the schema");
    else if (rc < 0 && err[0] == '\0')
        snprintf(err, errlen, "cannot read the schema: %s",
                 db_errmsg(dst));
    free(pairs);
    names_free(&names);
    return rc;
}

void
copy_plan_free(struct copy_plan *p)
{
    for (int i = 0; p->t != NULL && i < p->n; i++) {
        struct copy_table *t = &p->t[i];

        for (int c = 0; t->cols != NULL && c < t->ncols; c++) {
            free(t->cols[c].name);
            free(t->cols[c].quoted);
            free(t->cols[c].sql_type);
        }
        free(t->cols);
        free(t->name);
        free(t->quoted);
        free(t->select_first);
        free(t->select_next);
        free(t->insert);
    }
    free(p->t);
    memset(p, 0, sizeof(*p));
}
