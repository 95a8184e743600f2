"""Keras 3's legacy text utilities (keras.preprocessing.text / keras.utils.pad_sequences) on a
few texts, for tests/test_text.py:

    KERAS_BACKEND=torch /work/venv-torch/bin/python tests/golden/make_text_goldens.py
"""
import json
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
import numpy as np  # noqa: E402
from keras.src.legacy.preprocessing import text  # noqa: E402
from keras.utils import pad_sequences  # noqa: E402

TEXTS = ["The cat sat on the mat.", "The dog ate my homework!", "Cats and dogs, dogs and cats...",
         "A mat: the CAT's mat", "", "tab\tseparated\nlines here"]
SEQS = [[1, 2, 3], [4, 5], [], [6, 7, 8, 9, 10, 11], [3]]
CONFIGS = [{}, {"num_words": 5}, {"oov_token": "<OOV>"}, {"num_words": 6, "oov_token": "<OOV>"},
           {"lower": False}, {"char_level": True}, {"filters": "", "split": " "}]
out = {"texts": TEXTS, "seqs": SEQS, "configs": CONFIGS, "tokenizers": [], "pad": []}
for cfg in CONFIGS:
    t = text.Tokenizer(**cfg)
    t.fit_on_texts(TEXTS)
    seqs = t.texts_to_sequences(TEXTS + ["unseen words and the cat"])
    out["tokenizers"].append({
        "word_index": t.word_index, "word_counts": dict(t.word_counts), "document_count": t.document_count,
        "sequences": seqs, "texts_back": t.sequences_to_texts(seqs),
        "matrices": {m: t.texts_to_matrix(TEXTS, mode=m).tolist() for m in ("binary", "count", "freq", "tfidf")}})
out["word_sequence"] = [text.text_to_word_sequence(s) for s in TEXTS]
out["hashing_md5"] = [text.hashing_trick(s, 17, hash_function="md5") for s in TEXTS]
for kw in ({}, {"maxlen": 4}, {"maxlen": 4, "padding": "post"}, {"maxlen": 4, "truncating": "post"},
           {"maxlen": 3, "padding": "post", "truncating": "post", "value": -1}, {"dtype": "float32", "value": 0.5}):
    out["pad"].append({"kwargs": kw, "result": pad_sequences(SEQS, **kw).tolist(),
                       "dtype": str(pad_sequences(SEQS, **kw).dtype)})
Path(__file__).with_name("text_golden.json").write_text(json.dumps(out, indent=0))
print("wrote text_golden.json")
