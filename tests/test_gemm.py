"""The GEMM template (seqc/templates/gemm.c.j2) against numpy (float64) and its own naive kernel.

A small C harness renders the shared part (packing, micro-kernel, the `gemm` driver and, with
reference_gemm, gemm_naive) and several call-site wrappers (`wrapper` macro), the way
seqc/templates/dense.c.j2 uses them:

* runtime-shaped wrappers (M, N, K parameters, the four strides read from harness globals), so
  one library covers every shape and operand layout: plain (threads only above
  GEMM_PARALLEL_MIN), threaded whatever the size, with a bias + relu epilogue, with B read in place;
* compile-time-shaped wrappers in exactly dense.c.j2's three forms (x.W with bias, saved
  pre-activation and relu, W read in place for small batches; x^T.dz; dz.W^T), specialised on
  constant K and N, for an N that is not a multiple of GEMM_NR and one that is.

Two builds: the blocking seqc uses for this machine (codegen's gemm context), and a
"small tiles" build (4-float vectors, KC=64, MC=12) in which modest shapes already cross
every block boundary (several K blocks, several row blocks, several NC column blocks).
The error bound is the classical one for a K-term float32 dot product,
|C - C64| <= 2 K u (|A| |B|), u = 2^-24, whatever the summation order.
"""
import itertools
import os
import subprocess

import cffi
import numpy as np
import pytest

from seqc import build, codegen

SIZES = [1, 5, 6, 7, 31, 32, 33, 100, 257, 300]
U = 2.0 ** -24
MAX_THREADS = 4

CDEF = """
void t_set_threads(int n);
int t_omp(void);
void t_gemm(int which, int M, int N, int K, const float *A, long ars, long acs, const float *B, long brs, long bcs,
            float *C, const float *bias, float *pa, float *pb);
void t_naive(int M, int N, int K, const float *A, long ars, long acs, const float *B, long brs, long bcs, float *C);
void t_xw(int n, int M, const float *x, const float *W, const float *bias, float *y, float *z, float *pa, float *pb);
void t_xtdz(int n, int M, const float *x, const float *dz, float *dW, float *pa, float *pb);
void t_dzwt(int n, int M, const float *dz, const float *W, float *dx, float *pa, float *pb);
"""

# the constant shapes of the dense-style wrappers: K inputs -> N outputs; 64 is a multiple of
# GEMM_NR in every build (8, 16, 32), so its x.W reads W in place for small M
DENSE_K, DENSE_NS = 300, (37, 64)


def native_ctx():
    """codegen.generate's GEMM context for the default flags."""
    return codegen.gemm_context(build.default_flags())


SMALL_CTX = dict(vec_floats=4, gemm_mr=6, gemm_nr=8, gemm_kc=64, gemm_mc=12, gemm_nc=16)


