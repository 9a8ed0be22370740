/*
 * print.h — print readiness: how many pixels per inch a photo gives at
 * the size it is ordered printed at, and whether that is enough. A
 * photo is printed filling the print (long side to long side), so its
 * effective DPI is the smaller of its two sides' pixels per inch.
 */
#ifndef PD_ORDERS_PRINT_H
#define PD_ORDERS_PRINT_H

#include <stdbool.h>

/* Below this the print is flagged; below the poor mark it looks bad. */
#define PRINT_DPI_WARN 150
#define PRINT_DPI_POOR 100

enum print_readiness {
    PRINT_UNKNOWN, /* no size, no photo or pixels unknown */
    PRINT_OK,      /* at least PRINT_DPI_WARN */
    PRINT_LOW,     /* PRINT_DPI_POOR up to PRINT_DPI_WARN */
    PRINT_POOR,    /* under PRINT_DPI_POOR */
};

/*
 * Reads a print size such as "8x10", "8×10", "8 x 10 in", "11x14" or
 * "8x10 / Matte" (the first two numbers, in inches, 1..120). False when
 * the text names no size.
 */
bool print_size_parse(const char *text, double *w_in, double *h_in);

/*
 * The effective DPI of a width x height pixel photo (as displayed, i.e.
 * after EXIF rotation) printed at print_size, rounded down; 0 when
 * unknown. *readiness says how it fares (may be NULL).
 */
int print_effective_dpi(const char *print_size, int width, int height,
                        enum print_readiness *readiness);

/* An order's warning_flags bits for print readiness. */
#define PRINT_FLAG_LOW 1  /* a photo under PRINT_DPI_WARN */
#define PRINT_FLAG_POOR 2 /* a photo under PRINT_DPI_POOR */
/* The flags one photo's readiness sets (0, LOW, or LOW | POOR). */
int print_warning_flags(enum print_readiness r);

/* "ok", "low", "poor" or "unknown". */
const char *print_readiness_name(enum print_readiness r);

#endif
