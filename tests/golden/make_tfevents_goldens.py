"""TensorBoard event records as TensorFlow's own protocol buffers and TFRecord writer make them,
for seqc's writer (seqc/runtime/tfevents.py) to reproduce byte for byte.

    /work/venv-tf/bin/python tests/golden/make_tfevents_goldens.py

Writes tests/golden/tfevents.json: for each case, its inputs and the hex of the whole record
(length, CRCs, Event) TensorFlow writes: the file_version event, a scalar, a histogram (the
HistogramProto seqc computes, given as its fields), and the Keras model JSON tensor of the
graph dashboard. tests/test_tensorboard.py compares.
"""
import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

OUT = Path(__file__).resolve().parent / "tfevents.json"


def framed(event):
    """The TFRecord TensorFlow writes for one Event."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "r")
        with tf.io.TFRecordWriter(path) as w:
            w.write(event.SerializeToString())
        return Path(path).read_bytes().hex()


def main():
    Event, Summary = tf.compat.v1.Event, tf.compat.v1.Summary
    cases = {}
    cases["file_version"] = {"wall_time": 1700000000.25, "record": framed(
        Event(wall_time=1700000000.25, file_version="brain.Event:2"))}
    s = Summary(value=[Summary.Value(tag="epoch_loss", simple_value=0.6931471824645996)])
    cases["scalar"] = {"wall_time": 1700000001.5, "step": 3, "tag": "epoch_loss", "value": 0.6931471824645996,
                       "record": framed(Event(wall_time=1700000001.5, step=3, summary=s))}
    values = [0.5, -1.25, 2.0, 0.0, 0.75]
    counts, edges = np.histogram(values, bins=3, range=(-1.25, 2.0))      # seqc's bins: 3 equal ones
    h = tf.compat.v1.HistogramProto(min=-1.25, max=2.0, num=5.0, sum=2.0, sum_squares=6.375,
                                    bucket_limit=[float(e) for e in edges[1:]], bucket=[float(c) for c in counts])
    s = Summary(value=[Summary.Value(tag="sequential/dense/kernel/histogram", histo=h)])
    cases["histogram"] = {"wall_time": 1700000002.0, "step": 1, "tag": "sequential/dense/kernel/histogram",
                          "values": values, "buckets": 3,
                          "record": framed(Event(wall_time=1700000002.0, step=1, summary=s))}
    meta = tf.compat.v1.SummaryMetadata()
    meta.plugin_data.plugin_name = "graph_keras_model"
    meta.plugin_data.content = b"1"
    text = '{"class_name": "Sequential"}'
    s = Summary(value=[Summary.Value(tag="keras", metadata=meta, tensor=tf.make_tensor_proto(text))])
    cases["keras_model"] = {"wall_time": 1700000003.0, "step": 0, "tag": "keras", "text": text,
                            "plugin_name": "graph_keras_model", "content": "1",
                            "record": framed(Event(wall_time=1700000003.0, step=0, summary=s))}
    cases["_meta"] = {"tensorflow": tf.__version__}
    OUT.write_text(json.dumps(cases, indent=1) + "\n")
    print(f"{len(cases) - 1} records written to {OUT}")


if __name__ == "__main__":
    main()
