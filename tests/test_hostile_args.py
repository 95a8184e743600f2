"""Hostile argument values are clean errors in both front ends, and never reach the C.

A table of every numeric and boolean argument of every layer, optimizer, schedule, loss and
metric is fed strings, None, NaN, inf, 1e999, 10**400, 2**31, bools and C fragments:
- the Python API raises ValueError/TypeError naming the class and the argument;
- the static front end raises a SeqcError at the line of the call;
- a sample through `seqc summary` / `seqc compile` in a subprocess exits 1 with one
  `FILE:LINE: message` line, no traceback, and builds no C (the build cache stays empty).
Also: the Keras signature of every public class, and arguments seqc accepted and ignored."""
import inspect
import os
import subprocess
import sys
import textwrap

import pytest

import seqc.keras as keras
from seqc.errors import SeqcError
from seqc.frontend.ast_frontend import parse_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (kind, call with {v} for the value, argument named in the error, int or real, values also valid)
NUMERIC = [
    ("layer", "layers.Dense({v})", "units", "int", set()),
    ("layer", "layers.Dense(4, input_dim={v})", "input_dim", "int", {'none'}),
    ("layer", "layers.Dense(4, input_shape=({v},))", "input_shape", "int", {'none'}),
    ("layer", "layers.Dense(4, batch_size={v})", "batch_size", "int", {'none'}),
    ("layer", "layers.Dropout({v})", "rate", "real", set()),
    ("layer", "layers.Dropout(0.5, seed={v})", "seed", "int", {'none'}),
    ("layer", "layers.Conv1D({v}, 3)", "filters", "int", set()),
    ("layer", "layers.Conv1D(4, {v})", "kernel_size", "int", set()),
    ("layer", "layers.Conv2D(4, 3, strides={v})", "strides", "int", set()),
    ("layer", "layers.Conv2D(4, 3, dilation_rate={v})", "dilation_rate", "int", set()),
    ("layer", "layers.MaxPooling2D({v})", "pool_size", "int", {'none'}),
    ("layer", "layers.AveragePooling1D(2, strides={v})", "strides", "int", {'none'}),
    ("layer", "layers.ZeroPadding2D({v})", "padding", "int", set()),
    ("layer", "layers.Reshape(({v},))", "target_shape", "int", {'negative'}),
    ("layer", "layers.Embedding({v}, 4)", "input_dim", "int", set()),
    ("layer", "layers.Embedding(10, {v})", "output_dim", "int", set()),
    ("layer", "layers.Embedding(10, 4, input_length={v})", "input_length", "int", {'none'}),
    ("layer", "layers.LSTM({v})", "units", "int", set()),
    ("layer", "layers.LSTM(4, dropout={v})", "dropout", "real", {'negative'}),     # Keras clips rates to [0, 1]
    ("layer", "layers.GRU(4, recurrent_dropout={v})", "recurrent_dropout", "real", {'negative'}),
    ("layer", "layers.SimpleRNN({v})", "units", "int", set()),
    ("layer", "layers.BatchNormalization(momentum={v})", "momentum", "real", {'negative'}),
    ("layer", "layers.BatchNormalization(epsilon={v})", "epsilon", "real", set()),
    ("layer", "layers.LayerNormalization(epsilon={v})", "epsilon", "real", set()),
    ("layer", "layers.ReLU(max_value={v})", "max_value", "real", {'none'}),
    ("layer", "layers.ReLU(negative_slope={v})", "negative_slope", "real", set()),
    ("layer", "layers.ReLU(threshold={v})", "threshold", "real", set()),
    ("layer", "layers.LeakyReLU({v})", "negative_slope", "real", set()),
    ("layer", "layers.ELU({v})", "alpha", "real", {'negative'}),
    ("layer", "layers.Softmax({v})", "axis", "int", {'negative'}),
    ("layer", "layers.PReLU(shared_axes={v})", "shared_axes", "int", {'none'}),
    ("layer", "layers.GaussianNoise({v})", "stddev", "real", set()),
    ("layer", "layers.GaussianNoise(0.1, seed={v})", "seed", "int", {'none'}),
    ("layer", "layers.GaussianDropout({v})", "rate", "real", set()),
    ("layer", "layers.AlphaDropout({v})", "rate", "real", set()),
    ("layer", "layers.SpatialDropout1D({v})", "rate", "real", set()),
    ("layer", "layers.SpatialDropout2D(0.5, seed={v})", "seed", "int", {'none'}),
    ("layer", "layers.ActivityRegularization({v})", "l1", "real", set()),
    ("layer", "layers.ActivityRegularization(l2={v})", "l2", "real", set()),
    ("layer", "layers.Permute(({v}, 1))", "dims", "int", set()),
    ("optimizer", "optimizers.SGD({v})", "learning_rate", "real", set()),
    ("optimizer", "optimizers.SGD(lr={v})", "learning_rate", "real", set()),
    ("optimizer", "optimizers.SGD(momentum={v})", "momentum", "real", set()),
    ("optimizer", "optimizers.SGD(decay={v})", "decay", "real", {'none'}),
    ("optimizer", "optimizers.SGD(clipnorm={v})", "clipnorm", "real", {'none'}),
    ("optimizer", "optimizers.Adam(clipvalue={v})", "clipvalue", "real", {'none'}),
    ("optimizer", "optimizers.Adam(global_clipnorm={v})", "global_clipnorm", "real", {'none'}),
    ("optimizer", "optimizers.SGD(weight_decay={v})", "weight_decay", "real", {'none'}),
    ("optimizer", "optimizers.RMSprop(rho={v})", "rho", "real", set()),
    ("optimizer", "optimizers.RMSprop(momentum={v})", "momentum", "real", set()),
    ("optimizer", "optimizers.RMSprop(epsilon={v})", "epsilon", "real", set()),
    ("optimizer", "optimizers.Adagrad(initial_accumulator_value={v})", "initial_accumulator_value", "real", set()),
    ("optimizer", "optimizers.Adagrad(epsilon={v})", "epsilon", "real", set()),
    ("optimizer", "optimizers.Adam(beta_1={v})", "beta_1", "real", set()),
    ("optimizer", "optimizers.Adam(beta_2={v})", "beta_2", "real", set()),
    ("optimizer", "optimizers.Adam(epsilon={v})", "epsilon", "real", set()),
    ("optimizer", "optimizers.AdamW(weight_decay={v})", "weight_decay", "real", set()),
    ("schedule", "optimizers.schedules.InverseTimeDecay({v}, 10, 0.5)", "initial_learning_rate", "real", set()),
    ("schedule", "optimizers.schedules.InverseTimeDecay(0.1, {v}, 0.5)", "decay_steps", "real", set()),
    ("schedule", "optimizers.schedules.ExponentialDecay(0.1, 10, {v})", "decay_rate", "real", set()),
    ("loss", "losses.BinaryCrossentropy(label_smoothing={v})", "label_smoothing", "real", set()),
    ("loss", "losses.CategoricalCrossentropy(label_smoothing={v})", "label_smoothing", "real", set()),
    ("loss", "losses.Huber(delta={v})", "delta", "real", set()),
    ("loss", "losses.SparseCategoricalCrossentropy(ignore_class={v})", "ignore_class", "int", {'none', 'negative'}),
    ("metric", "metrics.BinaryAccuracy(threshold={v})", "threshold", "real", {'negative'}),
    ("metric", "metrics.BinaryCrossentropy(label_smoothing={v})", "label_smoothing", "real", set()),
]
BOOLEAN = [
    ("layer", "layers.Dense(4, use_bias={v})", "use_bias"),
    ("layer", "layers.Dense(4, trainable={v})", "trainable"),
    ("layer", "layers.LSTM(4, return_sequences={v})", "return_sequences"),
    ("layer", "layers.LSTM(4, unit_forget_bias={v})", "unit_forget_bias"),
    ("layer", "layers.GRU(4, reset_after={v})", "reset_after"),
    ("layer", "layers.SimpleRNN(4, go_backwards={v})", "go_backwards"),
    ("layer", "layers.GlobalAveragePooling1D(keepdims={v})", "keepdims"),
    ("layer", "layers.Embedding(10, 4, mask_zero={v})", "mask_zero"),
    ("layer", "layers.BatchNormalization(center={v})", "center"),
    ("layer", "layers.LayerNormalization(scale={v})", "scale"),
    ("optimizer", "optimizers.SGD(nesterov={v})", "nesterov"),
    ("optimizer", "optimizers.RMSprop(centered={v})", "centered"),
    ("optimizer", "optimizers.Adam(amsgrad={v})", "amsgrad"),
    ("schedule", "optimizers.schedules.ExponentialDecay(0.1, 10, 0.5, staircase={v})", "staircase"),
    ("loss", "losses.BinaryCrossentropy(from_logits={v})", "from_logits"),
    ("metric", "metrics.CategoricalCrossentropy(from_logits={v})", "from_logits"),
]
HOSTILE = ["'3'", "float('nan')", "float('inf')", "-float('inf')", "1e999", "10**400", "True",
           "'1); system(\"x\"); ('", "'*/ #error x'", "[1.5]"]
