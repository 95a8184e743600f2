/* fma_probe.c: measure this machine's FP32 fused-multiply-add peak (GFLOP/s).
 *
 * Each thread runs CHAINS independent chains  acc[c] = acc[c] * m + a  on vectors of the
 * widest width the target has (gcc vector extensions, no intrinsics). Independent chains
 * hide the FMA latency, so the loop is bound by FMA throughput; with -ffp-contract=fast
 * every `acc * m + a` becomes one vfmadd. One FMA on L lanes counts as 2*L flops.
 *
 * Build:  gcc -O3 -march=native -fopenmp -ffp-contract=fast fma_probe.c -o fma_probe
 *         (add -DVECTOR_BITS=256 to measure a narrower width than the widest the target has)
 * Usage:  fma_probe THREADS [SECONDS]     prints one line of key=value pairs
 *
 * The multiplier is slightly below 1 and the addend keeps the fixed point at 1.0, so the
 * values never overflow nor become subnormal (subnormals would run on a slow path).
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(VECTOR_BITS)            /* -DVECTOR_BITS=256: the width seqc's kernels were built for */
#define VBYTES (VECTOR_BITS / 8)
#define CHAINS (VECTOR_BITS >= 512 ? 16 : 10)
#elif defined(__AVX512F__)
#define VBYTES 64
#define CHAINS 16 /* 32 zmm registers; covers latency 4 x 2 pipes with margin */
#elif defined(__AVX__)
#define VBYTES 32
#define CHAINS 10 /* 16 ymm registers: 10 accumulators + m + a, no spills */
#else
#define VBYTES 16
#define CHAINS 10
#endif
#define LANES (VBYTES / (int)sizeof(float))

typedef float vf __attribute__((vector_size(VBYTES)));

static volatile float g_mul = 0.99999f, g_add = 0.00001f;
static volatile float g_sink;

static void chains(long iters) {
    const vf zero = {0};
    const float mul = g_mul, add = g_add; /* volatile: not known at compile time */
    vf m = zero + mul, a = zero + add, acc[CHAINS];
    for (int c = 0; c < CHAINS; c++)
        for (int l = 0; l < LANES; l++) acc[c][l] = 1.0f + 0.001f * (float)(c * LANES + l);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 16
        for (int c = 0; c < CHAINS; c++) acc[c] = acc[c] * m + a;
    }
    vf s = acc[0];
    for (int c = 1; c < CHAINS; c++) s += acc[c];
    float t = 0.0f;
    for (int l = 0; l < LANES; l++) t += s[l];
    g_sink = t;
}

/* Wall time of all `threads` threads each running `iters` iterations. */
static double timed(int threads, long iters) {
    double t0 = omp_get_wtime();
#pragma omp parallel num_threads(threads)
    chains(iters);
    return omp_get_wtime() - t0;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    double target = argc > 2 ? atof(argv[2]) : 0.25;
    if (threads < 1) threads = 1;
    /* warm up (thread pool, clock ramp) and calibrate the iteration count */
    long iters = 1L << 16;
    double dt = timed(threads, iters);
    while (dt < 0.02) {
        iters *= 2;
        dt = timed(threads, iters);
    }
    iters = (long)(iters * target / dt) + 1;
    double best = 0.0;
    for (int trial = 0; trial < 5; trial++) {
        dt = timed(threads, iters);
        double gflops = 2.0 * LANES * CHAINS * (double)iters * threads / dt * 1e-9;
        if (gflops > best) best = gflops;
    }
    printf("threads=%d gflops=%.2f lanes=%d chains=%d vector_bits=%d iters=%ld\n", threads, best, LANES,
           CHAINS, VBYTES * 8, iters);
    return 0;
}