def harness_source(ctx):
    gemm = codegen._env.get_template("gemm.c.j2").make_module(vars=ctx)
    shared = codegen.render_gemm_shared(ctx, reference_gemm=True)
    strides = ("g_ars", "g_acs", "g_brs", "g_bcs")
    wrappers = [
        gemm.wrapper("g_plain", "M", "N", "K", *strides),
        gemm.wrapper("g_threaded", "M", "N", "K", *strides, threads="all"),
        gemm.wrapper("g_bias_relu", "M", "N", "K", *strides, bias=True, act="relu", threads="all"),
        # B read in place (no packing) where it is row-major and N a multiple of GEMM_NR
        gemm.wrapper("g_direct", "M", "N", "K", *strides, direct_b=True, threads="all"),
    ]
    for N in DENSE_NS:   # dense.c.j2's three call shapes, constant K and N
        K = DENSE_K
        wrappers += [
            gemm.wrapper(f"d{N}_xw", "M", N, K, K, 1, N, 1, bias=True, save_z=True, act="relu",
                         direct_b="M <= 2 * GEMM_MR"),
            gemm.wrapper(f"d{N}_xtdz", K, N, "M", 1, K, N, 1, direct_b=True),
            gemm.wrapper(f"d{N}_dzwt", "M", K, N, N, 1, 1, N),
        ]

    def dispatch(call):   # the dense wrapper for n outputs
        return "\n".join(f"    if (n == {N}) d{N}{call};" for N in DENSE_NS)
    return "\n".join([
        "#include <math.h>", "#include <stdint.h>", "#include <stdlib.h>", "#include <string.h>",
        "#ifdef _OPENMP", "#include <omp.h>", "#endif",
        "#ifndef SEQC_MAYBE_UNUSED", "#define SEQC_MAYBE_UNUSED __attribute__((unused))", "#endif",
        "static int seqc_threads = 2;",
        "static inline int seqc_thread_id(void)",
        "{",
        "#ifdef _OPENMP",
        "    return omp_get_thread_num();",
        "#else",
        "    return 0;",
        "#endif",
        "}",
        "static inline int seqc_team_size(void)",
        "{",
        "#ifdef _OPENMP",
        "    return omp_get_num_threads();",
        "#else",
        "    return 1;",
        "#endif",
        "}",
        "static long g_ars, g_acs, g_brs, g_bcs;",
        codegen.render("activations.c.j2", used={"relu"}),
        str(shared),
        *map(str, wrappers),
        """
void t_set_threads(int n) { seqc_threads = n; }
int t_omp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}
void t_gemm(int which, int M, int N, int K, const float *A, long ars, long acs, const float *B, long brs, long bcs,
            float *C, const float *bias, float *pa, float *pb)
{
    g_ars = ars; g_acs = acs; g_brs = brs; g_bcs = bcs;
    if (which == 0) g_plain(M, N, K, A, B, C, pa, pb, seqc_threads);
    else if (which == 1) g_threaded(M, N, K, A, B, C, pa, pb, seqc_threads);
    else if (which == 3) g_direct(M, N, K, A, B, C, pa, pb, seqc_threads);
    else g_bias_relu(M, N, K, A, B, C, bias, pa, pb, seqc_threads);
}
void t_naive(int M, int N, int K, const float *A, long ars, long acs, const float *B, long brs, long bcs, float *C)
{
    gemm_naive(M, N, K, A, ars, acs, B, brs, bcs, C);
}
void t_xw(int n, int M, const float *x, const float *W, const float *bias, float *y, float *z, float *pa, float *pb)
{
""" + dispatch("_xw(M, x, W, y, bias, z, pa, pb, seqc_threads)") + """
}
void t_xtdz(int n, int M, const float *x, const float *dz, float *dW, float *pa, float *pb)
{
""" + dispatch("_xtdz(M, x, dz, dW, pa, pb, seqc_threads)") + """
}
void t_dzwt(int n, int M, const float *dz, const float *W, float *dx, float *pa, float *pb)
{
""" + dispatch("_dzwt(M, dz, W, dx, pa, pb, seqc_threads)") + """
}
"""])


class Harness:
    def __init__(self, ctx, tmpdir, tag):
        self.ctx = ctx
        src = os.path.join(tmpdir, f"gemm_{tag}.c")
        lib = os.path.join(tmpdir, f"libgemm_{tag}.so")
        with open(src, "w") as f:
            f.write(harness_source(ctx))
        cmd = [build.compiler(), *build.default_flags(), "-shared", "-o", lib, src, "-lm"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stderr}"
        self.warnings = r.stderr
        self.ffi = cffi.FFI()
        self.ffi.cdef(CDEF)
        self.lib = self.ffi.dlopen(lib)
        self.pack_a = np.zeros(MAX_THREADS * ctx["gemm_mc"] * ctx["gemm_kc"] + 64, np.float32)
        self.pack_b = np.zeros(ctx["gemm_kc"] * ctx["gemm_nc"] + 64, np.float32)

    def p(self, a):
        return self.ffi.NULL if a is None else self.ffi.cast("float *", a.ctypes.data)

    def gemm(self, A, B, transa=False, transb=False, which=0, threads=1, bias=None, naive=False, out=None):
        """C = op(A) . op(B) with op(A) (M,K), op(B) (K,N); A/B given as stored (transposed if trans)."""
        A = np.ascontiguousarray(A, np.float32)
        B = np.ascontiguousarray(B, np.float32)
        M, K = (A.shape[1], A.shape[0]) if transa else A.shape
        K2, N = (B.shape[1], B.shape[0]) if transb else B.shape
        assert K == K2
        ars, acs = (1, M) if transa else (K, 1)
        brs, bcs = (1, K) if transb else (N, 1)
        C = np.full((M, N), np.nan, np.float32) if out is None else out
        if naive:
            self.lib.t_naive(M, N, K, self.p(A), ars, acs, self.p(B), brs, bcs, self.p(C))
        else:
            self.lib.t_set_threads(threads)
            self.lib.t_gemm(which, M, N, K, self.p(A), ars, acs, self.p(B), brs, bcs, self.p(C), self.p(bias),
                            self.p(self.pack_a), self.p(self.pack_b))
        return C


@pytest.fixture(scope="module", params=["native", "small"])
def harness(request, tmp_path_factory):
    ctx = native_ctx() if request.param == "native" else SMALL_CTX
    return Harness(ctx, str(tmp_path_factory.mktemp(f"gemm_{request.param}")), request.param)


