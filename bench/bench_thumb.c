/*
 * bench_thumb.c — what the upload pipeline's image work costs on a
 * 12-megapixel phone JPEG, on one thread: the thumbnail alone, thumbnail
 * plus 1600 px preview, and the inspection; beside Pillow's draft-mode
 * thumbnail of the same file. A measuring tool: it judges nothing.
 */
#include "common/err.h"
#include "common/util.h"
#include "images/images.h"
#include "obs/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUNS_MAX 10000
#define PHOTO_W 4000
#define PHOTO_H 3000
#define PHOTO_VARIANT 3
#define MAX_PIXELS 100000000
#define PILLOW_PYTHON "/usr/bin/python3"
#define VIPS_CLI "/usr/bin/vips"
#define PHOTO_Q 95

/* Pillow's reference: argv[1] file, argv[2] runs after one warm-up run.
 * Prints "MEDIAN_MS P90_MS CPU_MEDIAN_MS". */
static const char pillow_script[] =
    "import io, sys, time\n"
    "from PIL import Image\n"
    "path, n = sys.argv[1], int(sys.argv[2])\n"
    "wall, cpu = [], []\n"
    "for i in range(n + 1):\n"
    "    t0, c0 = time.perf_counter(), time.process_time()\n"
    "    im = Image.open(path)\n"
    "    im.draft('RGB', (300, 300))\n"
    "    im.thumbnail((300, 300))\n"
    "    im.save(io.BytesIO(), 'JPEG', quality=85)\n"
    "    if i:\n"
    "        wall.append(time.perf_counter() - t0)\n"
    "        cpu.append(time.process_time() - c0)\n"
    "wall.sort(); cpu.sort()\n"
    "print('%.2f %.2f %.2f' % (wall[n // 2] * 1e3,\n"
    "      wall[min(n - 1, n * 9 // 10)] * 1e3, cpu[n // 2] * 1e3))\n";

/* Median, p90 wall time and median CPU time of one operation, in ms. */
struct figures {
    double median, p90, cpu;
};

enum op { OP_THUMB, OP_THUMB_PREVIEW, OP_INSPECT, OP_INSPECT_HEADER, OPS };

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* CPU time of every thread of the process (libvips's workers too). */
static double
cpu_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Writes len bytes of data to path, replacing it. */
static int
write_file(const char *path, const unsigned char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    int rc = PD_OK;

    if (f == NULL)
        return PD_EIO;
    if (fwrite(data, 1, len, f) != len)
        rc = PD_EIO;
    if (fclose(f) != 0)
        rc = PD_EIO;
    return rc;
}

/*
 * Runs argv (a full path in argv[0]) and keeps the start of its output in
 * out (len bytes, terminated); its stderr goes to /dev/null. PD_OK when
 * it exits 0, else PD_EUNAVAIL.
 */
static int
run_child(char *const argv[], char *out, size_t len)
{
    int fds[2], status = 0;
    ssize_t n = 0, got;
    pid_t pid;

    fflush(stdout);
    if (pipe(fds) != 0)
        return PD_EIO;
    pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);

        close(fds[0]);
        if (dup2(fds[1], STDOUT_FILENO) < 0 || null < 0 ||
            dup2(null, STDERR_FILENO) < 0)
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    while (pid > 0 && (size_t)n < len - 1 &&
           (got = read(fds[0], out + n, len - 1 - (size_t)n)) > 0)
        n += got;
    out[n] = '\0';
    close(fds[0]);
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return PD_EUNAVAIL;
    return PD_OK;
}

/*
 * A phone camera's JPEG is quality 92-95 with 4:2:0 chroma, 3-6 MB at
 * 12 MP; the demo pet is quality 85 (2.5 MB), so the vips tool re-encodes
 * it. Without the tool the quality-85 file is used. Replaces path.
 */