HOSTILE_INT = ["2**31", "10**30", "1.5"]
HOSTILE_BOOL = ["'no'", "1", "None", "float('nan')", "'*/ #error x'"]


def _cases():
    for kind, call, arg, number, valid in NUMERIC:
        values = HOSTILE + (HOSTILE_INT if number == "int" else [])
        values += ([] if "none" in valid else ["None"]) + ([] if "negative" in valid else ["-1"])
        for value in values:
            yield kind, call.format(v=value), arg
    for kind, call, arg in BOOLEAN:
        for value in HOSTILE_BOOL:
            yield kind, call.format(v=value), arg


CASES = list(_cases())


def _api_value(call):
    """Evaluate a call against seqc.keras (the Python API)."""
    from seqc.keras import layers, losses, metrics, optimizers  # noqa: F401
    return eval(call, {"layers": layers, "losses": losses, "metrics": metrics, "optimizers": optimizers})


def _owner(call):
    return call.split("(")[0].split(".")[-1]


@pytest.mark.parametrize("kind, call, arg", CASES, ids=[c[1] for c in CASES])
def test_python_api_refuses(kind, call, arg):
    with pytest.raises((ValueError, TypeError)) as info:
        _api_value(call)
    message = str(info.value)
    assert _owner(call) in message and arg in message, message


