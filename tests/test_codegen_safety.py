"""No user text reaches the generated C as code (issue: hostile input). Layer, loss and metric
names appear only in sanitised comments; C identifiers are made by seqc; every value a template
receives passes one formatter (codegen.c_value)."""
import re

import numpy as np
import pytest

from seqc import codegen
from seqc.errors import SeqcError
from seqc.keras.layers import Dense
from seqc.keras.models import Sequential
from seqc.keras.optimizers import SGD


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 1e39, 10 ** 400, 2 ** 62,
                                 'x"; system("id"); "', "*/ #error boom", "a\nb", "#include </etc/passwd>",
                                 "// x", "\\", object()])
def test_c_value_refuses_what_cannot_be_c(bad):
    with pytest.raises(codegen.CodegenError):
        codegen.c_value(bad)


@pytest.mark.parametrize("good, want", [(1, 1), (0.1, 0.1), (np.float32(0.5), 0.5), (np.int64(3), 3),
                                        (True, True), ("relu", "relu"), ("m_ <= 2 * GEMM_MR", "m_ <= 2 * GEMM_MR")])
def test_c_value_passes_numbers_and_plain_text(good, want):
    got = codegen.c_value(good)
    assert got == want and type(got) is type(want)


def test_floats_print_as_c_literals():
    out = codegen._env.from_string("{{ a }}f {{ b }}f {{ c }}f").render(a=1.0, b=1e-7, c=3.4e38)
    assert out == "1.0f 1e-07f 3.4e+38f"
    with pytest.raises(codegen.CodegenError):
        codegen._env.from_string("{{ a }}").render(a=float("nan"))


@pytest.mark.parametrize("text", ["*/ #error x /*", "a//b", "é\n\x00\\", "'\"`#"])
def test_c_comment_cannot_close_or_open_a_comment(text):
    out = codegen.c_comment(text)
    assert "*/" not in out and "/*" not in out and "//" not in out and "\n" not in out
    assert codegen.c_value(out) == out       # and is plain text


def test_names_differing_in_case_get_their_own_c_identifiers():
    """'fc' and 'FC' are distinct in Keras; their C must not share a symbol (it once did, and the
    model read out of bounds)."""
    model = Sequential([Dense(7, name="fc", input_shape=(5,)), Dense(3, name="FC")])
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(0)
    ws = [rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(ws)
    x = rng.normal(size=(4, 5)).astype(np.float32)
    want = (x @ ws[0] + ws[1]) @ ws[2] + ws[3]
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-5)


def test_hostile_layer_name_never_reaches_the_c(tmp_path):
    from seqc import pipeline
    name = 'x"; *) #error boom\n#include "passwd" \\'   # Keras refuses only "/" in a name
    model = Sequential([Dense(4, name=name, input_shape=(3,)), Dense(2)])
    model.compile(optimizer="sgd", loss="mse")      # builds: the name never breaks the C
    desc, lib, c = pipeline.compile_spec(model.spec(), c_name="hostile")
    code = re.sub(r"/\*.*?\*/", "", c, flags=re.S)          # the C without its comments
    assert "error" not in code and "passwd" not in code
    directives = {line.split()[0] for line in code.splitlines() if line.lstrip().startswith("#")}
    assert directives <= {"#include", "#define", "#if", "#ifdef", "#ifndef", "#elif", "#else", "#endif",
                          "#undef", "#pragma"}


@pytest.mark.parametrize("key, value", [("learning_rate", float("nan")), ("momentum", float("inf")),
                                        ("learning_rate", 10 ** 400)])
def test_non_finite_optimizer_setting_is_a_user_error(key, value):
    model = Sequential([Dense(2, input_shape=(3,))])
    try:
        opt = SGD(**{key: value})
    except (ValueError, TypeError):
        return                       # refused by the optimizer itself, as Keras does
    with pytest.raises(SeqcError, match="not a finite number"):
        model.compile(optimizer=opt, loss="mse")
