/*
 * synth.c — draws the demo pets for seed-demo: libvips paints the scene
 * (gradient backdrop, bokeh, shadow, a soft-edged animal of ellipses) on a
 * small canvas, a bilinear loop here enlarges it with film grain to each
 * output size, and libvips encodes the original, cut-out and derivatives.
 */
#include "images/synth.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <vips/vips.h>

#include "common/err.h"
#include "obs/log.h"

/* The scene is drawn on a canvas whose long side is at most this. */
#define CANVAS_LONG 640.0
/* Edge of the animal on the canvas, in canvas pixels. */
#define EDGE_RAMP 1.2
/* Grain strength on the original, in 16ths of a +-15 level spread. */
#define GRAIN_FULL 16
/* Checkerboard behind cut-out derivatives: squares per long edge. */
#define CHECKER_SQUARES 40
#define JPEG_Q 85
/* zlib level of the cut-out PNG: 1 is several times faster than 6. */
#define PNG_LEVEL 1
/* Originals claim 72 dpi, as phone cameras write (pixels per mm). */
#define ORIGINAL_PPMM (72.0 / 25.4)

/*
 * An ellipse in frame units: the origin is the canvas centre, x grows to
 * the right, y downwards, and a unit is set by the pose (about half the
 * short side). angle is in degrees, clockwise.
 */
struct ell {
    double x, y, rx, ry, angle;
};

/* The parts of one animal, laid out for an animal that faces right. */
struct parts {
    struct ell body, head, tail, muzzle, nose, shadow, highlight;
    struct ell ear[2], inner[2], paw[2], eye[2], pupil[2], glint[2];
    double scale; /* a frame unit, as a fraction of half the short side */
};

/* Colours and pose of one look. */
struct look {
    unsigned char bg_lo[3], bg_hi[3];
    unsigned char coat[3], mark[3], ear[3], muzzle[3], iris[3];
    int marking; /* 0 plain, 1 stripes, 2 patches */
    int sitting;
    int pointy_ears;
    int cat_eyes;
};

static const struct look looks[SYNTH_LOOKS] = {
    /* ginger tabby cat on teal */
    { {40, 90, 100}, {150, 205, 195}, {214, 128, 58}, {150, 72, 28},
      {190, 105, 50}, {242, 218, 190}, {150, 170, 40}, 1, 1, 1, 1 },
    /* golden retriever lying on lavender */
    { {105, 95, 150}, {218, 208, 238}, {220, 172, 92}, {0, 0, 0},
      {172, 112, 48}, {242, 222, 172}, {70, 40, 15}, 0, 0, 0, 0 },
    /* tuxedo cat on peach */
    { {200, 118, 88}, {252, 218, 188}, {38, 36, 42}, {236, 234, 228},
      {32, 30, 36}, {236, 234, 228}, {200, 170, 40}, 2, 1, 1, 1 },
    /* grey and white husky lying on mint */
    { {68, 128, 100}, {200, 236, 212}, {128, 134, 146}, {232, 232, 236},
      {98, 104, 116}, {236, 236, 238}, {90, 150, 220}, 2, 0, 1, 0 },
    /* brown spaniel on sky blue */
    { {58, 108, 170}, {192, 222, 246}, {122, 76, 44}, {0, 0, 0},
      {80, 48, 28}, {204, 162, 120}, {50, 28, 12}, 0, 1, 0, 0 },
    /* cream cat lying on rose */
    { {150, 70, 92}, {242, 192, 202}, {236, 214, 172}, {206, 168, 116},
      {222, 188, 148}, {252, 242, 226}, {80, 140, 180}, 1, 0, 1, 1 },
    /* spotted dog on sand */
    { {150, 118, 78}, {236, 216, 170}, {240, 238, 232}, {34, 32, 32},
      {42, 40, 40}, {246, 246, 240}, {60, 35, 15}, 2, 1, 0, 0 },
    /* black labrador lying on slate */
    { {48, 58, 74}, {160, 176, 192}, {42, 40, 44}, {0, 0, 0},
      {32, 30, 34}, {92, 82, 78}, {110, 70, 30}, 0, 0, 0, 0 },
};

static const unsigned char eye_dark[3] = {22, 18, 16};
static const unsigned char glint_white[3] = {250, 250, 250};
static const unsigned char inner_pink[3] = {226, 160, 160};

/* The canvas the scene is drawn on; every image belongs to ctx. */
struct frame {
    VipsObject *ctx;
    int w, h;
    double unit; /* canvas pixels per frame unit */
    int mirror;  /* 1: the animal faces left */
    int seed;
    VipsImage *poly; /* per pixel centre X, Y: X^2, XY, Y^2, X, Y, 1 */
};

/* A rectangle of the canvas. */
struct box {
    int x, y, w, h;
};

static pthread_once_t vips_once = PTHREAD_ONCE_INIT;
static int vips_started = PD_ERR;

/* Logs libvips's error text for the step that failed, then clears it. */
static int
vips_fail(const char *what)
{
    const char *msg = vips_error_buffer();
    size_t n = strlen(msg);

    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    log_error("synth: %s failed: %.*s", what, (int)n, msg);
    vips_error_clear();
    return PD_ERR;
}

static void
start_vips(void)
{
    if (VIPS_INIT("printdesk")) {
        vips_fail("vips_init");
        return;
    }
    vips_started = PD_OK;
}

void
synth_shutdown(void)
{
    if (vips_started == PD_OK)
        vips_shutdown();
}

int
synth_init(void)
{
    pthread_once(&vips_once, start_vips);
    return vips_started;
}

/* n image slots released with ctx. */
static VipsImage **
slots(VipsObject *ctx, int n)
{
    return (VipsImage **)vips_object_local_array(ctx, n);
}

/* v truncated to an int within lo..hi. */
static int
clampi(double v, int lo, int hi)
{
    if (v < lo)
        return lo;
    if (v > hi)
        return hi;
    return (int)v;
}

