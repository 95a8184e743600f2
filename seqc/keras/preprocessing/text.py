"""`keras.preprocessing.text`: Keras's text utilities of the Keras 1/2 era, which scripts still
import: the word splitter, hashing into n buckets, and the Tokenizer (a vocabulary ranked by
word count, texts to index sequences and to count / binary / tf-idf matrices). Plain Python:
nothing here reaches the C."""
import collections
import hashlib
import json
import math
import warnings

import numpy as np

FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


def text_to_word_sequence(input_text, filters=FILTERS, lower=True, split=" "):
    """The words of a text: lower-cased (optionally), each filter character read as `split`,
    split on `split`, empty pieces dropped."""
    text = input_text.lower() if lower else input_text
    text = text.translate(str.maketrans({c: split for c in filters}))
    return [word for word in text.split(split) if word]


def hashing_trick(text, n, hash_function=None, filters=FILTERS, lower=True, split=" ", analyzer=None):
    """Each word hashed into 1..n-1 (0 is left for padding). `hash_function`: None for
    Python's hash (randomised per process, as in Keras), 'md5' for a stable one, or a callable."""
    if hash_function is None:
        hash_function = hash
    elif hash_function == "md5":
        def hash_function(word):
            return int(hashlib.md5(word.encode()).hexdigest(), 16)
    words = analyzer(text) if analyzer is not None else text_to_word_sequence(text, filters, lower, split)
    return [hash_function(word) % (n - 1) + 1 for word in words]


def one_hot(input_text, n, filters=FILTERS, lower=True, split=" ", analyzer=None):
    """hashing_trick with Python's hash (Keras's `one_hot` does not one-hot encode)."""
    return hashing_trick(input_text, n, hash, filters, lower, split, analyzer)


class Tokenizer:
    """A vocabulary built by `fit_on_texts`: indices from 1 by decreasing word count (ties in
    order of first appearance), the `oov_token` (if any) first. Only the `num_words - 1` most
    frequent words are kept when texts become sequences or matrices."""

    def __init__(self, num_words=None, filters=FILTERS, lower=True, split=" ", char_level=False, oov_token=None,
                 analyzer=None, **kwargs):
        if "nb_words" in kwargs:
            warnings.warn("The `nb_words` argument in `Tokenizer` has been renamed `num_words`.")
            num_words = kwargs.pop("nb_words")
        self.document_count = kwargs.pop("document_count", 0)
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments: {kwargs}")
        self.num_words, self.filters, self.lower, self.split = num_words, filters, lower, split
        self.char_level, self.oov_token, self.analyzer = char_level, oov_token, analyzer
        self.word_counts = collections.OrderedDict()
        self.word_docs = collections.defaultdict(int)
        self.index_docs = collections.defaultdict(int)
        self.word_index, self.index_word = {}, {}

    def _tokens(self, text):
        """A text's tokens: its characters (char_level), a given list of words, or its words."""
        if self.char_level or isinstance(text, list):
            if self.lower:
                text = [t.lower() for t in text] if isinstance(text, list) else text.lower()
            return text
        if self.analyzer is not None:
            return self.analyzer(text)
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    def fit_on_texts(self, texts):
        for text in texts:
            self.document_count += 1
            tokens = self._tokens(text)
            for word in tokens:
                self.word_counts[word] = self.word_counts.get(word, 0) + 1
            for word in set(tokens):
                self.word_docs[word] += 1
        ranked = sorted(self.word_counts.items(), key=lambda item: item[1], reverse=True)   # stable: ties keep order
        vocabulary = ([self.oov_token] if self.oov_token is not None else []) + [word for word, _ in ranked]
        self.word_index = {word: i for i, word in enumerate(vocabulary, start=1)}
        self.index_word = {i: word for word, i in self.word_index.items()}
        for word, docs in self.word_docs.items():
            self.index_docs[self.word_index[word]] = docs

    def fit_on_sequences(self, sequences):
        """Document frequencies from index sequences (for tf-idf matrices)."""
        self.document_count += len(sequences)
        for seq in sequences:
            for i in set(seq):
                self.index_docs[i] += 1

    def _kept(self, i):
        return not (self.num_words and i >= self.num_words)

    def texts_to_sequences_generator(self, texts):
        oov = self.word_index.get(self.oov_token)
        for text in texts:
            seq = []
            for word in self._tokens(text):
                i = self.word_index.get(word)
                if i is not None and self._kept(i):
                    seq.append(i)
                elif oov is not None and (i is not None or self.oov_token is not None):
                    seq.append(oov)
            yield seq

    def texts_to_sequences(self, texts):
        return list(self.texts_to_sequences_generator(texts))

    def sequences_to_texts_generator(self, sequences):
        oov = self.word_index.get(self.oov_token)
        for seq in sequences:
            words = []
            for i in seq:
                word = self.index_word.get(i)
                if word is not None and self._kept(i):
                    words.append(word)
                elif oov is not None and (word is not None or self.oov_token is not None):
                    words.append(self.index_word[oov])
            yield " ".join(words)

    def sequences_to_texts(self, sequences):
        return list(self.sequences_to_texts_generator(sequences))

    def texts_to_matrix(self, texts, mode="binary"):
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(self, sequences, mode="binary"):
        """(len(sequences), num_words) float64: per index 'binary' presence, 'count', 'freq'
        (count / sequence length) or 'tfidf' ((1 + log count) * log(1 + docs / (1 + docs with it)))."""
        if self.num_words:
            width = self.num_words
        elif self.word_index:
            width = len(self.word_index) + 1
        else:
            raise ValueError("Specify a dimension (`num_words` argument), or fit on some text data first.")
        if mode not in ("binary", "count", "freq", "tfidf"):
            raise ValueError("Unknown vectorization mode:", mode)
        if mode == "tfidf" and not self.document_count:
            raise ValueError("Fit the Tokenizer on some data before using tfidf mode.")
        out = np.zeros((len(sequences), width))
        for row, seq in enumerate(sequences):
            counts = collections.Counter(j for j in seq if j < width)
            for j, c in counts.items():
                if mode == "binary":
                    out[row, j] = 1
                elif mode == "count":
                    out[row, j] = c
                elif mode == "freq":
                    out[row, j] = c / len(seq)
                else:
                    out[row, j] = (1 + math.log(c)) * math.log(1 + self.document_count / (1 + self.index_docs.get(j, 0)))
        return out

    def get_config(self):
        return {"num_words": self.num_words, "filters": self.filters, "lower": self.lower, "split": self.split,
                "char_level": self.char_level, "oov_token": self.oov_token, "document_count": self.document_count,
                "word_counts": json.dumps(self.word_counts), "word_docs": json.dumps(self.word_docs),
                "index_docs": json.dumps(self.index_docs), "index_word": json.dumps(self.index_word),
                "word_index": json.dumps(self.word_index)}

    def to_json(self, **kwargs):
        return json.dumps({"class_name": type(self).__name__, "config": self.get_config()}, **kwargs)


def tokenizer_from_json(json_string):
    config = dict(json.loads(json_string)["config"])
    state = {key: json.loads(config.pop(key))
             for key in ("word_counts", "word_docs", "index_docs", "index_word", "word_index")}
    tokenizer = Tokenizer(**config)
    tokenizer.word_counts, tokenizer.word_docs, tokenizer.word_index = (
        state["word_counts"], state["word_docs"], state["word_index"])
    tokenizer.index_docs = {int(k): v for k, v in state["index_docs"].items()}
    tokenizer.index_word = {int(k): v for k, v in state["index_word"].items()}
    return tokenizer