static int
phone_quality(const char *q85, const char *path)
{
    char target[PATH_MAX + 32], out[64];
    char *argv[] = {VIPS_CLI, "copy", (char *)q85, target, NULL};

    if ((size_t)snprintf(target, sizeof(target), "%s[Q=%d,subsample-mode=on]",
                         path, PHOTO_Q) >= sizeof(target))
        return PD_EINVAL;
    if (run_child(argv, out, sizeof(out)) == PD_OK)
        return unlink(q85) == 0 ? PD_OK : PD_EIO;
    fprintf(stderr, "bench_thumb: %s failed; using the quality-85 file\n",
            VIPS_CLI);
    return rename(q85, path) == 0 ? PD_OK : PD_EIO;
}

/* The demo pet at 4000 x 3000 as a phone JPEG at path. */
static int
make_photo(const struct images_api *img, const char *path)
{
    struct synth_pet pet = {0};
    char q85[PATH_MAX];
    struct stat st;
    int rc;

    if ((size_t)snprintf(q85, sizeof(q85), "%s.q85.jpg", path) >=
        sizeof(q85))
        return PD_EINVAL;
    rc = img->make_demo_pet(PHOTO_VARIANT, PHOTO_W, PHOTO_H, &pet);
    if (rc != PD_OK) {
        fprintf(stderr, "bench_thumb: cannot draw the photo: %s\n",
                pd_err_str(rc));
        return rc;
    }
    rc = write_file(q85, pet.original_jpeg.data, pet.original_jpeg.len);
    img->free_demo_pet(&pet);
    if (rc == PD_OK)
        rc = phone_quality(q85, path);
    if (rc == PD_OK && stat(path, &st) != 0)
        rc = PD_EIO;
    if (rc != PD_OK)
        fprintf(stderr, "bench_thumb: cannot write %s\n", path);
    else
        printf("# photo: %s, %dx%d JPEG 4:2:0, %.2f MB\n", path, PHOTO_W,
               PHOTO_H, (double)st.st_size / 1e6);
    return rc;
}

/* One operation on path; 0 or the module's error (printed). */
static int
run_op(const struct images_api *img, enum op op, const char *path)
{
    struct image_derived d = {0};
    struct image_info info;
    char reason[256];
    int rc;

    if (op == OP_INSPECT) {
        rc = img->inspect(path, MAX_PIXELS, &info, reason, sizeof(reason));
    } else if (op == OP_INSPECT_HEADER) {
        rc = img->inspect_header(path, MAX_PIXELS, &info, reason,
                                 sizeof(reason));
    } else {
        rc = img->derive(path, 300, op == OP_THUMB ? 300 : 1600, &d,
                         reason, sizeof(reason));
        img->free_derived(&d);
    }
    if (rc != 0)
        fprintf(stderr, "bench_thumb: %s (%d)\n", reason, rc);
    return rc;
}

/* Times op runs times after one warm-up run; fills *out. */
static int
time_op(const struct images_api *img, enum op op, const char *path,
        int runs, struct figures *out)
{
    double *wall = calloc((size_t)runs, sizeof(*wall));
    double *cpu = calloc((size_t)runs, sizeof(*cpu));
    int rc = wall != NULL && cpu != NULL ? PD_OK : PD_ENOMEM;

    if (rc == PD_OK)
        rc = run_op(img, op, path);
    for (int i = 0; i < runs && rc == PD_OK; i++) {
        int64_t t0 = pd_mono_ns();
        double c0 = cpu_ms();

        rc = run_op(img, op, path);
        wall[i] = (double)(pd_mono_ns() - t0) / 1e6;
        cpu[i] = cpu_ms() - c0;
    }
    if (rc == PD_OK) {
        qsort(wall, (size_t)runs, sizeof(*wall), cmp_double);
        qsort(cpu, (size_t)runs, sizeof(*cpu), cmp_double);
        out->median = wall[runs / 2];
        out->p90 = wall[runs * 9 / 10 < runs ? runs * 9 / 10 : runs - 1];
        out->cpu = cpu[runs / 2];
    }
    free(wall);
    free(cpu);
    return rc;
}

