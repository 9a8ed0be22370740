/*
 * inbox.h — what the inbox (inbox.c) offers the topic handlers beyond
 * webhooks_internal.h: counting orders created by the delivery being
 * applied, so the metric moves only once that delivery commits.
 */
#ifndef PD_WEBHOOKS_INBOX_H
#define PD_WEBHOOKS_INBOX_H

/* One order row was created in the current apply transaction. */
void webhooks_count_order_created(void);

#endif