/*
 * Renders the frame's polynomial basis into memory, so that any quadratic
 * in the pixel centre (X, Y) is one vips_recomb of it.
 */
static int
frame_basis(struct frame *fr)
{
    VipsImage **t = slots(fr->ctx, 9);

    if (vips_xyz(&t[0], fr->w, fr->h, NULL) ||
        vips_linear1(t[0], &t[1], 1.0, 0.5, NULL) ||
        vips_extract_band(t[1], &t[2], 0, NULL) ||
        vips_extract_band(t[1], &t[3], 1, NULL) ||
        vips_multiply(t[2], t[2], &t[4], NULL) ||
        vips_multiply(t[2], t[3], &t[5], NULL) ||
        vips_multiply(t[3], t[3], &t[6], NULL) ||
        vips_linear1(t[2], &t[7], 0.0, 1.0, NULL))
        return vips_fail("basis");
    VipsImage *bands[6] = {t[4], t[5], t[6], t[2], t[3], t[7]};

    if (vips_bandjoin(bands, &t[8], 6, NULL))
        return vips_fail("basis");
    fr->poly = vips_image_copy_memory(t[8]);
    if (!fr->poly)
        return vips_fail("basis");
    slots(fr->ctx, 1)[0] = fr->poly;
    return 0;
}

/*
 * n quadratics over box b of the canvas, one double band each: band k is
 * sum(coef[6k + i] * basis[i]).
 */
static int
poly_eval(const struct frame *fr, const double *coef, int n,
          const struct box *b, VipsImage **out)
{
    VipsImage **t = slots(fr->ctx, 2);
    VipsImage *in = fr->poly;

    t[0] = vips_image_new_matrix_from_array(6, n, coef, 6 * n);
    if (!t[0])
        return vips_fail("matrix");
    if (b->w != fr->w || b->h != fr->h) {
        if (vips_crop(fr->poly, &t[1], b->x, b->y, b->w, b->h, NULL))
            return vips_fail("crop");
        in = t[1];
    }
    if (vips_recomb(in, out, t[0], NULL))
        return vips_fail("recomb");
    slots(fr->ctx, 1)[0] = *out;
    return 0;
}

/*
 * The ellipse's implicit field as a quadratic: (u / rx)^2 + (v / ry)^2 in
 * the ellipse's own axes, so 1 on the edge and below 1 inside.
 */
static void
ell_coef(const struct frame *fr, const struct ell *e, double coef[6])
{
    double cx = fr->w / 2.0 + e->x * fr->unit;
    double cy = fr->h / 2.0 + e->y * fr->unit;
    double irx = 1.0 / (e->rx * fr->unit), iry = 1.0 / (e->ry * fr->unit);
    double a = e->angle * M_PI / 180.0, c = cos(a), s = sin(a);
    double p = c * c * irx * irx + s * s * iry * iry;
    double q = 2.0 * c * s * (irx * irx - iry * iry);
    double r = s * s * irx * irx + c * c * iry * iry;

    coef[0] = p;
    coef[1] = q;
    coef[2] = r;
    coef[3] = -2.0 * p * cx - q * cy;
    coef[4] = -q * cx - 2.0 * r * cy;
    coef[5] = p * cx * cx + q * cx * cy + r * cy * cy;
}

/* The ellipse's field over box b, one double band. */
static int
ell_field(const struct frame *fr, const struct ell *e, const struct box *b,
          VipsImage **out)
{
    double coef[6];

    ell_coef(fr, e, coef);
    return poly_eval(fr, coef, 1, b, out);
}

/* Turns a field into 0..255 * strength with a ramp of ramp pixels. */
static int
field_to_mask(const struct frame *fr, VipsImage *field, double r,
              double ramp, double strength, VipsImage **out)
{
    VipsImage **t = slots(fr->ctx, 2);
    double k = 255.0 * r / (2.0 * ramp);

    if (vips_linear1(field, &t[0], -k, k + 127.5, "uchar", TRUE, NULL))
        return vips_fail("ellipse mask");
    if (strength >= 1.0) {
        *out = t[0];
        return 0;
    }
    if (vips_linear1(t[0], &t[1], strength, 0.0, "uchar", TRUE, NULL))
        return vips_fail("mask strength");
    *out = t[1];
    return 0;
}

/* The box around e grown by ramp, clipped to the canvas; 0 if empty. */
static int
ell_box(const struct frame *fr, const struct ell *e, double ramp,
        struct box *b)
{
    double rx = e->rx * fr->unit, ry = e->ry * fr->unit;
    double a = e->angle * M_PI / 180.0, c = cos(a), s = sin(a);
    double cx = fr->w / 2.0 + e->x * fr->unit;
    double cy = fr->h / 2.0 + e->y * fr->unit;
    double ex = sqrt(rx * rx * c * c + ry * ry * s * s) + ramp + 2.0;
    double ey = sqrt(rx * rx * s * s + ry * ry * c * c) + ramp + 2.0;
    int x0 = clampi(floor(cx - ex), 0, fr->w);
    int x1 = clampi(ceil(cx + ex), 0, fr->w);
    int y0 = clampi(floor(cy - ey), 0, fr->h);
    int y1 = clampi(ceil(cy + ey), 0, fr->h);

    *b = (struct box){x0, y0, x1 - x0, y1 - y0};
    return b->w > 0 && b->h > 0;
}

/*
 * The soft mask of e over its box b: 255 * strength inside, 0 outside,
 * ramp canvas pixels across the edge.
 */
static int
box_mask(const struct frame *fr, const struct ell *e, const struct box *b,
         double ramp, double strength, VipsImage **out)
{
    VipsImage *field = NULL;
    double r = sqrt(e->rx * e->ry) * fr->unit;

    if (ell_field(fr, e, b, &field))
        return PD_ERR;
    return field_to_mask(fr, field, r, ramp, strength, out);
}

