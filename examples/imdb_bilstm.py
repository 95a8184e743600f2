# keras-io's bidirectional LSTM on IMDB (one recurrent layer), on random token indices of the
# padded reviews' shape.
import numpy as np
import keras
from keras import layers

max_features, maxlen = 20000, 200
x_train = np.random.randint(1, max_features, size=(640, maxlen))
y_train = np.random.randint(0, 2, size=(640, 1))

model = keras.Sequential([
    keras.Input(shape=(maxlen,), dtype="int32"),
    layers.Embedding(max_features, 128),
    layers.Bidirectional(layers.LSTM(64)),
    layers.Dense(1, activation="sigmoid"),
])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=32, epochs=2)
