# Source: fchollet/deep-learning-with-python-notebooks, first_edition/6.4-sequence-processing-with-convnets.ipynb, code cells 1-3 (commit dea84a4e12cc3bb3cb61ce952a0168bca113d315), MIT license.
# seqc-wild: runs
# The notebook's first example (code cells 1-3: a 1D convnet on IMDB).
# Changed for the test (marked `seqc-test`): IMDB's loading swapped for random word-index
# sequences of its kind (fewer rows), epochs cut to 1.
# --- code cell 1
import keras
keras.__version__

# --- code cell 2
from keras.datasets import imdb
from keras.preprocessing import sequence
import numpy as np  # seqc-test: for the synthetic data

max_features = 10000  # number of words to consider as features
max_len = 500  # cut texts after this number of words (among top max_features most common words)

print('Loading data...')
(x_train, y_train), (x_test, y_test) = ([list(np.random.randint(1, max_features, np.random.randint(10, 300))) for _ in range(200)], np.random.randint(0, 2, 200)), ([list(np.random.randint(1, max_features, np.random.randint(10, 300))) for _ in range(50)], np.random.randint(0, 2, 50))  # seqc-test: synthetic data
print(len(x_train), 'train sequences')
print(len(x_test), 'test sequences')

print('Pad sequences (samples x time)')
x_train = sequence.pad_sequences(x_train, maxlen=max_len)
x_test = sequence.pad_sequences(x_test, maxlen=max_len)
print('x_train shape:', x_train.shape)
print('x_test shape:', x_test.shape)

# --- code cell 3
from keras.models import Sequential
from keras import layers
from keras.optimizers import RMSprop

model = Sequential()
model.add(layers.Embedding(max_features, 128, input_length=max_len))
model.add(layers.Conv1D(32, 7, activation='relu'))
model.add(layers.MaxPooling1D(5))
model.add(layers.Conv1D(32, 7, activation='relu'))
model.add(layers.GlobalMaxPooling1D())
model.add(layers.Dense(1))

model.summary()

model.compile(optimizer=RMSprop(lr=1e-4),
              loss='binary_crossentropy',
              metrics=['acc'])
history = model.fit(x_train, y_train,
                    epochs=1,  # seqc-test: was 10
                    batch_size=128,
                    validation_split=0.2)
