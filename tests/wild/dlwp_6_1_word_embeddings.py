# Source: fchollet/deep-learning-with-python-notebooks, first_edition/6.1-using-word-embeddings.ipynb, code cells 1-4 (commit dea84a4e12cc3bb3cb61ce952a0168bca113d315), MIT license.
# seqc-wild: runs
# The notebook's first example (code cells 1-4: an Embedding trained on IMDB; the later cells
# read the raw aclImdb texts and GloVe files from disk).
# Changed for the test (marked `seqc-test`): IMDB's loading swapped for random word-index
# sequences of its kind (fewer rows), epochs cut to 1.
# --- code cell 1
import keras
keras.__version__

# --- code cell 2
from keras.layers import Embedding

# The Embedding layer takes at least two arguments:
# the number of possible tokens, here 1000 (1 + maximum word index),
# and the dimensionality of the embeddings, here 64.
embedding_layer = Embedding(1000, 64)

# --- code cell 3
from keras.datasets import imdb
from keras import preprocessing
import numpy as np  # seqc-test: for the synthetic data

# Number of words to consider as features
max_features = 10000
# Cut texts after this number of words 
# (among top max_features most common words)
maxlen = 20

# Load the data as lists of integers.
(x_train, y_train), (x_test, y_test) = ([list(np.random.randint(1, max_features, np.random.randint(10, 300))) for _ in range(400)], np.random.randint(0, 2, 400)), ([list(np.random.randint(1, max_features, np.random.randint(10, 300))) for _ in range(100)], np.random.randint(0, 2, 100))  # seqc-test: synthetic data

# This turns our lists of integers
# into a 2D integer tensor of shape `(samples, maxlen)`
x_train = preprocessing.sequence.pad_sequences(x_train, maxlen=maxlen)
x_test = preprocessing.sequence.pad_sequences(x_test, maxlen=maxlen)

# --- code cell 4
from keras.models import Sequential
from keras.layers import Flatten, Dense

model = Sequential()
# We specify the maximum input length to our Embedding layer
# so we can later flatten the embedded inputs
model.add(Embedding(10000, 8, input_length=maxlen))
# After the Embedding layer, 
# our activations have shape `(samples, maxlen, 8)`.

# We flatten the 3D tensor of embeddings 
# into a 2D tensor of shape `(samples, maxlen * 8)`
model.add(Flatten())

# We add the classifier on top
model.add(Dense(1, activation='sigmoid'))
model.compile(optimizer='rmsprop', loss='binary_crossentropy', metrics=['acc'])
model.summary()

history = model.fit(x_train, y_train,
                    epochs=1,  # seqc-test: was 10
                    batch_size=32,
                    validation_split=0.2)
