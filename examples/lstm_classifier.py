# Added for seqc (not in the tutorial, which leaves these undefined): the vocabulary size and
# dummy data in the tutorial's style. Everything below the blank line is the tutorial's text.
import numpy as np
max_features = 20000
x_train = np.random.randint(max_features, size=(1000, 80))
y_train = np.random.randint(2, size=(1000, 1))
x_test = np.random.randint(max_features, size=(100, 80))
y_test = np.random.randint(2, size=(100, 1))

from keras.models import Sequential
from keras.layers import Dense, Dropout
from keras.layers import Embedding
from keras.layers import LSTM

model = Sequential()
model.add(Embedding(max_features, output_dim=256))
model.add(LSTM(128))
model.add(Dropout(0.5))
model.add(Dense(1, activation='sigmoid'))

model.compile(loss='binary_crossentropy',
              optimizer='rmsprop',
              metrics=['accuracy'])

model.fit(x_train, y_train, batch_size=16, epochs=10)
score = model.evaluate(x_test, y_test, batch_size=16)
