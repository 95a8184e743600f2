"""`keras.initializers`."""
from ..initializers import *  # noqa: F401,F403
from ..initializers import Initializer, get  # noqa: F401
