/*
 * readiness.c — an order's print-readiness warning flags, kept on the
 * order row so lists can filter on them: recomputed whenever its pets or
 * their photos change (a webhook, a photo that arrives late).
 */
#include "orders/orders_internal.h"
#include "orders/print.h"

#include "common/err.h"

int
orders_refresh_warnings(db *d, int64_t order_id)
{
    static const char sql[] =
        "SELECT p.print_size, i.width, i.height FROM pets p "
        "LEFT JOIN images i ON i.id = p.original_image_id "
        "AND i.deleted_at IS NULL WHERE p.order_id = ?";
    db_rows *r = NULL;
    int flags = 0, rc;

    rc = db_query(d, sql, (db_arg[]){DB_INT(order_id)}, 1, &r);
    while (rc == PD_OK && (rc = db_step(r)) > 0) {
        enum print_readiness ready;

        print_effective_dpi(db_col_text(r, 0),
                            db_col_null(r, 1) ? 0 : (int)db_col_int(r, 1),
                            db_col_null(r, 2) ? 0 : (int)db_col_int(r, 2),
                            &ready);
        flags |= print_warning_flags(ready);
        rc = PD_OK;
    }
    db_rows_free(r);
    if (rc < 0)
        return rc;
    return db_exec(d, "UPDATE orders SET warning_flags = ? WHERE id = ? "
                      "AND warning_flags <> ?",
                   (db_arg[]){DB_INT(flags), DB_INT(order_id),
                              DB_INT(flags)}, 3, NULL);
}
