"""C activations (templates/activations.c.j2) against the NumPy references in
seqc/activations.py.  Needs gcc, numpy, jinja2 and cffi; not Keras or torch."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

try:
    import seqc.activations as A
except ImportError:  # pragma: no cover - before seqc is installed
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import seqc.activations as A

import cffi
import jinja2

TEMPLATE_DIR = os.path.join(os.path.dirname(A.__file__), "templates")

KERAS_STRINGS = [
    "relu", "leaky_relu", "relu6", "softmax", "celu", "elu", "selu",
    "softplus", "softsign", "squareplus", "soft_shrink", "sparse_plus", "silu",
    "gelu", "glu", "tanh", "tanh_shrink", "sigmoid", "sparse_sigmoid",
    "exponential", "hard_sigmoid", "hard_silu", "hard_tanh", "hard_shrink",
    "linear", "mish", "log_softmax", "log_sigmoid", "sparsemax",
]
ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}
ROWWISE = {"softmax", "log_softmax", "sparsemax", "glu"}
ELEMENTWISE = [n for n in KERAS_STRINGS if n not in ROWWISE]

CFLAGS = ["-O3", "-Wall", "-Wextra", "-std=c99"]

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not found")


def render(**kw):
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    return env.get_template("activations.c.j2").render(**kw)


def _wrappers():
    src, decl = [], []
    for name in ELEMENTWISE:
        f, g = A.c_forward(name), A.c_backward(name)
        src.append(
            f"void w_{name}_fwd(const float *x, float *y, int n)"
            f"{{ for (int i = 0; i < n; ++i) y[i] = {f}(x[i]); }}\n"
            f"void w_{name}_grad(const float *x, const float *y, float *g, int n)"
            f"{{ for (int i = 0; i < n; ++i) g[i] = {g}(x[i], y[i]); }}\n"
        )
        decl.append(
            f"void w_{name}_fwd(const float *x, float *y, int n);\n"
            f"void w_{name}_grad(const float *x, const float *y, float *g, int n);\n"
        )
    for name in sorted(ROWWISE):
        f, g = A.c_forward(name), A.c_backward(name)
        out = "n / 2" if name == "glu" else "n"
        src.append(
            f"void w_{name}_fwd(const float *x, float *y, int rows, int n)"
            f"{{ for (int r = 0; r < rows; ++r) {f}(x + r * n, y + r * ({out}), n); }}\n"
            f"void w_{name}_grad(const float *x, const float *y, const float *dy,"
            f" float *dx, int rows, int n)"
            f"{{ for (int r = 0; r < rows; ++r)"
            f" {g}(x + r * n, y + r * ({out}), dy + r * ({out}), dx + r * n, n); }}\n"
        )
        decl.append(
            f"void w_{name}_fwd(const float *x, float *y, int rows, int n);\n"
            f"void w_{name}_grad(const float *x, const float *y, const float *dy,"
            f" float *dx, int rows, int n);\n"
        )
    return "".join(src), "".join(decl)


def _gcc(args, cwd):
    r = subprocess.run(["gcc"] + args, cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stderr


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    d = tmp_path_factory.mktemp("act_c")
    src, decl = _wrappers()
    (d / "acts.c").write_text(render() + "\n/* test wrappers */\n" + src)
    stderr = _gcc(CFLAGS + ["-fPIC", "-shared", "-o", "libacts.so", "acts.c", "-lm"], d)
    assert "warning" not in stderr, stderr
    ffi = cffi.FFI()
    ffi.cdef(decl)
    return ffi, ffi.dlopen(str(d / "libacts.so"))


def _f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def c_fwd(lib, name, x):
    ffi, L = lib
    x = _f32(x)
    if name in ROWWISE:
        rows, n = x.shape
        y = np.zeros((rows, A.get(name).out_dim(n)), np.float32)
        getattr(L, f"w_{name}_fwd")(ffi.from_buffer("float[]", x),
                                    ffi.from_buffer("float[]", y), rows, n)
    else:
        y = np.zeros_like(x)
        getattr(L, f"w_{name}_fwd")(ffi.from_buffer("float[]", x),
                                    ffi.from_buffer("float[]", y), x.size)
    return y


def c_grad(lib, name, x, y):
    ffi, L = lib
    x, y = _f32(x), _f32(y)
    g = np.zeros_like(x)
    getattr(L, f"w_{name}_grad")(ffi.from_buffer("float[]", x), ffi.from_buffer("float[]", y),
                                 ffi.from_buffer("float[]", g), x.size)
    return g


def c_vjp(lib, name, x, y, dy):
    ffi, L = lib
    x, y, dy = _f32(x), _f32(y), _f32(dy)
    rows, n = x.shape
    dx = np.full_like(x, np.nan)
    getattr(L, f"w_{name}_grad")(ffi.from_buffer("float[]", x), ffi.from_buffer("float[]", y),
                                 ffi.from_buffer("float[]", dy), ffi.from_buffer("float[]", dx),
                                 rows, n)
    return dx


def grid():
    base = [0.0, 1e-30, 1e-7, 0.5, 1.0, 3.0, 6.0, 20.0,
            0.1, 0.25, 0.75, 1.5, 2.0, 2.9, 3.1, 5.9, 6.1, 10.0, 19.0, 21.0, 50.0, 88.0]
    vals = base + [-v for v in base]
    rng = np.random.default_rng(0)
    vals += list(rng.normal(0, 4, 400)) + list(rng.uniform(-1.2, 1.2, 100))
    return _f32(vals)


# ---------------------------------------------------------------- names

@pytest.mark.parametrize("name", KERAS_STRINGS + list(ALIASES))
def test_names_resolve(name):
    act = A.get(name)
    assert act.name == ALIASES.get(name, name)
    assert act.name in A.ACTIVATIONS
    assert act.kind == ("rowwise" if act.name in ROWWISE else "elementwise")
    assert act.grad_needs in ("x", "y", "xy")
    assert A.c_forward(name).startswith("act_" + act.name)
    assert A.c_backward(name).startswith("act_" + act.name)


def test_registry_is_exactly_keras():
    assert set(A.ACTIVATIONS) == set(KERAS_STRINGS)
    assert A.ALIASES == ALIASES
    assert A.get(None).name == "linear"
    assert A.get({"class_name": "function", "config": "relu"}).name == "relu"
    assert A.c_forward("softmax") == "act_softmax_row"
    assert A.c_backward("softmax") == "act_softmax_row_grad"
    assert A.c_forward("swish") == "act_silu"
    assert A.c_backward("hard_swish") == "act_hard_silu_grad"
    assert A.get("glu").out_dim(10) == 5
    assert A.get("relu").out_dim(10) == 10


@pytest.mark.parametrize("bad", ["threshold", "nope", "ReLU", "", 3])
def test_rejects(bad):
    with pytest.raises(ValueError) as e:
        A.get(bad)
    assert "relu" in str(e.value)  # lists valid names
    if bad == "threshold":
        assert "threshold" in str(e.value) and "default_value" in str(e.value)


# ---------------------------------------------------------------- template

def test_template_compiles_warning_free_alone(tmp_path):
    (tmp_path / "all.c").write_text(render())
    stderr = _gcc(CFLAGS + ["-Werror", "-c", "all.c", "-o", "all.o"], tmp_path)
    assert stderr.strip() == ""


def test_template_used_subset(tmp_path):
    text = render(used={"relu", "sparsemax"})
    assert "act_relu(" in text and "act_sparsemax_row(" in text
    assert "act_gelu" not in text and "act_softmax_row" not in text
    assert "act_relu(" in render(used=None) and "act_glu_row(" in render()
    (tmp_path / "sub.c").write_text(text)
    _gcc(CFLAGS + ["-Werror", "-c", "sub.c", "-o", "sub.o"], tmp_path)
    empty = render(used=set())
    assert "act_" not in empty.replace("seqc_act", "")


# ---------------------------------------------------------------- elementwise

@pytest.mark.parametrize("name", ELEMENTWISE)
def test_forward_elementwise(lib, name):
    act = A.get(name)
    x = grid()
    y = c_fwd(lib, name, x)
    ref32 = act.reference(x)
    assert ref32.dtype == np.float32
    np.testing.assert_allclose(y, ref32, rtol=1e-5, atol=1e-6)
    # and against the float64 formula (catches float32 mistakes shared by both)
    ref64 = act.reference(x.astype(np.float64))
    assert ref64.dtype == np.float64
    finite = np.isfinite(ref64) & (np.abs(ref64) < 1e30)
    np.testing.assert_allclose(y[finite], ref64[finite], rtol=1e-4, atol=1e-5)


def _away_from_kinks(x, kinks, h):
    ok = np.ones(x.shape, bool)
    for k in kinks:
        ok &= np.abs(x - k) > 4 * h
    return ok


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_backward_elementwise_fd(lib, name):
    act = A.get(name)
    x32 = grid()
    if name == "exponential":
        x32 = x32[x32 < 60]  # keep exp finite in float32
    y32 = c_fwd(lib, name, x32)
    g = c_grad(lib, name, x32, y32)
    x = x32.astype(np.float64)
    h = 1e-5 * np.maximum(1.0, np.abs(x))
    fd = (act.reference(x + h) - act.reference(x - h)) / (2 * h)
    ok = _away_from_kinks(x, act.kinks, h) & np.isfinite(fd)
    assert ok.sum() > 400
    np.testing.assert_allclose(g[ok], fd[ok], rtol=1e-4, atol=2e-6,
                               err_msg=f"{name} grad vs finite difference")
    # The NumPy vjp (torch conventions) agrees too, kinks included.
    ref = act.vjp(x32, act.reference(x32), np.ones_like(x32))
    np.testing.assert_allclose(g, ref, rtol=1e-5, atol=1e-6)


# Gradient values at kinks, as torch autograd computes them for the
# composition the Keras torch backend uses.
KINKS = {
    "relu": {0.0: 0.0},
    "leaky_relu": {0.0: 0.2},
    "relu6": {0.0: 0.0, 6.0: 0.0},
    "elu": {0.0: 1.0},
    "celu": {0.0: 1.0},
    "selu": {0.0: 1.6732632423543772 * 1.0507009873554805},
    "soft_shrink": {-0.5: 0.0, 0.5: 0.0},
    "hard_shrink": {-0.5: 0.0, 0.5: 0.0, 0.0: 0.0},
    "hard_tanh": {-1.0: 0.0, 1.0: 0.0},
    "sparse_sigmoid": {-1.0: 0.0, 1.0: 0.0},
    "sparse_plus": {-1.0: 0.0, 1.0: 1.0},
    "hard_sigmoid": {-3.0: 0.0, 3.0: 0.0},
    "hard_silu": {-3.0: 0.0, 3.0: 1.0},
    "softsign": {0.0: 1.0},
    "softplus": {20.0: 1.0, 0.0: 0.5},
    "log_sigmoid": {0.0: 0.5},
    "linear": {0.0: 1.0},
}


@pytest.mark.parametrize("name", sorted(KINKS))
def test_kink_conventions(lib, name):
    act = A.get(name)
    xs = _f32(sorted(KINKS[name]))
    want = np.array([KINKS[name][float(v)] for v in xs], np.float32)
    y = c_fwd(lib, name, xs)
    np.testing.assert_allclose(c_grad(lib, name, xs, y), want, rtol=1e-6, atol=0)
    np.testing.assert_allclose(act.vjp(xs, act.reference(xs), np.ones_like(xs)), want,
                               rtol=1e-6, atol=0)
    # negative zero behaves like zero
    if 0.0 in KINKS[name]:
        z = _f32([-0.0])
        np.testing.assert_allclose(c_grad(lib, name, z, c_fwd(lib, name, z)),
                                   [KINKS[name][0.0]], rtol=1e-6)


def test_grad_needs_honoured(lib):
    """A 'y' activation must not read x and an 'x' one must not read y."""
    x = grid()
    for name in ELEMENTWISE:
        act = A.get(name)
        y = c_fwd(lib, name, x)
        g = c_grad(lib, name, x, y)
        junk = np.full_like(x, 12345.0)
        if act.grad_needs == "y":
            np.testing.assert_array_equal(c_grad(lib, name, junk, y), g, err_msg=name)
        elif act.grad_needs == "x":
            np.testing.assert_array_equal(c_grad(lib, name, x, junk), g, err_msg=name)


def test_keras_docstring_values(lib):
    """Values printed in the Keras 3 docstrings (default arguments)."""
    cases = {
        "leaky_relu": ([-1.0, 0.0, 1.0], [-0.2, 0.0, 1.0]),
        "elu": ([-1.0, 0.0, 1.0], [-0.63212055, 0.0, 1.0]),
        "celu": ([-1.0, 0.0, 1.0], [-0.63212056, 0.0, 1.0]),
        "selu": ([-1.0, 0.0, 1.0], [-1.11133055, 0.0, 1.05070098]),
        "gelu": ([-1.0, 0.0, 1.0], [-0.15865525, 0.0, 0.84134475]),  # exact, not tanh
        "softplus": ([-0.555, 0.0, 0.555], [0.45366603, 0.6931472, 1.008666]),
        "squareplus": ([-1.0, 0.0, 1.0], [0.6180340, 1.0, 1.6180340]),
        "log_sigmoid": ([-0.541391, 0.0, 0.5, 5.0],
                        [-1.0000418, -0.6931472, -0.474077, -0.00671535]),
        "silu": ([-6.0, 1.0, 0.0, 6.0], [-0.0148357, 0.7310586, 0.0, 5.9851646]),
        "hard_silu": ([-3.0, -1.0, 0.0, 1.0, 3.0], [0.0, -0.3333333, 0.0, 0.6666667, 3.0]),
        "hard_sigmoid": ([-3.0, -1.0, 0.0, 1.0, 3.0], [0.0, 1 / 3, 0.5, 2 / 3, 1.0]),
        "tanh_shrink": ([-1.0, 0.0, 1.0], [-0.23840584, 0.0, 0.23840584]),
        "sparse_plus": ([-1.0, 0.0, 1.0], [0.0, 0.25, 1.0]),
        "sparse_sigmoid": ([-6.0, 1.0, 0.0, 6.0], [0.0, 1.0, 0.5, 1.0]),
        "soft_shrink": ([-1.0, 0.0, 1.0], [-0.5, 0.0, 0.5]),
        "hard_shrink": ([-0.5, 0.0, 1.0], [0.0, 0.0, 1.0]),
        "softsign": ([-0.1, -10.0, 1.0, 0.0, 100.0], [-0.09090909, -0.90909094, 0.5, 0.0, 0.990099]),
        "relu6": ([-3.0, -2.0, 0.1, 0.2, 6.0, 8.0], [0.0, 0.0, 0.1, 0.2, 6.0, 6.0]),
    }
    for name, (x, want) in cases.items():
        x = _f32(x)
        np.testing.assert_allclose(c_fwd(lib, name, x), want, rtol=1e-6, atol=1e-7, err_msg=name)
        np.testing.assert_allclose(A.get(name).reference(x), want, rtol=1e-6, atol=1e-7,
                                   err_msg=name)
    rows = {
        "softmax": ([[-1.0, 0.0, 1.0]], [[0.09003057, 0.24472847, 0.66524096]]),
        "log_softmax": ([[-1.0, 0.0, 1.0]], [[-2.40760596, -1.40760596, -0.40760596]]),
        "glu": ([[-1.0, 0.0, 1.0, 1.0]], [[-0.73105858, 0.0]]),
        "sparsemax": ([[-1.0, 0.0, 1.0], [-0.5, 0.0, 1.0]], [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]),
    }
    for name, (x, want) in rows.items():
        np.testing.assert_allclose(c_fwd(lib, name, _f32(x)), want, rtol=1e-6, atol=1e-7,
                                   err_msg=name)


# ---------------------------------------------------------------- rowwise

def _rows(name, rng):
    if name == "glu":
        x = rng.normal(0, 2, (6, 8))
    elif name == "sparsemax":
        # closely spaced logits so that the support often has >1 element
        x = rng.normal(0, 0.4, (8, 6))
    else:
        x = rng.normal(0, 3, (6, 7))
    return _f32(x)


@pytest.mark.parametrize("name", sorted(ROWWISE))
def test_forward_rowwise(lib, name):
    act = A.get(name)
    rng = np.random.default_rng(1)
    x = _rows(name, rng)
    if name != "glu":
        extra = np.array([[1000.0, 999.0, -1000.0, 0.0, 3.0, 3.0, 2.5][: x.shape[1]],
                          [-88.0, -90.0, -200.0, -87.5, -88.0, -89.0, -100.0][: x.shape[1]],
                          [0.0] * x.shape[1]], np.float32)
        x = np.concatenate([x, extra])
    y = c_fwd(lib, name, x)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, act.reference(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y, act.reference(x.astype(np.float64)), rtol=1e-4, atol=1e-5)
    if name == "softmax":
        np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(ROWWISE))
def test_backward_rowwise_fd(lib, name):
    act = A.get(name)
    rng = np.random.default_rng(2)
    x32 = _rows(name, rng)
    y32 = c_fwd(lib, name, x32)
    dy32 = _f32(rng.normal(0, 1, y32.shape))
    dx = c_vjp(lib, name, x32, y32, dy32)

    x, dy = x32.astype(np.float64), dy32.astype(np.float64)
    h = 1e-7 if name == "sparsemax" else 1e-5  # sparsemax is piecewise linear
    fd = np.zeros_like(x)
    for j in range(x.shape[1]):
        e = np.zeros_like(x)
        e[:, j] = h
        fd[:, j] = ((act.reference(x + e) * dy).sum(-1)
                    - (act.reference(x - e) * dy).sum(-1)) / (2 * h)
    np.testing.assert_allclose(dx, fd, rtol=1e-4, atol=1e-5, err_msg=f"{name} VJP vs FD")
    np.testing.assert_allclose(act.vjp(x, act.reference(x), dy), fd, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dx, act.vjp(x32, y32, dy32), rtol=1e-5, atol=1e-6)


def test_sparsemax_is_keras_not_paper(lib):
    """Keras (all backends, <= 3.15) uses the sum of the cumulative sums over
    the support for tau; keras-team/keras#23425 reports exactly this output."""
    x = _f32([[0.0, 0.5, 1.0], [1.0, 0.5, 0.1], [0.1, 0.2, 0.3, 0.4, 0.5][:3]])
    want = A.get("sparsemax").reference(x)
    np.testing.assert_allclose(want[0], [0.0, 0.0, 0.25])
    np.testing.assert_allclose(want[1], [0.25, 0.0, 0.0])
    np.testing.assert_allclose(c_fwd(lib, "sparsemax", x), want, atol=1e-7)
    # with a support of one element it is the true (one-hot) sparsemax
    one_hot = _f32([[-0.5, 0.0, 1.0, 2.0, 3.0]])
    np.testing.assert_allclose(c_fwd(lib, "sparsemax", one_hot), [[0, 0, 0, 0, 1.0]])
    # the test rows above do exercise supports larger than one
    sup, _, k, _ = A._sparsemax_parts(_rows("sparsemax", np.random.default_rng(2)))
    assert (k > 1).any()


def test_sparsemax_ties(lib):
    x = _f32([[1.0, 1.0, 0.2, -1.0], [0.3, 0.3, 0.3, 0.3], [2.0, 0.0, 2.0, 1.9]])
    act = A.get("sparsemax")
    y = c_fwd(lib, "sparsemax", x)
    np.testing.assert_allclose(y, act.reference(x), atol=1e-7)
    dy = _f32(np.random.default_rng(3).normal(size=x.shape))
    np.testing.assert_allclose(c_vjp(lib, "sparsemax", x, y, dy), act.vjp(x, y, dy),
                               rtol=1e-5, atol=1e-6)


def test_glu_rejects_odd_in_reference():
    with pytest.raises(ValueError):
        A.get("glu").reference(np.zeros((2, 3)))
