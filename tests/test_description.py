"""The model description (seqc.description): built once from the graph, read by attribute,
written as model.json and read back to an equal description."""
import dataclasses
import json
import os

import pytest

from seqc import pipeline
from seqc.description import FORMAT, ModelDescription, Prebuilt, ScriptSource
from seqc.errors import SeqcError
from seqc.frontend.ast_frontend import parse_script

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
NAMES = ["mlp_softmax", "mlp_binary", "conv1d_classifier", "vgg_like", "lstm_classifier", "stacked_lstm",
         "stateful_lstm"]


def described(name):
    spec = parse_script(os.path.join(EXAMPLES, name + ".py"), {})
    return pipeline.describe_open(spec) if pipeline.is_open(spec) else pipeline.describe_spec(spec)


def through_json(desc):
    return json.loads(json.dumps(desc.to_json()))


@pytest.mark.parametrize("name", NAMES)
def test_round_trip(name):
    desc = described(name)
    data = through_json(desc)
    assert data["format"] == FORMAT
    back = ModelDescription.from_json(data)
    assert back == desc
    assert back.to_json() == data


def test_fields_read_by_attribute():
    desc = described("stateful_lstm")
    assert desc.stateful and set(desc.states) == {"lstm", "lstm_1", "lstm_2"}
    assert desc.optimizer.kind and desc.loss.name and desc.metrics[0].name == "accuracy"
    assert desc.num_params == sum(l.params for l in desc.layers) > 0
    assert [p.offset for p in desc.params] == sorted(p.offset for p in desc.params)
    assert desc.layer("lstm_2").output_shape[-1] == desc.states["lstm_2"][1] // (2 * desc.batch_size)
    opened = described("lstm_classifier")
    assert opened.input_shape == (None,) and opened.layers[0].output_shape[0] is None


def test_open_package_description_with_prebuilt_round_trips():
    fixed = described("mlp_softmax").replace(c_name="mlp")
    desc = described("lstm_classifier").replace(
        script=ScriptSource("lstm_classifier.py", "print('x')\n", ("max_features=10",)),
        prebuilt=(Prebuilt(fixed, "libmlp.so"),))
    back = ModelDescription.from_json(through_json(desc))
    assert back == desc and back.prebuilt[0].description.c_name == "mlp"


def test_unversioned_files_of_earlier_seqc_are_read():
    """model.json before the format field: the same keys, without `format`, and without the
    fields an earlier seqc left out (c_name of an uncompiled model, script, prebuilt)."""
    desc = described("stacked_lstm")
    data = through_json(desc)
    for key in ("format", "script", "prebuilt", "c_name"):
        del data[key]
    assert ModelDescription.from_json(data) == desc


def test_newer_format_and_unknown_fields_are_clear_errors(tmp_path):
    data = through_json(described("mlp_binary"))
    with pytest.raises(ValueError, match="format 99.*compile the package again"):
        ModelDescription.from_json(dict(data, format=99))
    with pytest.raises(ValueError, match="unknown fields.*'colour'"):
        ModelDescription.from_json(dict(data, colour="red"))
    with pytest.raises(ValueError, match="malformed"):
        ModelDescription.from_json(dict(data, params=[{"shape": [3]}]))
    from seqc.package import load_model
    (tmp_path / "model.json").write_text(json.dumps(dict(data, format=99)))
    with pytest.raises(SeqcError, match="model.json: the model description has format 99"):
        load_model(str(tmp_path))


def test_description_is_frozen():
    desc = described("mlp_binary")
    with pytest.raises(dataclasses.FrozenInstanceError):
        desc.name = "other"