def _rand(rng, *shape):
    return rng.uniform(-1, 1, shape).astype(np.float32)


def _check(C, A64, B64, what):
    """|C - A.B| <= 2 K u (|A| |B|) + tiny, elementwise."""
    ref = A64 @ B64
    bound = 2 * A64.shape[1] * U * (np.abs(A64) @ np.abs(B64)) + 1e-30
    err = np.abs(C.astype(np.float64) - ref)
    assert np.all(np.isfinite(C)), f"{what}: non-finite values (unwritten output?)"
    worst = np.unravel_index(np.argmax(err / bound), err.shape)
    assert np.all(err <= bound), (f"{what}: error {err[worst]:.3g} at {worst} exceeds the float32 bound "
                                  f"{bound[worst]:.3g} (rel to 1e-4 K scale: {err.max() / (1e-4 * A64.shape[1]):.3g})")
    return float(err.max())


def test_harness_built_with_openmp(harness):
    if "-fopenmp" in build.default_flags():
        assert harness.lib.t_omp() == 1
    assert "warning" not in harness.warnings, harness.warnings


def test_all_shapes_plain(harness):
    """Every (M, N, K) in SIZES^3, row-major operands, one thread, vs numpy float64 and gemm_naive."""
    rng = np.random.default_rng(0)
    big_a = _rand(rng, 300, 300)
    big_b = _rand(rng, 300, 300)
    worst = 0.0
    for M, N, K in itertools.product(SIZES, SIZES, SIZES):
        A = np.ascontiguousarray(big_a[:M, :K])
        B = np.ascontiguousarray(big_b[:K, :N])
        C = harness.gemm(A, B)
        worst = max(worst, _check(C, A.astype(np.float64), B.astype(np.float64), f"plain M={M} N={N} K={K}"))
        if M * N * K <= 100_000 or (M, N, K) in ((257, 33, 300), (7, 300, 257)):
            A64, B64 = A.astype(np.float64), B.astype(np.float64)
            Cn = harness.gemm(A, B, naive=True)
            _check(Cn, A64, B64, f"naive M={M} N={N} K={K}")
            bound = 4 * K * U * (np.abs(A64) @ np.abs(B64))
            assert np.all(np.abs(C.astype(np.float64) - Cn) <= bound), f"fast vs gemm_naive M={M} N={N} K={K}"
    assert worst < 1e-4


TRANS_SHAPES = [(1, 1, 1), (5, 7, 6), (6, 32, 33), (7, 33, 31), (31, 5, 257), (33, 100, 7), (100, 31, 300),
                (257, 6, 32), (300, 257, 5), (32, 300, 100), (257, 300, 300)]


@pytest.mark.parametrize("transa,transb", [(False, True), (True, False), (True, True)])
def test_transposed_operands(harness, transa, transb):
    rng = np.random.default_rng(1)
    for M, N, K in TRANS_SHAPES:
        A = _rand(rng, M, K)
        B = _rand(rng, K, N)
        C = harness.gemm(A.T.copy() if transa else A, B.T.copy() if transb else B, transa=transa, transb=transb)
        _check(C, A.astype(np.float64), B.astype(np.float64), f"transa={transa} transb={transb} M={M} N={N} K={K}")
        Cp = harness.gemm(A, B)
        np.testing.assert_array_equal(C, Cp, err_msg="the layout of an operand changed the result")


