/*
 * print.c — print readiness (see print.h): the print size read from the
 * text Shopify carries ("8x10", "8×10 in", "11x14 / Matte"), and the
 * pixels per inch a photo gives when it fills that print.
 */
#include "orders/print.h"

#include <stdlib.h>
#include <string.h>

#define PRINT_INCHES_MAX 120.0

/* A number at *p, moving *p past it. */
static bool
number_at(const char **p, double *out)
{
    char *end;

    if (!(**p >= '0' && **p <= '9'))
        return false;
    *out = strtod(*p, &end);
    *p = end;
    return true;
}

/* Spaces, one "x" (or "×"), spaces. */
static bool
skip_times(const char **p)
{
    const char *s = *p + strspn(*p, " ");

    if (*s == 'x' || *s == 'X')
        s++;
    else if ((unsigned char)s[0] == 0xC3 && (unsigned char)s[1] == 0x97)
        s += 2; /* "×" in UTF-8 */
    else
        return false;
    *p = s + strspn(s, " ");
    return true;
}

bool
print_size_parse(const char *text, double *w_in, double *h_in)
{
    const char *p = text;
    double a, b;

    if (text == NULL)
        return false;
    p += strcspn(p, "0123456789");
    if (!number_at(&p, &a) || !skip_times(&p) || !number_at(&p, &b))
        return false;
    if (a <= 0 || b <= 0 || a > PRINT_INCHES_MAX || b > PRINT_INCHES_MAX)
        return false;
    *w_in = a;
    *h_in = b;
    return true;
}

int
print_effective_dpi(const char *print_size, int width, int height,
                    enum print_readiness *readiness)
{
    double w_in, h_in, long_in, short_in, dpi_long, dpi_short;
    int long_px, short_px, dpi;

    if (readiness != NULL)
        *readiness = PRINT_UNKNOWN;
    if (width <= 0 || height <= 0 ||
        !print_size_parse(print_size, &w_in, &h_in))
        return 0;
    long_in = w_in > h_in ? w_in : h_in;
    short_in = w_in > h_in ? h_in : w_in;
    long_px = width > height ? width : height;
    short_px = width > height ? height : width;
    dpi_long = long_px / long_in;
    dpi_short = short_px / short_in;
    dpi = (int)(dpi_long < dpi_short ? dpi_long : dpi_short);
    if (readiness != NULL)
        *readiness = dpi >= PRINT_DPI_WARN   ? PRINT_OK
                     : dpi >= PRINT_DPI_POOR ? PRINT_LOW
                                             : PRINT_POOR;
    return dpi;
}

const char *
print_readiness_name(enum print_readiness r)
{
    switch (r) {
    case PRINT_OK: return "ok";
    case PRINT_LOW: return "low";
    case PRINT_POOR: return "poor";
    default: return "unknown";
    }
}

int
print_warning_flags(enum print_readiness r)
{
    if (r == PRINT_POOR)
        return PRINT_FLAG_LOW | PRINT_FLAG_POOR;
    return r == PRINT_LOW ? PRINT_FLAG_LOW : 0;
}
