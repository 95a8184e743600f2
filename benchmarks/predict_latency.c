/* predict_latency.c: the bare C cost of one seqc_predict call, no Python in the loop.
 *
 * Loads a seqc-generated model library (the libNAME.so a seqc model runs on) with dlopen,
 * creates a model, loads its parameters, and times `seqc_predict(m, x, BATCH, BATCH, out)` one
 * call at a time with clock_gettime(CLOCK_MONOTONIC) (the clock reads, ~20 ns, are inside each
 * timing). Prints one line of key=value pairs: the median, the 10th and 90th percentiles
 * (nanoseconds) and the number of calls timed.
 *
 * Build:  cc -O2 predict_latency.c -o predict_latency -ldl
 * Usage:  predict_latency LIB IN_SIZE OUT_SIZE BATCH CALLS PARAMS.bin [X.bin]
 *         PARAMS.bin: seqc_num_params() float32 values (the model's flat parameters, as the
 *         Python model's engine holds them); X.bin: BATCH * IN_SIZE float32 inputs (default:
 *         a fixed pseudo-random pattern). The model's threads come from OMP_NUM_THREADS, as in
 *         Python. benchmarks/run.py builds and runs it for the "predict batch 1" line.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef void *(*create_fn)(void);
typedef int (*reserve_fn)(void *, int);
typedef long (*num_params_fn)(void);
typedef float *(*params_fn)(void *);
typedef int (*predict_fn)(void *, const float *, long, int, float *);

static void *sym(void *lib, const char *name)
{
    void *p = dlsym(lib, name);
    if (!p) {
        fprintf(stderr, "predict_latency: %s not found: %s\n", name, dlerror());
        exit(2);
    }
    return p;
}

static long read_floats(const char *path, float *dst, long n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    long got = (long)fread(dst, sizeof(float), (size_t)n, f);
    fclose(f);
    return got;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: %s LIB IN_SIZE OUT_SIZE BATCH CALLS PARAMS.bin [X.bin]\n", argv[0]);
        return 2;
    }
    const long in_size = atol(argv[2]), out_size = atol(argv[3]);
    const int batch = atoi(argv[4]);
    const long calls = atol(argv[5]);
    if (in_size < 1 || out_size < 1 || batch < 1 || calls < 1) {
        fprintf(stderr, "predict_latency: IN_SIZE, OUT_SIZE, BATCH and CALLS must be positive\n");
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "predict_latency: %s\n", dlerror());
        return 2;
    }
    create_fn create = (create_fn)sym(lib, "seqc_create");
    reserve_fn reserve = (reserve_fn)sym(lib, "seqc_reserve");
    num_params_fn num_params = (num_params_fn)sym(lib, "seqc_num_params");
    params_fn params = (params_fn)sym(lib, "seqc_params");
    predict_fn predict = (predict_fn)sym(lib, "seqc_predict");

    void *m = create();
    if (!m || reserve(m, batch) != 0) {
        fprintf(stderr, "predict_latency: cannot create the model\n");
        return 2;
    }
    const long np = num_params();
    if (read_floats(argv[6], params(m), np) != np) {
        fprintf(stderr, "predict_latency: %s holds fewer than %ld floats\n", argv[6], np);
        return 2;
    }
    float *x = malloc(sizeof(float) * (size_t)(in_size * batch));
    float *out = malloc(sizeof(float) * (size_t)(out_size * batch));
    long *t = malloc(sizeof(long) * (size_t)calls);
    if (!x || !out || !t) return 2;
    if (argc > 7) {
        if (read_floats(argv[7], x, in_size * batch) != in_size * batch) {
            fprintf(stderr, "predict_latency: %s holds fewer than %ld floats\n", argv[7], in_size * batch);
            return 2;
        }
    } else {
        for (long i = 0; i < in_size * batch; i++) x[i] = (float)((i * 7919) % 1000) / 1000.f;
    }

    for (long i = 0; i < calls / 10 + 10; i++)   /* warm-up: caches, threads, frequency */
        if (predict(m, x, batch, batch, out) != 0) {
            fprintf(stderr, "predict_latency: seqc_predict failed\n");
            return 2;
        }
    for (long i = 0; i < calls; i++) {
        const long t0 = now_ns();
        predict(m, x, batch, batch, out);
        t[i] = now_ns() - t0;
    }
    qsort(t, (size_t)calls, sizeof(long), cmp_long);
    printf("median_ns=%ld p10_ns=%ld p90_ns=%ld calls=%ld out0=%.6g\n", t[calls / 2], t[calls / 10],
           t[calls * 9 / 10], calls, (double)out[0]);
    return 0;
}