@pytest.mark.parametrize("threads", [1, 2])
def test_direct_b_reads_b_in_place(harness, threads):
    """direct_b: B row-major and N a multiple of GEMM_NR is read in place, never packed (the
    packing buffer is poisoned with NaN); other layouts fall back to packing. Same result."""
    nr = harness.ctx["gemm_nr"]
    rng = np.random.default_rng(4)
    for M, K in ((1, 1), (5, 7), (33, 300), (257, 65), (7, 600)):
        for N in (nr, 3 * nr, nr * (harness.ctx["gemm_nc"] // nr + 1), 5):
            A, B = _rand(rng, M, K), _rand(rng, K, N)
            harness.pack_b[:] = np.nan
            C = harness.gemm(A, B, which=3, threads=threads)
            if N % nr == 0:
                assert np.isnan(harness.pack_b).all()
            _check(C, A.astype(np.float64), B.astype(np.float64), f"direct M={M} N={N} K={K}")
            np.testing.assert_array_equal(C, harness.gemm(A, B, which=1, threads=threads))
            Ct = harness.gemm(A, B.T.copy(), transb=True, which=3, threads=threads)   # packed: B not row-major
            np.testing.assert_array_equal(C, Ct)


THREAD_SHAPES = [(1, 1, 1), (5, 300, 7), (6, 33, 257), (7, 7, 7), (13, 300, 300), (31, 32, 33), (100, 100, 100),
                 (257, 31, 300), (300, 5, 257), (300, 300, 300)]


@pytest.mark.parametrize("threads", [2, 3])
def test_threads_give_identical_results(harness, threads):
    """The parallel partition must not change any element (each is summed in the same k order)."""
    rng = np.random.default_rng(2)
    for (M, N, K), (ta, tb) in itertools.product(THREAD_SHAPES, [(False, False), (True, True)]):
        A = _rand(rng, M, K)
        B = _rand(rng, K, N)
        Aa, Bb = (A.T.copy() if ta else A), (B.T.copy() if tb else B)
        C1 = harness.gemm(Aa, Bb, ta, tb, which=1, threads=1)
        Ct = harness.gemm(Aa, Bb, ta, tb, which=1, threads=threads)
        _check(Ct, A.astype(np.float64), B.astype(np.float64), f"{threads} threads M={M} N={N} K={K}")
        np.testing.assert_array_equal(C1, Ct, err_msg=f"{threads} threads vs 1, M={M} N={N} K={K}")
        # the second thread really worked (its pack_a slot was used), nothing beyond the last slot
        slot = harness.ctx["gemm_mc"] * harness.ctx["gemm_kc"]
        if harness.lib.t_omp() and M >= 2 * harness.ctx["gemm_mr"] and M * K > 1:
            harness.pack_a[:] = 0
            harness.gemm(Aa, Bb, ta, tb, which=1, threads=threads)
            assert np.any(harness.pack_a[slot:2 * slot] != 0), f"no work on thread 1, M={M} N={N} K={K}"
            assert not np.any(harness.pack_a[threads * slot:] != 0), "pack_a written beyond the thread slots"
        # the default threshold driver, with threads available, agrees too
        Cd = harness.gemm(Aa, Bb, ta, tb, which=0, threads=threads)
        np.testing.assert_array_equal(C1, Cd)


@pytest.mark.parametrize("threads", [1, 2])
def test_bias_relu_epilogue_after_last_k_block(harness, threads):
    """The epilogue runs once, on the fully accumulated value (K spans several KC blocks)."""
    rng = np.random.default_rng(3)
    for M, N, K in [(1, 1, 1), (7, 33, 257), (31, 5, 300), (100, 32, 600), (257, 300, 33), (6, 257, 700)]:
        A = _rand(rng, M, K)
        B = _rand(rng, K, N)
        bias = _rand(rng, N)
        C = harness.gemm(A, B, which=2, threads=threads, bias=bias)
        A64, B64 = A.astype(np.float64), B.astype(np.float64)
        pre = A64 @ B64 + bias
        bound = 2 * (K + 1) * U * (np.abs(A64) @ np.abs(B64) + np.abs(bias)) + 1e-30
        want = np.maximum(pre, 0)
        assert np.all(np.abs(C - want) <= bound), f"bias+relu M={M} N={N} K={K} threads={threads}"
        assert np.all(C >= 0)
        # and transposed B with the epilogue
        Ct = harness.gemm(A, B.T.copy(), transb=True, which=2, threads=threads, bias=bias)
        np.testing.assert_array_equal(C, Ct)


def test_output_is_overwritten_not_accumulated(harness):
    """C's previous contents never leak in: the first K block stores, later ones add."""
    rng = np.random.default_rng(4)
    for M, N, K in [(5, 7, 6), (33, 31, 300), (100, 257, 513)]:
        A = _rand(rng, M, K)
        B = _rand(rng, K, N)
        junk = np.full((M, N), 1e6, np.float32)
        C = harness.gemm(A, B, out=junk)
        _check(C, A.astype(np.float64), B.astype(np.float64), f"preset output M={M} N={N} K={K}")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("N", DENSE_NS)
def test_dense_call_shapes(harness, threads, N):
    """dense.c.j2's forward x.W (+bias, saved z, relu), dW = x^T.dz and dx = dz.W^T, constant K, N.
    Where N is a multiple of GEMM_NR, x.W reads W in place for M <= 2 GEMM_MR and x^T.dz reads
    dz in place always (the packing buffer, poisoned with NaN, stays untouched)."""
    rng = np.random.default_rng(5)
    harness.lib.t_set_threads(threads)
    K = DENSE_K
    in_place = N % harness.ctx["gemm_nr"] == 0
    for M in [1, 6, 7, 12, 13, 64, 257]:
        x = _rand(rng, M, K)
        W = _rand(rng, K, N)
        b = _rand(rng, N)
        dz = _rand(rng, M, N)
        y = np.full((M, N), np.nan, np.float32)
        z = np.full((M, N), np.nan, np.float32)
        p = harness.p
        harness.pack_b[:] = np.nan
        harness.lib.t_xw(N, M, p(x), p(W), p(b), p(y), p(z), p(harness.pack_a), p(harness.pack_b))
        assert np.isnan(harness.pack_b).all() == (in_place and M <= 2 * harness.ctx["gemm_mr"]), f"x.W M={M}"
        x64, W64, dz64 = x.astype(np.float64), W.astype(np.float64), dz.astype(np.float64)
        pre = x64 @ W64 + b
        bound = 2 * (K + 1) * U * (np.abs(x64) @ np.abs(W64) + np.abs(b))
        assert np.all(np.abs(z - pre) <= bound), f"saved pre-activation, M={M}"
        np.testing.assert_array_equal(y, np.maximum(z, 0))
        dW = np.full((K, N), np.nan, np.float32)
        harness.pack_b[:] = np.nan
        harness.lib.t_xtdz(N, M, p(x), p(dz), p(dW), p(harness.pack_a), p(harness.pack_b))
        assert np.isnan(harness.pack_b).all() == in_place, f"x^T dz M={M}"
        _check(dW, x64.T, dz64, f"x^T dz M={M}")
        dx = np.full((M, K), np.nan, np.float32)
        harness.lib.t_dzwt(N, M, p(dz), p(W), p(dx), p(harness.pack_a), p(harness.pack_b))
        _check(dx, dz64, W64.T, f"dz W^T M={M}")


def test_threaded_model_matches_single_thread_and_numpy(request):
    """A model large enough for the threaded GEMM path (M*N*K >= GEMM_PARALLEL_MIN): its forward and
    gradients are bitwise identical with 1 and 2 threads, and the forward matches numpy."""
    from two_threads import rerun_with_two_threads
    if rerun_with_two_threads(request):
        return
    from seqc import keras
    model = keras.Sequential([keras.layers.Dense(300, activation="relu", input_shape=(257,), name="big0"),
                              keras.layers.Dense(33, name="big1")], name="gemm_threads_model")
    model.loc = None
    model.compile(optimizer="sgd", loss="mse")
    eng = model._runtime._engine
    # without OpenMP in the compiler the model runs on one thread, whatever it is asked: then the
    # two runs below are that one thread's, and the forward is still checked against numpy
    openmp = "-fopenmp" in build.default_flags()
    if openmp:
        assert eng.get_threads() >= 2, "tests run with OMP_NUM_THREADS=2 (conftest)"
    else:
        eng.set_threads(2)
        assert eng.get_threads() == 1
    rng = np.random.default_rng(6)
    ws = [rng.normal(0, 0.1, w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(ws)
    x = rng.uniform(-1, 1, (100, 257)).astype(np.float32)
    y = rng.normal(0, 1, (100, 33)).astype(np.float32)
    try:
        results = {}
        for n in (1, 2):
            eng.set_threads(n)
            results[n] = (eng.predict(x, 100), eng.gradients(x, y))
    finally:
        eng.set_threads(2)
    (p1, (l1, g1)), (p2, (l2, g2)) = results[1], results[2]
    np.testing.assert_array_equal(p1, p2)
    assert l1 == l2
    np.testing.assert_array_equal(g1, g2)
    x64 = x.astype(np.float64)
    h = np.maximum(x64 @ ws[0] + ws[1], 0)
    ref = h @ ws[2] + ws[3]
    np.testing.assert_allclose(p1, ref, rtol=1e-4, atol=1e-5)


def test_shared_part_renders_only_what_is_asked():
    """The convolution micro-kernels only with conv_kernels, gemm_naive only with reference_gemm;
    one driver either way."""
    import re
    ctx = native_ctx()
    plain = codegen.render_gemm_shared(ctx)
    assert not re.search(r"conv\w*\(", plain) and "gemm_naive" not in plain
    assert plain.count("void gemm(") == 1
    conv = codegen.render_gemm_shared(ctx, conv_kernels=True)
    for kernel in ("conv_micro(", "conv_dw_micro(", "conv_dw_micro_tail(", "conv_pad("):
        assert kernel in conv
    assert "gemm_naive" not in conv
    assert "gemm_naive(" in codegen.render_gemm_shared(ctx, reference_gemm=True)