/* Pillow's figures for path; PD_EUNAVAIL when it cannot run. */
static int
time_pillow(const char *path, int runs, struct figures *out)
{
    char arg[16], line[128];
    char *argv[] = {PILLOW_PYTHON, "-c", (char *)pillow_script,
                    (char *)path, arg, NULL};

    snprintf(arg, sizeof(arg), "%d", runs);
    if (run_child(argv, line, sizeof(line)) != PD_OK ||
        sscanf(line, "%lf %lf %lf", &out->median, &out->p90, &out->cpu) != 3)
        return PD_EUNAVAIL;
    return PD_OK;
}

static void
print_line(const char *name, const struct figures *f, const char *tail)
{
    printf("%s: median %.1f ms, p90 %.1f ms, cpu %.1f ms%s\n", name,
           f->median, f->p90, f->cpu, tail);
}

/* The three timings of the module, then Pillow's beside the first. */
static int
bench(const struct images_api *img, const char *path, int runs)
{
    static const char *const names[OPS] = {
        "thumb_300", "thumb_300_preview_1600", "inspect",
        "inspect_header"};
    static const char *const tails[OPS] = {
        "", " (derive(300, 1600), what an upload pays)",
        " (header + full decode check)",
        " (header and pixel limit; the upload path, before derive)"};
    struct figures f[OPS], pil;
    char tail[200];
    int rc = PD_OK, prc;

    for (int op = 0; op < OPS && rc == PD_OK; op++)
        rc = time_op(img, (enum op)op, path, runs, &f[op]);
    if (rc != PD_OK)
        return rc;
    prc = time_pillow(path, runs, &pil);
    if (prc == PD_OK)
        snprintf(tail, sizeof(tail), " (Pillow draft+thumbnail: median "
                 "%.1f ms, p90 %.1f ms, cpu %.1f ms; target <= Pillow)",
                 pil.median, pil.p90, pil.cpu);
    else
        snprintf(tail, sizeof(tail), " (Pillow: could not run %s with "
                 "PIL; target <= Pillow, about 36 ms)", PILLOW_PYTHON);
    print_line(names[0], &f[0], tail);
    for (int op = 1; op < OPS; op++)
        print_line(names[op], &f[op], tails[op]);
    if (prc == PD_OK)
        printf("thumb_300_share_of_pillow: %.0f%% (wall medians; "
               "target <= 100%%)\n", 100.0 * f[0].median / pil.median);
    return PD_OK;
}

int
main(int argc, char **argv)
{
    const struct images_api *img = NULL;
    bool make_only = argc == 3 && strcmp(argv[1], "--make") == 0;
    int64_t runs = 30;
    int rc;

    if (argc < 2 || argc > 3 || (!make_only && argc == 3 &&
        pd_parse_i64(argv[2], 1, RUNS_MAX, &runs) != PD_OK)) {
        fprintf(stderr, "usage: bench_thumb PHOTO [RUNS]\n"
                "       bench_thumb --make PHOTO\n");
        return 2;
    }
    log_setup(LOG_WARNING, false);
    /* One thread, as the Pillow figure; the caller may widen it. */
    setenv("VIPS_CONCURRENCY", "1", 0);
    setenv("PRINTDESK_IMAGES_MODULE", BENCH_IMAGES_MODULE, 0);
    if (images_load(&img) != PD_OK) {
        fprintf(stderr, "bench_thumb: no image module\n");
        return 1;
    }
    rc = make_photo(img, argv[make_only ? 2 : 1]);
    if (rc == PD_OK && !make_only) {
        printf("# %d runs each after one warm-up, VIPS_CONCURRENCY=%s\n",
               (int)runs, getenv("VIPS_CONCURRENCY"));
        rc = bench(img, argv[1], (int)runs);
    }
    img->shutdown();
    return rc == PD_OK ? 0 : 1;
}
