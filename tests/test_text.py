"""keras.preprocessing.text (Tokenizer, text_to_word_sequence, hashing_trick) and
pad_sequences against real Keras 3 (tests/golden/make_text_goldens.py)."""
import json
from pathlib import Path

import numpy as np
import pytest

from seqc.keras.preprocessing import text
from seqc.keras.utils import pad_sequences

G = json.loads((Path(__file__).parent / "golden" / "text_golden.json").read_text())


@pytest.mark.parametrize("k", range(len(G["configs"])), ids=[json.dumps(c) for c in G["configs"]])
def test_tokenizer_equals_keras(k):
    want = G["tokenizers"][k]
    t = text.Tokenizer(**G["configs"][k])
    t.fit_on_texts(G["texts"])
    assert t.word_index == want["word_index"] and dict(t.word_counts) == want["word_counts"]
    assert t.document_count == want["document_count"]
    seqs = t.texts_to_sequences(G["texts"] + ["unseen words and the cat"])
    assert seqs == want["sequences"]
    assert t.sequences_to_texts(seqs) == want["texts_back"]
    for mode, m in want["matrices"].items():
        np.testing.assert_allclose(t.texts_to_matrix(G["texts"], mode=mode), m, rtol=1e-12)
    again = text.tokenizer_from_json(t.to_json())
    assert again.texts_to_sequences(G["texts"]) == t.texts_to_sequences(G["texts"])


def test_word_sequence_and_hashing():
    assert [text.text_to_word_sequence(s) for s in G["texts"]] == G["word_sequence"]
    assert [text.hashing_trick(s, 17, hash_function="md5") for s in G["texts"]] == G["hashing_md5"]
    assert all(1 <= h < 17 for s in G["texts"] for h in text.one_hot(s, 17))


def test_tokenizer_errors():
    with pytest.raises(ValueError, match="num_words"):
        text.Tokenizer().texts_to_matrix(["a"])
    t = text.Tokenizer()
    t.fit_on_texts(["a b"])
    with pytest.raises(ValueError, match="mode"):
        t.texts_to_matrix(["a"], mode="tf")
    with pytest.raises(TypeError, match="Unrecognized"):
        text.Tokenizer(words=3)
    with pytest.warns(UserWarning, match="nb_words"):
        assert text.Tokenizer(nb_words=3).num_words == 3


@pytest.mark.parametrize("k", range(len(G["pad"])))
def test_pad_sequences_equals_keras(k):
    case = G["pad"][k]
    got = pad_sequences(G["seqs"], **case["kwargs"])
    assert str(got.dtype) == case["dtype"]
    np.testing.assert_array_equal(got, np.array(case["result"], dtype=got.dtype))


def test_pad_sequences_errors():
    with pytest.raises(ValueError, match="Padding type"):
        pad_sequences([[1]], padding="middle")
    with pytest.raises(ValueError, match="Truncating type"):
        pad_sequences([[1]], truncating="middle")
    with pytest.raises(ValueError, match="non-iterable"):
        pad_sequences([1, 2])
    with pytest.raises(ValueError, match="dtype=object"):
        pad_sequences([["a"]], value="x")