/*
 * Blends the canvas-sized layer over *base through mask, which covers
 * only box b; the rest of *base is passed through untouched.
 */
static int
blend_box(const struct frame *fr, const struct box *b, VipsImage *mask,
          VipsImage *layer, VipsImage **base)
{
    VipsImage **t = slots(fr->ctx, 4);

    if (vips_crop(layer, &t[0], b->x, b->y, b->w, b->h, NULL) ||
        vips_crop(*base, &t[1], b->x, b->y, b->w, b->h, NULL) ||
        vips_ifthenelse(mask, t[0], t[1], &t[2], "blend", TRUE, NULL) ||
        vips_insert(*base, t[2], &t[3], b->x, b->y, NULL))
        return vips_fail("paint");
    *base = t[3];
    return 0;
}

/* Paints layer through the soft ellipse e over *base. */
static int
paint_part(const struct frame *fr, const struct ell *e, double ramp,
           double strength, VipsImage *layer, VipsImage **base)
{
    struct box b;
    VipsImage *mask = NULL;

    if (!ell_box(fr, e, ramp, &b))
        return 0;
    if (box_mask(fr, e, &b, ramp, strength, &mask))
        return PD_ERR;
    return blend_box(fr, &b, mask, layer, base);
}

/* Paints a crisp-edged ellipse (the animal's own edge) of layer. */
static int
paint_ell(const struct frame *fr, const struct ell *e, VipsImage *layer,
          VipsImage **base)
{
    return paint_part(fr, e, EDGE_RAMP, 1.0, layer, base);
}

/* Paints both ellipses of a pair. */
static int
paint_pair(const struct frame *fr, const struct ell e[2], VipsImage *layer,
           VipsImage **base)
{
    if (paint_ell(fr, &e[0], layer, base) ||
        paint_ell(fr, &e[1], layer, base))
        return PD_ERR;
    return 0;
}

/* Adds e to the one-band outline *sil (the per-pixel maximum). */
static int
add_outline(const struct frame *fr, const struct ell *e, VipsImage **sil)
{
    VipsImage **t = slots(fr->ctx, 3);
    VipsImage *pair[2] = {NULL, NULL};
    struct box b;

    if (!ell_box(fr, e, EDGE_RAMP, &b))
        return 0;
    if (box_mask(fr, e, &b, EDGE_RAMP, 1.0, &pair[1]))
        return PD_ERR;
    if (vips_crop(*sil, &t[0], b.x, b.y, b.w, b.h, NULL))
        return vips_fail("outline");
    pair[0] = t[0];
    if (vips_bandrank(pair, &t[1], 2, "index", 1, NULL) ||
        vips_insert(*sil, t[1], &t[2], b.x, b.y, NULL))
        return vips_fail("outline");
    *sil = t[2];
    return 0;
}

/* A 3-band uchar layer: rgb times the one-band brightness field shade. */
static int
tinted(const struct frame *fr, VipsImage *shade, const unsigned char rgb[3],
       VipsImage **out)
{
    VipsImage **t = slots(fr->ctx, 1);
    double a[3] = {rgb[0], rgb[1], rgb[2]};
    double b[3] = {0.0, 0.0, 0.0};

    if (vips_linear(shade, &t[0], a, b, 3, "uchar", TRUE, NULL))
        return vips_fail("tint");
    *out = t[0];
    return 0;
}

/*
 * A linear ramp as a quadratic: 0 at one side of the canvas, 1 at the
 * other along the direction (dx, dy).
 */
static void
ramp_coef(const struct frame *fr, double dx, double dy, double coef[6])
{
    double span = fabs(dx) * fr->w + fabs(dy) * fr->h;

    coef[0] = coef[1] = coef[2] = 0.0;
    coef[3] = dx / span;
    coef[4] = dy / span;
    coef[5] = 0.5 - (dx * fr->w + dy * fr->h) / (2.0 * span);
}

/* The vertical brightness of the animal: 1.18 at the top, 0.8 below. */
static int
shading(const struct frame *fr, VipsImage **out)
{
    struct box all = {0, 0, fr->w, fr->h};
    double coef[6];

    ramp_coef(fr, 0.0, 1.0, coef);
    for (int i = 0; i < 6; i++)
        coef[i] *= 0.8 - 1.18;
    coef[5] += 1.18;
    return poly_eval(fr, coef, 1, &all, out);
}

/* A small deterministic generator for the scene's random choices. */
static double
next_rand(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return ((*state >> 8) & 0xffff) / 65535.0;
}

/* A canvas-sized layer of one flat colour, 3-band uchar. */
static int
solid(const struct frame *fr, const double rgb[3], VipsImage **out)
{
    VipsImage **t = slots(fr->ctx, 2);
    double a[3] = {0.0, 0.0, 0.0};

    if (vips_black(&t[0], fr->w, fr->h, NULL) ||
        vips_linear(t[0], &t[1], a, rgb, 3, "uchar", TRUE, NULL))
        return vips_fail("solid");
    *out = t[1];
    return 0;
}

/*
 * The backdrop: a gradient from the look's dark colour (bottom) to its
 * light one (top), darkened towards the corners; one recomb for all three
 * bands.
 */
static int
backdrop_base(const struct frame *fr, const struct look *lk,
              VipsImage **out)
{
    VipsImage **t = slots(fr->ctx, 1);
    VipsImage *rgb = NULL;
    struct ell vig = {0.0, 0.0, 0.72 * fr->w / fr->unit,
                      0.72 * fr->h / fr->unit, 0.0};
    struct box all = {0, 0, fr->w, fr->h};
    double dx = (0.25 + 0.2 * (fr->seed % 3)) * (fr->mirror ? -1 : 1);
    double ramp[6], field[6], coef[18];

    ramp_coef(fr, dx, -1.0, ramp);
    ell_coef(fr, &vig, field);
    for (int b = 0; b < 3; b++) {
        double lo = lk->bg_lo[b], hi = lk->bg_hi[b], mid = (lo + hi) / 2.0;

        for (int i = 0; i < 6; i++)
            coef[6 * b + i] = (hi - lo) * ramp[i] - 0.32 * mid * field[i];
        coef[6 * b + 5] += lo + 0.05 * mid;
    }
    if (poly_eval(fr, coef, 3, &all, &rgb))
        return PD_ERR;
    if (vips_cast(rgb, &t[0], VIPS_FORMAT_UCHAR, NULL))
        return vips_fail("backdrop");
    *out = t[0];
    return 0;
}