def _script(kind, call):
    """A script that builds and compiles a model using `call`; the call is on line 3."""
    use = {"layer": ("[x, keras.layers.Dense(1)]", "'sgd'", "'mse'", "[]"),
           "optimizer": ("[keras.layers.Dense(1)]", "x", "'mse'", "[]"),
           "schedule": ("[keras.layers.Dense(1)]", "keras.optimizers.SGD(learning_rate=x)", "'mse'", "[]"),
           "loss": ("[keras.layers.Dense(1)]", "'sgd'", "x", "[]"),
           "metric": ("[keras.layers.Dense(1)]", "'sgd'", "'mse'", "[x]")}[kind]
    layers, opt, loss, metrics = use
    return textwrap.dedent(f"""\
        import keras
        from keras import layers, losses, metrics, optimizers
        x = {call}
        model = keras.Sequential([keras.Input(shape=(8, 8, 3))] + {layers})
        model.compile(optimizer={opt}, loss={loss}, metrics={metrics})
        """)


@pytest.mark.parametrize("kind, call, arg", CASES, ids=[c[1] for c in CASES])
def test_static_front_end_refuses(tmp_path, kind, call, arg):
    path = tmp_path / "m.py"
    path.write_text(_script(kind, call))
    with pytest.raises(SeqcError) as info:
        parse_model(str(path))
    assert info.value.loc is not None and info.value.loc.line == 3, str(info.value)
    if "**" in call and "too large for a static evaluation" in info.value.message:
        return           # the static front end refuses to compute 10**400 at all
    assert _owner(call) in info.value.message and arg in info.value.message, info.value.message


SUBPROCESS_SAMPLE = [
    ("optimizer", "optimizers.Adagrad(initial_accumulator_value='1); system(\"x\"); (')"),
    ("optimizer", "optimizers.Adam(epsilon='*/ #error x')"),
    ("optimizer", "optimizers.SGD(lr=10**400)"),
    ("optimizer", "optimizers.SGD(lr=float('nan'))"),
    ("optimizer", "optimizers.Adam(clipnorm=float('inf'))"),
    ("optimizer", "optimizers.Adam(amsgrad='no')"),
    ("layer", "layers.Dense(10**30)"),
    ("layer", "layers.LSTM(2**31)"),
    ("layer", "layers.Conv2D(4, 1e999)"),
    ("layer", "layers.Dense(4, name=3)"),
    ("layer", "layers.Dense(4, input_shape='64')"),
    ("layer", "layers.SimpleRNN(4, recurrent_activation='relu')"),
    ("schedule", "optimizers.schedules.ExponentialDecay(0.1, 10, '*/ #error x')"),
    ("loss", "losses.Huber(delta='1); system(\"x\"); (')"),
    ("metric", "metrics.BinaryAccuracy(threshold=float('nan'))"),
]


