# Source: keras-team/keras, examples/imdb_bidirectional_lstm.py (commit 1a3ee8441933fc007be6b2beb47af67998d50737), MIT license.
# seqc-wild: runs
# Changed for the test (marked `seqc-test`): IMDB's loading swapped for random word-index
# sequences of its kind (fewer rows), epochs cut to 1.
'''
#Trains a Bidirectional LSTM on the IMDB sentiment classification task.

Output after 4 epochs on CPU: ~0.8146
Time per epoch on CPU (Core i7): ~150s.
'''

from __future__ import print_function
import numpy as np

from keras.preprocessing import sequence
from keras.models import Sequential
from keras.layers import Dense, Dropout, Embedding, LSTM, Bidirectional
from keras.datasets import imdb


max_features = 20000
# cut texts after this number of words
# (among top max_features most common words)
maxlen = 100
batch_size = 32

print('Loading data...')
(x_train, y_train), (x_test, y_test) = ([list(np.random.randint(1, max_features, np.random.randint(10, 300))) for _ in range(200)], np.random.randint(0, 2, 200)), ([list(np.random.randint(1, max_features, np.random.randint(10, 300))) for _ in range(50)], np.random.randint(0, 2, 50))  # seqc-test: synthetic data
print(len(x_train), 'train sequences')
print(len(x_test), 'test sequences')

print('Pad sequences (samples x time)')
x_train = sequence.pad_sequences(x_train, maxlen=maxlen)
x_test = sequence.pad_sequences(x_test, maxlen=maxlen)
print('x_train shape:', x_train.shape)
print('x_test shape:', x_test.shape)
y_train = np.array(y_train)
y_test = np.array(y_test)

model = Sequential()
model.add(Embedding(max_features, 128, input_length=maxlen))
model.add(Bidirectional(LSTM(64)))
model.add(Dropout(0.5))
model.add(Dense(1, activation='sigmoid'))

# try using different optimizers and different optimizer configs
model.compile('adam', 'binary_crossentropy', metrics=['accuracy'])

print('Train...')
model.fit(x_train, y_train,
          batch_size=batch_size,
          epochs=1,  # seqc-test: was 4
          validation_data=[x_test, y_test])