/* Out-of-focus light discs in the upper part of the backdrop. */
static int
add_bokeh(const struct frame *fr, const struct look *lk, VipsImage **bg)
{
    unsigned state = 7919u * (unsigned)fr->seed + 17u;
    double half_w = fr->w / 2.0 / fr->unit, half_h = fr->h / 2.0 / fr->unit;
    double light[3];
    VipsImage *layer = NULL;

    for (int i = 0; i < 3; i++)
        light[i] = lk->bg_hi[i] + (255 - lk->bg_hi[i]) * 0.6;
    if (solid(fr, light, &layer))
        return PD_ERR;
    for (int i = 0; i < 4; i++) {
        double r = 0.08 + 0.14 * next_rand(&state);
        struct ell e = {(next_rand(&state) * 2.0 - 1.0) * half_w,
                        -half_h * (0.3 + 0.65 * next_rand(&state)), r, r,
                        0.0};

        if (paint_part(fr, &e, 0.35 * r * fr->unit, 0.4, layer, bg))
            return PD_ERR;
    }
    return 0;
}

/* The soft contact shadow under the animal. */
static int
add_shadow(const struct frame *fr, const struct parts *p, VipsImage **bg)
{
    VipsImage **t = slots(fr->ctx, 1);

    if (vips_linear1(*bg, &t[0], 0.45, 0.0, "uchar", TRUE, NULL))
        return vips_fail("shadow");
    return paint_part(fr, &p->shadow, 0.12 * fr->unit, 0.6, t[0], bg);
}

static int
draw_backdrop(const struct frame *fr, const struct look *lk,
              const struct parts *p, VipsImage **out)
{
    VipsImage *bg = NULL;

    if (backdrop_base(fr, lk, &bg) || add_bokeh(fr, lk, &bg) ||
        add_shadow(fr, p, &bg))
        return PD_ERR;
    *out = bg;
    return 0;
}

/*
 * Smooth random blobs over the canvas: noise on a coarse grid, enlarged
 * by cell pixels with a bicubic kernel. One float band around 0.
 */
static int
blob_field(const struct frame *fr, int cell, VipsImage **out)
{
    VipsImage **t = slots(fr->ctx, 3);
    int gw = fr->w / cell + 3, gh = fr->h / cell + 3;

    if (vips_gaussnoise(&t[0], gw, gh, "mean", 0.0, "sigma", 1.0,
                        "seed", fr->seed, NULL) ||
        vips_resize(t[0], &t[1], (double)cell, NULL) ||
        vips_crop(t[1], &t[2], cell, cell, fr->w, fr->h, NULL))
        return vips_fail("blob field");
    *out = t[2];
    return 0;
}

/* A mask from a field: 255 * strength where gain * field + bias >= 1. */
static int
field_threshold(const struct frame *fr, VipsImage *field, double gain,
                double bias, double strength, VipsImage **out)
{
    VipsImage **t = slots(fr->ctx, 1);

    if (vips_linear1(field, &t[0], 255.0 * strength * gain,
                     255.0 * strength * bias, "uchar", TRUE, NULL))
        return vips_fail("threshold");
    *out = t[0];
    return 0;
}

/* Tabby stripes, slightly wavy, across the whole coat. */
static int
stripe_mask(const struct frame *fr, VipsImage *blobs, VipsImage **out)
{
    VipsImage **t = slots(fr->ctx, 3);
    VipsImage *phase = NULL;
    double k = 360.0 / (0.17 * fr->unit);
    double coef[6] = {0, 0, 0, k * 0.94, k * 0.34, 0};
    struct box all = {0, 0, fr->w, fr->h};

    if (poly_eval(fr, coef, 1, &all, &phase))
        return PD_ERR;
    if (vips_linear1(blobs, &t[0], 70.0, 0.0, NULL) ||
        vips_add(phase, t[0], &t[1], NULL) || vips_sin(t[1], &t[2], NULL))
        return vips_fail("stripes");
    return field_threshold(fr, t[2], 3.0, -0.6, 0.75, out);
}

/* The coat: a shaded base colour with the look's markings. */
static int
draw_coat(const struct frame *fr, const struct look *lk, VipsImage *shade,
          VipsImage **out)
{
    VipsImage **t = slots(fr->ctx, 1);
    VipsImage *coat = NULL, *mark = NULL, *blobs = NULL, *mask = NULL;

    if (tinted(fr, shade, lk->coat, &coat))
        return PD_ERR;
    if (lk->marking == 0) {
        *out = coat;
        return 0;
    }
    if (tinted(fr, shade, lk->mark, &mark) ||
        blob_field(fr, (int)(0.28 * fr->unit) + 1, &blobs))
        return PD_ERR;
    if (lk->marking == 1 ? stripe_mask(fr, blobs, &mask)
                         : field_threshold(fr, blobs, 4.0, -0.6, 1.0,
                                           &mask))
        return PD_ERR;
    if (vips_ifthenelse(mask, mark, coat, &t[0], "blend", TRUE, NULL))
        return vips_fail("markings");
    *out = t[0];
    return 0;
}

