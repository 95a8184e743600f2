# Source: fchollet/deep-learning-with-python-notebooks, first_edition/4.4-overfitting-and-underfitting.ipynb, code cells 1-6, 9, 10, 13-15, 22, 23 (commit dea84a4e12cc3bb3cb61ce952a0168bca113d315), MIT license.
# seqc-wild: runs
# The notebook's code cells named above, in order (cells 17-21 are illustrative fragments
# that do not run; each marked `# --- code cell N`; the other
# cells plot with matplotlib or only display values).
# Changed for the test (marked `seqc-test`): IMDB's loading swapped for random word-index
# sequences of its kind (fewer rows), epochs cut to 1.
# --- code cell 1
import keras
keras.__version__

# --- code cell 2
from keras.datasets import imdb
import numpy as np

(train_data, train_labels), (test_data, test_labels) = ([list(np.random.randint(1, 10000, np.random.randint(10, 300))) for _ in range(300)], np.random.randint(0, 2, 300)), ([list(np.random.randint(1, 10000, np.random.randint(10, 300))) for _ in range(100)], np.random.randint(0, 2, 100))  # seqc-test: synthetic data

def vectorize_sequences(sequences, dimension=10000):
    # Create an all-zero matrix of shape (len(sequences), dimension)
    results = np.zeros((len(sequences), dimension))
    for i, sequence in enumerate(sequences):
        results[i, sequence] = 1.  # set specific indices of results[i] to 1s
    return results

# Our vectorized training data
x_train = vectorize_sequences(train_data)
# Our vectorized test data
x_test = vectorize_sequences(test_data)
# Our vectorized labels
y_train = np.asarray(train_labels).astype('float32')
y_test = np.asarray(test_labels).astype('float32')

# --- code cell 3
from keras import models
from keras import layers

original_model = models.Sequential()
original_model.add(layers.Dense(16, activation='relu', input_shape=(10000,)))
original_model.add(layers.Dense(16, activation='relu'))
original_model.add(layers.Dense(1, activation='sigmoid'))

original_model.compile(optimizer='rmsprop',
                       loss='binary_crossentropy',
                       metrics=['acc'])

# --- code cell 4
smaller_model = models.Sequential()
smaller_model.add(layers.Dense(4, activation='relu', input_shape=(10000,)))
smaller_model.add(layers.Dense(4, activation='relu'))
smaller_model.add(layers.Dense(1, activation='sigmoid'))

smaller_model.compile(optimizer='rmsprop',
                      loss='binary_crossentropy',
                      metrics=['acc'])

# --- code cell 5
original_hist = original_model.fit(x_train, y_train,
                                   epochs=1,  # seqc-test: was 20
                                   batch_size=512,
                                   validation_data=(x_test, y_test))

# --- code cell 6
smaller_model_hist = smaller_model.fit(x_train, y_train,
                                       epochs=1,  # seqc-test: was 20
                                       batch_size=512,
                                       validation_data=(x_test, y_test))

# --- code cell 9
bigger_model = models.Sequential()
bigger_model.add(layers.Dense(512, activation='relu', input_shape=(10000,)))
bigger_model.add(layers.Dense(512, activation='relu'))
bigger_model.add(layers.Dense(1, activation='sigmoid'))

bigger_model.compile(optimizer='rmsprop',
                     loss='binary_crossentropy',
                     metrics=['acc'])

# --- code cell 10
bigger_model_hist = bigger_model.fit(x_train, y_train,
                                     epochs=1,  # seqc-test: was 20
                                     batch_size=512,
                                     validation_data=(x_test, y_test))

# --- code cell 13
from keras import regularizers

l2_model = models.Sequential()
l2_model.add(layers.Dense(16, kernel_regularizer=regularizers.l2(0.001),
                          activation='relu', input_shape=(10000,)))
l2_model.add(layers.Dense(16, kernel_regularizer=regularizers.l2(0.001),
                          activation='relu'))
l2_model.add(layers.Dense(1, activation='sigmoid'))

# --- code cell 14
l2_model.compile(optimizer='rmsprop',
                 loss='binary_crossentropy',
                 metrics=['acc'])

# --- code cell 15
l2_model_hist = l2_model.fit(x_train, y_train,
                             epochs=1,  # seqc-test: was 20
                             batch_size=512,
                             validation_data=(x_test, y_test))

# --- code cell 22
dpt_model = models.Sequential()
dpt_model.add(layers.Dense(16, activation='relu', input_shape=(10000,)))
dpt_model.add(layers.Dropout(0.5))
dpt_model.add(layers.Dense(16, activation='relu'))
dpt_model.add(layers.Dropout(0.5))
dpt_model.add(layers.Dense(1, activation='sigmoid'))

dpt_model.compile(optimizer='rmsprop',
                  loss='binary_crossentropy',
                  metrics=['acc'])

# --- code cell 23
dpt_model_hist = dpt_model.fit(x_train, y_train,
                               epochs=1,  # seqc-test: was 20
                               batch_size=512,
                               validation_data=(x_test, y_test))
