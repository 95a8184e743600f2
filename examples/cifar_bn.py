# A CIFAR-10-style convnet with BatchNormalization (Conv-BN-ReLU blocks), as Keras's classic
# cifar10_cnn example builds it with normalisation; random data of CIFAR-10's shapes.
import numpy as np
import keras
from keras import layers

x_train = np.random.random((640, 32, 32, 3)).astype("float32")
y_train = keras.utils.to_categorical(np.random.randint(10, size=(640, 1)), num_classes=10)

model = keras.Sequential([keras.Input(shape=(32, 32, 3))])
for filters, padding in ((32, "same"), (32, "valid")):
    model.add(layers.Conv2D(filters, (3, 3), padding=padding))
    model.add(layers.BatchNormalization())
    model.add(layers.Activation("relu"))
model.add(layers.MaxPooling2D(pool_size=(2, 2)))
model.add(layers.Dropout(0.25))
for filters, padding in ((64, "same"), (64, "valid")):
    model.add(layers.Conv2D(filters, (3, 3), padding=padding))
    model.add(layers.BatchNormalization())
    model.add(layers.Activation("relu"))
model.add(layers.MaxPooling2D(pool_size=(2, 2)))
model.add(layers.Dropout(0.25))
model.add(layers.Flatten())
model.add(layers.Dense(512))
model.add(layers.BatchNormalization())
model.add(layers.Activation("relu"))
model.add(layers.Dropout(0.5))
model.add(layers.Dense(10, activation="softmax"))

model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=32, epochs=2)