/* rgb scaled by f, clipped to 0..255. */
static void
tone(const unsigned char rgb[3], double f, unsigned char out[3])
{
    for (int i = 0; i < 3; i++) {
        double v = rgb[i] * f;

        out[i] = (unsigned char)(v > 255.0 ? 255.0 : v);
    }
}

/* A soft, darker rim where the head meets the body, the ears, the head. */
static int
draw_head(const struct frame *fr, const struct look *lk,
          const struct parts *p, VipsImage *shade, VipsImage *coat,
          VipsImage **a)
{
    struct ell rim = p->head;
    unsigned char dark[3];
    VipsImage *dark_l = NULL, *ear_l = NULL, *pink_l = NULL;

    rim.rx *= 1.07;
    rim.ry *= 1.07;
    rim.y += 0.03;
    tone(lk->coat, 0.55, dark);
    if (tinted(fr, shade, dark, &dark_l) ||
        paint_part(fr, &rim, 0.1 * fr->unit, 0.45, dark_l, a) ||
        tinted(fr, shade, lk->ear, &ear_l) ||
        paint_pair(fr, p->ear, ear_l, a))
        return PD_ERR;
    if (lk->pointy_ears && (tinted(fr, shade, inner_pink, &pink_l) ||
                            paint_pair(fr, p->inner, pink_l, a)))
        return PD_ERR;
    return paint_ell(fr, &p->head, coat, a);
}

/* Paws, muzzle, eyes and nose. */
static int
draw_details(const struct frame *fr, const struct look *lk,
             const struct parts *p, VipsImage *shade, VipsImage **a)
{
    VipsImage *light = NULL, *iris = NULL, *dark = NULL, *white = NULL;

    if (tinted(fr, shade, lk->muzzle, &light) ||
        tinted(fr, shade, lk->iris, &iris) ||
        tinted(fr, shade, eye_dark, &dark) ||
        tinted(fr, shade, glint_white, &white))
        return PD_ERR;
    if (paint_pair(fr, p->paw, light, a) ||
        paint_ell(fr, &p->muzzle, light, a) ||
        paint_pair(fr, p->eye, iris, a) ||
        paint_pair(fr, p->pupil, dark, a) ||
        paint_pair(fr, p->glint, white, a))
        return PD_ERR;
    return paint_ell(fr, &p->nose, dark, a);
}

/* The animal's outline (one uchar band, 255 inside) and its box. */
static int
draw_outline(const struct frame *fr, const struct parts *p,
             VipsImage **sil, struct box *bound)
{
    VipsImage **t = slots(fr->ctx, 1);
    const struct ell *outer[7] = {&p->body,   &p->head,   &p->tail,
                                  &p->ear[0], &p->ear[1], &p->paw[0],
                                  &p->paw[1]};
    int x1 = 0, y1 = 0;
    struct box b;

    *bound = (struct box){fr->w, fr->h, 0, 0};
    if (vips_black(&t[0], fr->w, fr->h, NULL))
        return vips_fail("black");
    *sil = t[0];
    for (int i = 0; i < 7; i++) {
        if (!ell_box(fr, outer[i], EDGE_RAMP, &b))
            continue;
        bound->x = b.x < bound->x ? b.x : bound->x;
        bound->y = b.y < bound->y ? b.y : bound->y;
        x1 = b.x + b.w > x1 ? b.x + b.w : x1;
        y1 = b.y + b.h > y1 ? b.y + b.h : y1;
        if (add_outline(fr, outer[i], sil))
            return PD_ERR;
    }
    bound->w = x1 - bound->x;
    bound->h = y1 - bound->y;
    return 0;
}

/*
 * The animal's colours (3-band uchar, meaningful inside its outline), its
 * outline and the outline's box.
 */
static int
draw_animal(const struct frame *fr, const struct look *lk,
            const struct parts *p, VipsImage **animal, VipsImage **sil,
            struct box *bound)
{
    unsigned char glow[3];
    VipsImage *shade = NULL, *coat = NULL, *glow_l = NULL, *a = NULL;

    if (shading(fr, &shade) ||
        draw_coat(fr, lk, shade, &coat))
        return PD_ERR;
    a = coat;
    tone(lk->coat, 1.3, glow);
    if (tinted(fr, shade, glow, &glow_l) ||
        paint_part(fr, &p->highlight, 0.2 * fr->unit, 0.35, glow_l, &a) ||
        draw_head(fr, lk, p, shade, coat, &a) ||
        draw_details(fr, lk, p, shade, &a) ||
        draw_outline(fr, p, sil, bound))
        return PD_ERR;
    *animal = a;
    return 0;
}

/* Scales and moves the face parts (given in head radii) onto the head. */
static void
place_face(struct parts *p)
{
    double hx = p->head.x, hy = p->head.y, r = p->head.ry;
    struct ell *face[] = {&p->ear[0],   &p->ear[1],   &p->inner[0],
                          &p->inner[1], &p->eye[0],   &p->eye[1],
                          &p->pupil[0], &p->pupil[1], &p->glint[0],
                          &p->glint[1], &p->muzzle,   &p->nose};

    for (size_t i = 0; i < sizeof(face) / sizeof(face[0]); i++) {
        face[i]->x = hx + face[i]->x * r;
        face[i]->y = hy + face[i]->y * r;
        face[i]->rx *= r;
        face[i]->ry *= r;
    }
}