@pytest.mark.parametrize("command", ["summary", "compile"])
@pytest.mark.parametrize("kind, call", SUBPROCESS_SAMPLE, ids=[c[1] for c in SUBPROCESS_SAMPLE])
def test_command_line_refuses_without_building(tmp_path, command, kind, call):
    path = tmp_path / "m.py"
    path.write_text(_script(kind, call))
    cache = tmp_path / "cache"
    env = dict(os.environ, PYTHONPATH=ROOT, SEQC_CACHE_DIR=str(cache))
    args = [sys.executable, "-m", "seqc", command, str(path)] + (["-o", str(tmp_path / "out")]
                                                                   if command == "compile" else [])
    r = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}:3: "), r.stderr
    assert "Traceback" not in r.stderr and "error:" not in r.stderr.lower().replace("valueerror", "")
    built = [f for _, _, files in os.walk(cache) for f in files if f.endswith((".so", ".c"))]
    assert not built and not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------
# Keras's signatures, docstrings, and no argument accepted and ignored
# ---------------------------------------------------------------------------------------------
PUBLIC = [(keras.layers, n) for n in keras.layers.LAYERS if n != "Input"] + \
         [(keras.optimizers, n) for n in ("SGD", "RMSprop", "Adagrad", "Adam", "AdamW")] + \
         [(keras.optimizers.schedules, n) for n in ("InverseTimeDecay", "ExponentialDecay")]


@pytest.mark.parametrize("module, name", PUBLIC, ids=[n for _, n in PUBLIC])
def test_public_classes_have_signatures_and_docstrings(module, name):
    cls = getattr(module, name)
    params = inspect.signature(cls).parameters
    assert not any(p.kind == p.VAR_POSITIONAL for p in params.values()), (name, params)
    assert all(p.default is not p.empty for p in list(params.values())[3:] if p.kind != p.VAR_KEYWORD), name
    assert (cls.__doc__ or "").strip(), name


def test_optimizer_signatures_are_keras():
    sig = inspect.signature(keras.optimizers.SGD)
    assert list(sig.parameters)[:4] == ["learning_rate", "momentum", "nesterov", "weight_decay"]
    assert sig.parameters["learning_rate"].default == 0.01 and sig.parameters["name"].default == "SGD"
    assert list(inspect.signature(keras.optimizers.AdamW).parameters)[:3] == ["learning_rate", "weight_decay",
                                                                               "beta_1"]
    assert keras.optimizers.SGD(0.1, 0.9).config["momentum"] == 0.9          # Keras's positional order
    assert keras.optimizers.AdamW(0.01, 0.1).config["weight_decay"] == 0.1
    assert keras.optimizers.SGD(lr=0.5, decay=0.01).config["decay"] == 0.01  # Keras-2 spellings kept


@pytest.mark.parametrize("call", [
    "layers.SimpleRNN(4, recurrent_activation='relu')",
    "layers.SimpleRNN(4, unit_forget_bias=True)",
    "layers.Dense(4, recurrent_activation='relu')",
    "layers.GRU(4, unit_forget_bias=False)",
    "layers.LSTM(4, reset_after=False)",
    "layers.Flatten(bogus=1)",
])
def test_argument_a_layer_does_not_have_is_refused(call):
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        _api_value(call)


@pytest.mark.parametrize("call", [
    "optimizers.Adam(use_ema=True)",
    "optimizers.SGD(loss_scale_factor=2.0)",
    "optimizers.SGD(gradient_accumulation_steps=2)",
    "layers.Dense(4, lora_rank=2)",
    "layers.Embedding(10, 4, lora_rank=2)",
    "layers.Input(shape=(3,), sparse=True)",
    "losses.BinaryCrossentropy(axis=1)",
    "losses.MeanSquaredError(reduction='sum')",
])
def test_keras_argument_seqc_cannot_honour_is_refused(call):
    with pytest.raises(ValueError, match="not supported|supports"):
        _api_value(call)


def test_compile_arguments_seqc_cannot_honour_are_refused():
    model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
    for kwargs in ({"loss_weights": [2.0]}, {"weighted_metrics": {"out": ["mae"]}}):
        with pytest.raises(SeqcError, match="not supported"):
            model.compile("sgd", "mse", **kwargs)


def test_sequential_trainable_false_freezes_every_layer():
    model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,)), keras.layers.Dense(1)], trainable=False)
    assert [l.config["trainable"] for l in model.spec().layers] == [False, False]
    with pytest.raises(ValueError, match="trainable"):
        keras.Sequential(trainable="no")
