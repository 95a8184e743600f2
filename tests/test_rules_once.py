"""Rules written once and shared by both front ends: the Keras module-path map, the compile
rules, loss/metric resolution, and the table of elementwise ops (C, numpy, gradient, backend
names). Each test checks that the static front end (`seqc compile`/`summary`) and the Python
API (`seqc run`) agree. No C is built here."""
import textwrap

import numpy as np
import pytest

from seqc import trace
from seqc.errors import SeqcError
from seqc.frontend import keras_paths
from seqc.frontend.ast_frontend import parse_model
from seqc.frontend.runner import run_script
from seqc.keras import backend as K
from seqc.keras import losses, metrics

MODEL = """
from keras.models import Sequential
from keras.layers import Dense
model = Sequential([Dense(2, input_shape=(3,))])
"""


def _paths():
    for path in list(keras_paths.SUBMODULES) + list(keras_paths.LEGACY):
        for root in ("keras", "tensorflow.keras"):
            yield ".".join((root,) + path)


def _both(tmp_path, body):
    """Run a script through both front ends; returns (static model, namespace of the run)."""
    path = tmp_path / "m.py"
    path.write_text(textwrap.dedent(body))
    static = parse_model(str(path))
    seen = {}
    path.write_text(textwrap.dedent(body) + "\nimport builtins\nbuiltins._seqc_test_model = model\n")
    import builtins
    try:
        run_script(str(path))
        seen["model"] = builtins._seqc_test_model
    finally:
        if hasattr(builtins, "_seqc_test_model"):
            del builtins._seqc_test_model
    return static, seen["model"]


@pytest.mark.parametrize("dotted", sorted(set(_paths())))
def test_every_keras_path_imports_in_both_front_ends(tmp_path, dotted):
    body = f"import {dotted} as m\nfrom {dotted} import *\n" + MODEL
    static, dynamic = _both(tmp_path, body)
    assert [l.name for l in static.layers] and [type(l) for l in static.layers] == [type(l) for l in dynamic.layers]


def test_legacy_optimizer_path_agrees(tmp_path):
    body = MODEL + ("from keras.optimizers.experimental import Adam\n"
                    "import tensorflow as tf\n"
                    "model.compile(optimizer=tf.keras.optimizers.legacy.SGD(0.5), loss='mse')\n"
                    "opt = Adam(0.25)\n")
    static, dynamic = _both(tmp_path, body)
    assert static._compile.optimizer.kind == dynamic._compile.optimizer.kind == "SGD"
    assert static._compile.optimizer.config == dynamic._compile.optimizer.config


@pytest.mark.parametrize("call, message", [
    ("model.compile('sgd', loss=None)", "needs a `loss`"),
    ("import keras; model.compile('sgd', 'mse', metrics=['mae', keras.metrics.MeanAbsoluteError(name='mae_1'), 'mae'])", "metric names must be unique"),
    ("model.compile('nope', 'mse')", "unsupported optimizer 'nope'"),
    ("model.compile('sgd', 'nope')", "unknown loss 'nope'"),
    ("model.compile('sgd', 'mse', metrics=['nope'])", "unknown metric 'nope'"),
])
def test_compile_rules_agree(tmp_path, call, message):
    path = tmp_path / "m.py"
    path.write_text(textwrap.dedent(MODEL) + call + "\n")
    with pytest.raises(SeqcError, match=message) as static:
        parse_model(str(path))
    with pytest.raises(SeqcError, match=message) as dynamic:
        run_script(str(path))
    assert static.value.loc.line == dynamic.value.loc.line == 5


def test_compile_specs_equal(tmp_path):
    body = MODEL + ("from keras import losses, metrics\n"
                    "model.compile('adam', losses.Huber(delta=2.0), metrics=['mae', metrics.BinaryAccuracy(threshold=0.3)])\n")
    static, dynamic = _both(tmp_path, body)
    a, b = static._compile, dynamic._compile
    assert a.optimizer.config == b.optimizer.config
    assert (a.loss.name, a.loss.builtin, a.loss.options) == (b.loss.name, b.loss.builtin, b.loss.options)
    assert [(m.name, m.builtin, m.options) for m in a.metrics] == [(m.name, m.builtin, m.options) for m in b.metrics]


@pytest.mark.parametrize("get, what", [(losses.get, "loss"), (metrics.get, "metric")])
def test_loss_and_metric_resolution_share_rules(get, what):
    assert get("mse").builtin == "mean_squared_error"
    assert get(losses.mean_absolute_error).builtin == "mean_absolute_error"

    def custom(y_true, y_pred):
        return y_pred
    spec = get(custom)
    assert spec.builtin is None and spec.expr is custom and spec.name == "custom"
    with pytest.raises(SeqcError, match=f"unknown {what} 'nope'"):
        get("nope")
    with pytest.raises(SeqcError, match=f"Could not interpret {what} identifier"):
        get(3)


def test_elementwise_table_is_the_only_home():
    assert set(trace.UNARY) | set(trace.BINARY) == set(trace.ELEMENTWISE)
    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 2.0, (4, 3)).astype(np.float32)
    b = rng.uniform(0.5, 2.0, (4, 3)).astype(np.float32)
    for op in trace.ELEMENTWISE.values():
        args = (a, b)[:op.arity]
        want = np.asarray(op.np(*args), np.float32)
        leaves = [trace.Expr("y_true", (), (trace.B, 3)), trace.Expr("y_pred", (), (trace.B, 3))][:op.arity]
        node = trace.unary(op.name, *leaves) if op.arity == 1 else trace.binary(op.name, *leaves)
        got = trace.evaluate(node, a, b if op.arity == 2 else a)
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=op.name)
        for name in op.backend:      # the keras.backend function of the op computes the same
            np.testing.assert_allclose(np.asarray(getattr(K, name)(*args), np.float32), want, rtol=1e-6)
            assert isinstance(getattr(K, name)(*leaves), trace.Expr)
        if op.vjp is not None:       # a differentiable op has a gradient rule for each operand
            assert len(op.vjp(trace.as_expr(1.0), node, *leaves)) == op.arity
        else:
            assert op.name in trace.NONDIFF


def test_python_operators_come_from_the_table():
    x = trace.Expr("y_pred", (), (trace.B, 2))
    assert (x + 1).op == "add" and (1 - x).op == "sub" and (2 / x).op == "div" and (x ** 2).op == "pow"
    assert (-x).op == "neg" and abs(x).op == "abs" and (x >= 1).op == "greater_equal" and (1 < x).op == "greater"