/* The face parts around the head, in head radii. */
static void
layout_face(struct parts *p, const struct look *lk)
{
    for (int i = 0; i < 2; i++) {
        double sd = i == 0 ? -1.0 : 1.0;
        double ex = 0.15 + sd * 0.38, ey = -0.18;

        if (lk->pointy_ears) {
            p->ear[i] = (struct ell){sd * 0.6, -0.8, 0.3, 0.58, sd * 22};
            p->inner[i] = (struct ell){sd * 0.6, -0.74, 0.15, 0.34, sd * 22};
        } else {
            p->ear[i] = (struct ell){sd * 0.95, 0.1, 0.32, 0.72, -sd * 14};
            p->inner[i] = p->ear[i];
        }
        p->eye[i] = (struct ell){ex, ey, 0.16, 0.15, 0};
        p->pupil[i] = lk->cat_eyes
                          ? (struct ell){ex + 0.02, ey, 0.05, 0.13, 0}
                          : (struct ell){ex + 0.02, ey, 0.1, 0.1, 0};
        p->glint[i] = (struct ell){ex - 0.04, ey - 0.06, 0.04, 0.04, 0};
    }
    p->muzzle = (struct ell){0.18, 0.38, 0.5, 0.36, 0};
    p->nose = (struct ell){0.2, 0.2, 0.16, 0.11, 0};
    place_face(p);
}

/* Body, head, tail and paws of a sitting or a lying animal facing right. */
static void
layout_body(struct parts *p, int sitting)
{
    if (sitting) {
        p->scale = 0.85;
        p->body = (struct ell){0, 0.28, 0.46, 0.58, 0};
        p->head = (struct ell){0.06, -0.42, 0.35, 0.33, 0};
        p->tail = (struct ell){-0.42, 0.72, 0.32, 0.08, -15};
        p->paw[0] = (struct ell){-0.13, 0.84, 0.13, 0.08, 0};
        p->paw[1] = (struct ell){0.21, 0.84, 0.13, 0.08, 0};
        p->shadow = (struct ell){0, 0.88, 0.66, 0.1, 0};
        p->highlight = (struct ell){-0.14, 0.1, 0.2, 0.32, -12};
        return;
    }
    p->scale = 0.78;
    p->body = (struct ell){-0.1, 0.22, 0.74, 0.36, 0};
    p->head = (struct ell){0.56, -0.14, 0.32, 0.3, -6};
    p->tail = (struct ell){-0.9, 0.36, 0.28, 0.07, 28};
    p->paw[0] = (struct ell){0.22, 0.52, 0.15, 0.075, 0};
    p->paw[1] = (struct ell){0.48, 0.49, 0.15, 0.075, 0};
    p->shadow = (struct ell){-0.05, 0.6, 1.0, 0.1, 0};
    p->highlight = (struct ell){-0.3, 0.04, 0.42, 0.14, 0};
}

/* Turns every part around the vertical axis. */
static void
mirror_parts(struct parts *p)
{
    struct ell *all[] = {&p->body,     &p->head,      &p->tail,
                         &p->muzzle,   &p->nose,      &p->shadow,
                         &p->highlight, &p->ear[0],   &p->ear[1],
                         &p->inner[0], &p->inner[1],  &p->paw[0],
                         &p->paw[1],   &p->eye[0],    &p->eye[1],
                         &p->pupil[0], &p->pupil[1],  &p->glint[0],
                         &p->glint[1]};

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        all[i]->x = -all[i]->x;
        all[i]->angle = -all[i]->angle;
    }
}

/* The canvas for a picture of width x height, at most CANVAS_LONG. */
static void
frame_setup(struct frame *fr, VipsObject *ctx, int variant, int width,
            int height, double scale)
{
    double longest = width > height ? width : height;
    double f = longest > CANVAS_LONG ? longest / CANVAS_LONG : 1.0;

    fr->ctx = ctx;
    fr->w = (int)lround(width / f);
    fr->h = (int)lround(height / f);
    fr->w = fr->w < 1 ? 1 : fr->w;
    fr->h = fr->h < 1 ? 1 : fr->h;
    fr->unit = scale * (fr->w < fr->h ? fr->w : fr->h) / 2.0;
    fr->mirror = ((variant % SYNTH_LOOKS) % 3 == 1) ^
                 ((variant / SYNTH_LOOKS) & 1);
    fr->seed = variant;
}

/*
 * The scene on the canvas, rendered into memory as 4 uchar bands: the
 * picture (RGB) and the animal's outline, the cut-out's alpha.
 */
static int
draw_canvas(const struct frame *fr, const struct look *lk,
            const struct parts *p, VipsImage **out)
{
    VipsImage **t = slots(fr->ctx, 3);
    VipsImage *bg = NULL, *animal = NULL, *sil = NULL, *bands[2];
    struct box bound;

    if (draw_backdrop(fr, lk, p, &bg) ||
        draw_animal(fr, lk, p, &animal, &sil, &bound))
        return PD_ERR;
    bands[0] = bg;
    if (bound.w > 0 && bound.h > 0) {
        if (vips_crop(sil, &t[0], bound.x, bound.y, bound.w, bound.h, NULL))
            return vips_fail("crop");
        if (blend_box(fr, &bound, t[0], animal, &bands[0]))
            return PD_ERR;
    }
    bands[1] = sil;
    if (vips_bandjoin(bands, &t[1], 2, NULL))
        return vips_fail("bandjoin");
    t[2] = vips_image_copy_memory(t[1]);
    if (!t[2])
        return vips_fail("render canvas");
    *out = t[2];
    return 0;
}

/* How render() writes the cut-out. */
enum cut_mode {
    CUT_RGBA,    /* RGB and alpha; RGB is 0 where fully transparent */
    CUT_CHECKER, /* RGB over a light checkerboard */
};

/* One render of the canvas at one output size. */
struct job {
    const VipsPel *src; /* the 4-band uchar canvas */
    int sw, sh;
    int w, h;
    int grain;          /* 0..16 */
    signed char noise[256]; /* grain by random byte */
    enum cut_mode mode;
    int square; /* checkerboard square side, pixels */
    uint32_t seed;
    int *tx, *ty;   /* 3 ints per output column / row, see make_taps */
    uint16_t *row;  /* a canvas row blended between two source rows */
    VipsPel *o_row; /* the row being written in the original */
    VipsPel *c_row; /* the row being written in the cut-out */
};

/*
 * Bilinear taps for n outputs over src_n inputs: per output, the first
 * and second source index and the second's weight (0..256). g_free it.
 */
