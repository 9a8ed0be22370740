/*
 * workflow.c — the order status workflow as data: the status names, which
 * of them are open, and the table of moves staff may make between them.
 */
#include "orders/orders.h"

#include <string.h>

static const char *const names[ORDER_STATUS_COUNT] = {
    [ORDER_PENDING] = "pending",
    [ORDER_IN_PRODUCTION] = "in_production",
    [ORDER_PRINTED] = "printed",
    [ORDER_COMPLETED] = "completed",
    [ORDER_ON_HOLD] = "on_hold",
    [ORDER_CANCELLED] = "cancelled",
};

/* Workflow order, for listing the next moves. */
static const enum order_status by_step[ORDER_STATUS_COUNT] = {
    ORDER_PENDING, ORDER_IN_PRODUCTION, ORDER_PRINTED,
    ORDER_COMPLETED, ORDER_ON_HOLD, ORDER_CANCELLED,
};

#define P ORDER_PENDING
#define I ORDER_IN_PRODUCTION
#define R ORDER_PRINTED
#define C ORDER_COMPLETED
#define H ORDER_ON_HOLD
#define X ORDER_CANCELLED

/* allowed[from][to]: one step forward, holds, resumes, cancelling. */
static const bool allowed[ORDER_STATUS_COUNT][ORDER_STATUS_COUNT] = {
    [P] = {[I] = true, [H] = true, [X] = true},
    [I] = {[R] = true, [H] = true, [X] = true},
    [R] = {[C] = true, [H] = true, [X] = true},
    [H] = {[P] = true, [I] = true, [R] = true, [X] = true},
    [C] = {0},
    [X] = {0},
};

#undef P
#undef I
#undef R
#undef C
#undef H
#undef X

const char *
orders_status_name(enum order_status s)
{
    if ((int)s < 0 || s >= ORDER_STATUS_COUNT)
        return NULL;
    return names[s];
}

int
orders_status_parse(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < ORDER_STATUS_COUNT; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

bool
orders_status_is_open(const char *status)
{
    int s = orders_status_parse(status);

    return s == ORDER_PENDING || s == ORDER_IN_PRODUCTION ||
           s == ORDER_PRINTED || s == ORDER_ON_HOLD;
}

bool
orders_move_allowed(const char *from, const char *to)
{
    int f = orders_status_parse(from), t = orders_status_parse(to);

    return f >= 0 && t >= 0 && allowed[f][t];
}

int
orders_next_moves(const char *from, const char *held_from,
                  const char **out, int max)
{
    int f = orders_status_parse(from), held = orders_status_parse(held_from);
    int n = 0;

    if (f < 0)
        return 0;
    /* Only a state one can go back to narrows the choice. */
    if (held != ORDER_PENDING && held != ORDER_IN_PRODUCTION &&
        held != ORDER_PRINTED)
        held = -1;
    for (int i = 0; i < ORDER_STATUS_COUNT && n < max; i++) {
        enum order_status t = by_step[i];

        if (!allowed[f][t])
            continue;
        /* Back from a hold goes to where the order was held from. */
        if (f == ORDER_ON_HOLD && t != ORDER_CANCELLED && held >= 0 &&
            (int)t != held)
            continue;
        out[n++] = names[t];
    }
    return n;
}
