/* Two builds of one model, timed alternately in one process (driven by benchmarks/ab.py).

   usage: ab_step DIR_A DIR_B ROUNDS STEPS

   Each DIR holds libmodel.so, params.f32 (the model's initial weights), x.f32 and y.f32 (one
   training batch) and shape.txt ("batch x_floats y_floats out_floats": per row of x and y, and
   the loss and metric values seqc_train writes per batch). Both libraries are loaded
   (RTLD_LOCAL: their symbols stay apart), each model gets its weights and trains on the batch
   once untimed; then ROUNDS times STEPS calls of each one's seqc_train on the batch, A first in
   even rounds, B first in odd ones. The host's speed drifts over seconds; alternating in one process puts A and B under the
   same drift. Prints the mean and the best per-step time of each, and B / A for both. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef void *(*create_fn)(void);
typedef int (*reserve_fn)(void *, int);
typedef int (*train_fn)(void *, const float *, const float *, const int *, long, int, float *);
typedef float *(*params_fn)(void *);
typedef long (*num_params_fn)(void);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* n floats from DIR/name into a new array; exits on a short file */
static float *read_floats(const char *dir, const char *name, long n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    float *a = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (!f || !a || fread(a, sizeof(float), (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "ab_step: cannot read %ld floats from %s\n", n, path);
        exit(2);
    }
    fclose(f);
    return a;
}

typedef struct {
    void *m;
    train_fn train;
    float *x, *y, *out;
    int batch;
} side;

static void load(side *s, const char *dir)
{
    char path[4096];
    long xn, yn, outn;
    snprintf(path, sizeof path, "%s/shape.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f || fscanf(f, "%d %ld %ld %ld", &s->batch, &xn, &yn, &outn) != 4) {
        fprintf(stderr, "ab_step: cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/libmodel.so", dir);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "ab_step: %s\n", dlerror());
        exit(2);
    }
    s->m = ((create_fn)dlsym(h, "seqc_create"))();
    if (!s->m || ((reserve_fn)dlsym(h, "seqc_reserve"))(s->m, s->batch) != 0) {
        fprintf(stderr, "ab_step: cannot create the model of %s\n", dir);
        exit(2);
    }
    const long np = ((num_params_fn)dlsym(h, "seqc_num_params"))();
    float *w = read_floats(dir, "params.f32", np), *p = ((params_fn)dlsym(h, "seqc_params"))(s->m);
    for (long i = 0; i < np; i++) p[i] = w[i];
    free(w);
    s->x = read_floats(dir, "x.f32", (long)s->batch * xn);
    s->y = read_floats(dir, "y.f32", (long)s->batch * yn);
    s->out = malloc(sizeof(float) * (size_t)(outn > 0 ? outn : 1));
    s->train = (train_fn)dlsym(h, "seqc_train");
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: ab_step DIR_A DIR_B ROUNDS STEPS\n");
        return 2;
    }
    side s[2];
    load(&s[0], argv[1]);
    load(&s[1], argv[2]);
    const int rounds = atoi(argv[3]), steps = atoi(argv[4]);
    for (int v = 0; v < 2; v++)
        s[v].train(s[v].m, s[v].x, s[v].y, NULL, s[v].batch, s[v].batch, s[v].out);
    double total[2] = {0, 0}, best[2] = {1e30, 1e30};
    for (int r = 0; r < rounds; r++)
        for (int o = 0; o < 2; o++) {
            const int v = (r % 2) ? 1 - o : o;   /* A B, B A, A B, ...: whichever runs second in a
                                                    round measured 2-3% slower (an A/A run showed it) */
            const double t0 = now();
            for (int k = 0; k < steps; k++)
                s[v].train(s[v].m, s[v].x, s[v].y, NULL, s[v].batch, s[v].batch, s[v].out);
            const double t = (now() - t0) / steps;
            total[v] += t;
            if (t < best[v]) best[v] = t;
        }
    printf("A: mean %.6f ms, best %.6f ms per step\n", 1e3 * total[0] / rounds, 1e3 * best[0]);
    printf("B: mean %.6f ms, best %.6f ms per step\n", 1e3 * total[1] / rounds, 1e3 * best[1]);
    printf("B / A: mean %.3f, best %.3f\n", total[1] / total[0], best[1] / best[0]);
    return 0;
}