static int *
make_taps(int n, int src_n)
{
    int *t = g_try_new(int, (gsize)n * 3);

    if (!t)
        return NULL;
    for (int i = 0; i < n; i++) {
        double s = (i + 0.5) * src_n / n - 0.5;
        int a = (int)floor(s);
        int w = (int)lround((s - a) * 256.0);

        if (a < 0 || a >= src_n - 1) {
            a = a < 0 ? 0 : src_n - 1;
            w = 0;
        }
        t[3 * i] = a;
        t[3 * i + 1] = a + 1 < src_n ? a + 1 : a;
        t[3 * i + 2] = w;
    }
    return t;
}

/*
 * The grain table: a triangular spread over -15..15 from the two nibbles
 * of a random byte, times grain / 16.
 */
static void
fill_noise(struct job *j)
{
    for (int i = 0; i < 256; i++)
        j->noise[i] = (signed char)(((i & 15) + (i >> 4) - 15) * j->grain / 16);
}

static VipsPel
clamp_pel(int v)
{
    return (VipsPel)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Writes pixel x: rgb (grain added) to the original, and the cut-out. */
static void
put_pixel(const struct job *j, int x, int y, const int rgb[3], unsigned a)
{
    VipsPel *o = j->o_row + 3 * x;

    o[0] = clamp_pel(rgb[0]);
    o[1] = clamp_pel(rgb[1]);
    o[2] = clamp_pel(rgb[2]);
    if (j->mode == CUT_RGBA) {
        VipsPel *c = j->c_row + 4 * x;

        c[0] = a ? o[0] : 0;
        c[1] = a ? o[1] : 0;
        c[2] = a ? o[2] : 0;
        c[3] = (VipsPel)a;
        return;
    }
    VipsPel *c = j->c_row + 3 * x;
    unsigned k = ((x / j->square + y / j->square) & 1) ? 255 : 226;

    for (int b = 0; b < 3; b++)
        c[b] = (VipsPel)((o[b] * a + k * (255 - a) + 127) / 255);
}

/* Fills o_row and c_row with output row y. */
static void
render_row(const struct job *j, int y)
{
    const int *ty = j->ty + 3 * y;
    size_t stride = (size_t)j->sw * 4;
    const VipsPel *r0 = j->src + (size_t)ty[0] * stride;
    const VipsPel *r1 = j->src + (size_t)ty[1] * stride;
    unsigned wy = (unsigned)ty[2];
    uint32_t state = (j->seed + 1u) * 2654435761u ^ ((uint32_t)y * 40503u);

    for (size_t i = 0; i < stride; i++)
        j->row[i] = (uint16_t)(r0[i] * (256u - wy) + r1[i] * wy);
    for (int x = 0; x < j->w; x++) {
        const int *tx = j->tx + 3 * x;
        const uint16_t *p0 = j->row + (size_t)tx[0] * 4;
        const uint16_t *p1 = j->row + (size_t)tx[1] * 4;
        unsigned wx = (unsigned)tx[2], vx = 256u - wx;
        int n, rgb[3];

        state = state * 1664525u + 1013904223u;
        n = j->noise[state >> 24];
        rgb[0] = (int)((p0[0] * vx + p1[0] * wx + 32768u) >> 16) + n;
        rgb[1] = (int)((p0[1] * vx + p1[1] * wx + 32768u) >> 16) + n;
        rgb[2] = (int)((p0[2] * vx + p1[2] * wx + 32768u) >> 16) + n;
        put_pixel(j, x, y, rgb, (p0[3] * vx + p1[3] * wx + 32768u) >> 16);
    }
}

/* A memory image of w x h uchar sRGB pixels to fill, owned by ctx. */
static VipsImage *
new_output(VipsObject *ctx, int w, int h, int bands, double ppmm)
{
    VipsImage **t = slots(ctx, 1);

    t[0] = vips_image_new_memory();
    vips_image_init_fields(t[0], w, h, bands, VIPS_FORMAT_UCHAR,
                           VIPS_CODING_NONE, VIPS_INTERPRETATION_sRGB,
                           ppmm, ppmm);
    return t[0];
}

/* Runs job j row by row straight into the pixels of orig and cut. */
static int
run_job(struct job *j, VipsImage *orig, VipsImage *cut)
{
    j->tx = make_taps(j->w, j->sw);
    j->ty = make_taps(j->h, j->sh);
    j->row = g_try_new(uint16_t, (gsize)j->sw * 4);
    if (!j->tx || !j->ty || !j->row) {
        log_error("synth: out of memory rendering %dx%d", j->w, j->h);
        return PD_ENOMEM;
    }
    if (vips_image_write_prepare(orig) || vips_image_write_prepare(cut))
        return vips_fail("allocate output");
    fill_noise(j);
    for (int y = 0; y < j->h; y++) {
        j->o_row = VIPS_IMAGE_ADDR(orig, 0, y);
        j->c_row = VIPS_IMAGE_ADDR(cut, 0, y);
        render_row(j, y);
    }
    return 0;
}

/*
 * Enlarges the 4-band canvas (a memory image) to w x h with grain
 * (0..16): the original (RGB, ppmm pixels per mm) and the cut-out as
 * mode says. Both images belong to ctx.
 */
static int
render(VipsObject *ctx, VipsImage *canvas, int w, int h, int grain,
       enum cut_mode mode, int seed, double ppmm, VipsImage **orig,
       VipsImage **cut)
{
    struct job j;
    int longest = w > h ? w : h, rc;

    memset(&j, 0, sizeof(j));
    j.src = vips_image_get_data(canvas);
    if (!j.src)
        return vips_fail("canvas pixels");
    j.sw = vips_image_get_width(canvas);
    j.sh = vips_image_get_height(canvas);
    j.w = w;
    j.h = h;
    j.grain = grain;
    j.mode = mode;
    j.square = longest / CHECKER_SQUARES > 4 ? longest / CHECKER_SQUARES : 4;
    j.seed = (uint32_t)seed;
    *orig = new_output(ctx, w, h, 3, ppmm);
    *cut = new_output(ctx, w, h, mode == CUT_RGBA ? 4 : 3, ppmm);
    rc = run_job(&j, *orig, *cut);
    g_free(j.tx);
    g_free(j.ty);
    g_free(j.row);
    return rc;
}

enum fmt { FMT_JPEG, FMT_PNG };

/* Encodes in as f into b; strip drops metadata. */
static int
save(VipsImage *in, enum fmt f, int strip, struct synth_blob *b)
{
    void *buf = NULL;
    size_t len = 0;
    int rc;

    if (f == FMT_JPEG)
        rc = vips_jpegsave_buffer(in, &buf, &len, "Q", JPEG_Q, "strip",
                                  strip, NULL);
    else
        rc = vips_pngsave_buffer(in, &buf, &len, "compression", PNG_LEVEL,
                                 "strip", strip, NULL);
    if (rc)
        return vips_fail(f == FMT_JPEG ? "jpegsave" : "pngsave");
    b->data = buf;
    b->len = len;
    b->width = vips_image_get_width(in);
    b->height = vips_image_get_height(in);
    b->mime = f == FMT_JPEG ? "image/jpeg" : "image/png";
    return 0;
}

/* The size that fits side x side, never enlarged. */
static void
fit(int w, int h, int side, int *ow, int *oh)
{
    int longest = w > h ? w : h;

    *ow = w;
    *oh = h;
    if (longest <= side)
        return;
    *ow = (int)lround((double)w * side / longest);
    *oh = (int)lround((double)h * side / longest);
    *ow = *ow < 1 ? 1 : *ow;
    *oh = *oh < 1 ? 1 : *oh;
}

/*
 * The canvas reduced (lanczos) to w x h when that is smaller, so render
 * never samples it sparsely; else the canvas itself.
 */
static int
source_for(VipsObject *ctx, VipsImage *canvas, int w, int h,
           VipsImage **out)
{
    VipsImage **t = slots(ctx, 2);
    int cw = vips_image_get_width(canvas);
    int ch = vips_image_get_height(canvas);

    *out = canvas;
    if (w >= cw && h >= ch)
        return 0;
    if (vips_resize(canvas, &t[0], (double)w / cw, "vscale",
                    (double)h / ch, NULL))
        return vips_fail("resize");
    t[1] = vips_image_copy_memory(t[0]);
    if (!t[1])
        return vips_fail("resize");
    *out = t[1];
    return 0;
}

/*
 * A derivative pair that fits side x side: the original's and the
 * cut-out's (over a checkerboard), both JPEG.
 */
static int
derive(VipsObject *ctx, VipsImage *canvas, int width, int height, int side,
       int seed, struct synth_blob *orig_b, struct synth_blob *cut_b)
{
    VipsImage *src = NULL, *orig = NULL, *cut = NULL;
    int w, h;

    fit(width, height, side, &w, &h);
    if (source_for(ctx, canvas, w, h, &src) ||
        render(ctx, src, w, h, GRAIN_FULL * w / width, CUT_CHECKER, seed,
               1.0, &orig, &cut) ||
        save(orig, FMT_JPEG, 1, orig_b) || save(cut, FMT_JPEG, 1, cut_b))
        return PD_ERR;
    return 0;
}

static int
make_pet(VipsObject *ctx, int variant, int width, int height,
         struct synth_pet *out)
{
    const struct look *lk = &looks[variant % SYNTH_LOOKS];
    struct parts p;
    struct frame fr;
    VipsImage *canvas = NULL, *orig = NULL, *cut = NULL;

    memset(&p, 0, sizeof(p));
    layout_body(&p, lk->sitting);
    layout_face(&p, lk);
    frame_setup(&fr, ctx, variant, width, height, p.scale);
    if (fr.mirror)
        mirror_parts(&p);
    if (frame_basis(&fr) || draw_canvas(&fr, lk, &p, &canvas) ||
        render(ctx, canvas, width, height, GRAIN_FULL, CUT_RGBA, variant,
               ORIGINAL_PPMM, &orig, &cut) ||
        save(orig, FMT_JPEG, 0, &out->original_jpeg) ||
        save(cut, FMT_PNG, 1, &out->cutout_png))
        return PD_ERR;
    if (derive(ctx, canvas, width, height, SYNTH_PREVIEW_SIDE, variant,
               &out->original_preview, &out->cutout_preview) ||
        derive(ctx, canvas, width, height, SYNTH_THUMB_SIDE, variant,
               &out->original_thumb, &out->cutout_thumb))
        return PD_ERR;
    return 0;
}

int
synth_make_pet(int variant, int width, int height, struct synth_pet *out)
{
    VipsImage *ctx = NULL;
    int rc;

    if (!out)
        return PD_EINVAL;
    memset(out, 0, sizeof(*out));
    if (variant < 0 || width < SYNTH_MIN_SIDE || width > SYNTH_MAX_SIDE ||
        height < SYNTH_MIN_SIDE || height > SYNTH_MAX_SIDE)
        return PD_EINVAL;
    if (synth_init())
        return PD_ERR;
    ctx = vips_image_new();
    rc = make_pet(VIPS_OBJECT(ctx), variant, width, height, out);
    g_object_unref(ctx);
    if (rc)
        synth_pet_free(out);
    return rc;
}

void
synth_pet_free(struct synth_pet *pet)
{
    if (!pet)
        return;
    g_free(pet->original_jpeg.data);
    g_free(pet->cutout_png.data);
    g_free(pet->original_thumb.data);
    g_free(pet->cutout_thumb.data);
    g_free(pet->original_preview.data);
    g_free(pet->cutout_preview.data);
    memset(pet, 0, sizeof(*pet));
}
