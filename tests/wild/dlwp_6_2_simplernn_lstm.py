# Source: fchollet/deep-learning-with-python-notebooks, first_edition/6.2-understanding-recurrent-neural-networks.ipynb, code cells 1-7, 9 (commit dea84a4e12cc3bb3cb61ce952a0168bca113d315), MIT license.
# seqc-wild: runs
# The notebook's code cells named above, in order (each marked `# --- code cell N`; the other
# cells plot with matplotlib or only display values).
# Changed for the test (marked `seqc-test`): IMDB's loading swapped for random word-index
# sequences of its kind (fewer rows), epochs cut to 1.
# --- code cell 1
import keras
keras.__version__

# --- code cell 2
from keras.layers import SimpleRNN

# --- code cell 3
from keras.models import Sequential
from keras.layers import Embedding, SimpleRNN

model = Sequential()
model.add(Embedding(10000, 32))
model.add(SimpleRNN(32))
model.summary()

# --- code cell 4
model = Sequential()
model.add(Embedding(10000, 32))
model.add(SimpleRNN(32, return_sequences=True))
model.summary()

# --- code cell 5
model = Sequential()
model.add(Embedding(10000, 32))
model.add(SimpleRNN(32, return_sequences=True))
model.add(SimpleRNN(32, return_sequences=True))
model.add(SimpleRNN(32, return_sequences=True))
model.add(SimpleRNN(32))  # This last layer only returns the last outputs.
model.summary()

# --- code cell 6
from keras.datasets import imdb
from keras.preprocessing import sequence
import numpy as np  # seqc-test: for the synthetic data

max_features = 10000  # number of words to consider as features
maxlen = 500  # cut texts after this number of words (among top max_features most common words)
batch_size = 32

print('Loading data...')
(input_train, y_train), (input_test, y_test) = ([list(np.random.randint(1, max_features, np.random.randint(10, 300))) for _ in range(160)], np.random.randint(0, 2, 160)), ([list(np.random.randint(1, max_features, np.random.randint(10, 300))) for _ in range(40)], np.random.randint(0, 2, 40))  # seqc-test: synthetic data
print(len(input_train), 'train sequences')
print(len(input_test), 'test sequences')

print('Pad sequences (samples x time)')
input_train = sequence.pad_sequences(input_train, maxlen=maxlen)
input_test = sequence.pad_sequences(input_test, maxlen=maxlen)
print('input_train shape:', input_train.shape)
print('input_test shape:', input_test.shape)

# --- code cell 7
from keras.layers import Dense

model = Sequential()
model.add(Embedding(max_features, 32))
model.add(SimpleRNN(32))
model.add(Dense(1, activation='sigmoid'))

model.compile(optimizer='rmsprop', loss='binary_crossentropy', metrics=['acc'])
history = model.fit(input_train, y_train,
                    epochs=1,  # seqc-test: was 10
                    batch_size=128,
                    validation_split=0.2)

# --- code cell 9
from keras.layers import LSTM

model = Sequential()
model.add(Embedding(max_features, 32))
model.add(LSTM(32))
model.add(Dense(1, activation='sigmoid'))

model.compile(optimizer='rmsprop',
              loss='binary_crossentropy',
              metrics=['acc'])
history = model.fit(input_train, y_train,
                    epochs=1,  # seqc-test: was 10
                    batch_size=128,
                    validation_split=0.2)
