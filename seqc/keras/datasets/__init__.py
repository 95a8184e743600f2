"""`keras.datasets`: the data sets Keras scripts load, read from the files Keras caches under
`~/.keras/datasets/` (same names and formats, fetched with keras.utils.get_file when absent),
with Keras 3's shuffling, index arithmetic and shapes."""
from . import boston_housing, cifar10, cifar100, fashion_mnist, imdb, mnist, reuters  # noqa: F401
