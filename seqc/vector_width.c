/* vector_width.c: which SIMD width pays on this CPU, measured (seqc/vectorwidth.py builds and
 * runs it once per host and caches the answer).
 *
 * On x86-64 with AVX-512, gcc's -march=native tunes for 256-bit vectors on most Intel cores
 * (where 512-bit instructions can lower the clock), but a core with two 512-bit FMA units does
 * twice the work per cycle with them; a Zen4 core runs 512-bit instructions on 256-bit units
 * at the same peak (and trains faster with them: fewer instructions, see vectorwidth.py). What
 * matters is whether the core slows down on 512-bit vectors. The answer is a measurement: one
 * thread runs CHAINS independent fused-multiply-add chains on 256-bit and on 512-bit vectors
 * (gcc vector extensions, so both widths are in one binary), alternating, and prints the best
 * GFLOP/s of each, timed in this thread's CPU time so that a busy machine does not skew it.
 *
 * Build:  cc -O2 -march=native -ffp-contract=fast vector_width.c -o vector_width
 * Output: "gflops256=<x> gflops512=<y>"
 */
#include <stdio.h>
#include <time.h>

#define CHAINS 12

typedef float v8 __attribute__((vector_size(32)));
typedef float v16 __attribute__((vector_size(64)));

static volatile float g_mul = 0.99999f, g_add = 0.00001f;
static volatile float g_sink;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: other processes do not count */
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Seconds for `iters` rounds of CHAINS independent FMAs on vectors of type T. */
#define CHAIN_KERNEL(name, T, LANES)                                          \
    static double name(long iters) {                                          \
        const T zero = {0};                                                   \
        T m = zero + g_mul, a = zero + g_add, acc[CHAINS];                    \
        for (int c = 0; c < CHAINS; c++) acc[c] = zero + 1.0f + 0.01f * c;    \
        double t0 = now();                                                    \
        for (long i = 0; i < iters; i++) {                                    \
            _Pragma("GCC unroll 12")                                          \
            for (int c = 0; c < CHAINS; c++) acc[c] = acc[c] * m + a;         \
        }                                                                     \
        double dt = now() - t0;                                               \
        T s = acc[0];                                                         \
        for (int c = 1; c < CHAINS; c++) s += acc[c];                         \
        float t = 0.0f;                                                       \
        for (int l = 0; l < LANES; l++) t += s[l];                            \
        g_sink = t;                                                           \
        return dt;                                                            \
    }

CHAIN_KERNEL(run256, v8, 8)
CHAIN_KERNEL(run512, v16, 16)

int main(void) {
    long iters = 1L << 14;
    while (run256(iters) < 0.005) iters *= 2; /* ~5 ms per measurement */
    double best256 = 0.0, best512 = 0.0;
    for (int trial = 0; trial < 5; trial++) {
        double g256 = 2.0 * 8 * CHAINS * (double)iters / run256(iters) * 1e-9;
        double g512 = 2.0 * 16 * CHAINS * (double)iters / run512(iters) * 1e-9;
        if (g256 > best256) best256 = g256;
        if (g512 > best512) best512 = g512;
    }
    printf("gflops256=%.2f gflops512=%.2f\n", best256, best512);
    return 0;
}
