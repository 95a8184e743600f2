"""`seqc run SCRIPT.py [ARGS...]`: run an unchanged Keras script on seqc.

An import hook (a sys.meta_path finder and loader) serves `keras`, `keras.<sub>`, `tensorflow`
(a stub whose `.keras` is seqc.keras) and `tensorflow.keras.<sub>` from the seqc.keras modules,
then the script runs as `__main__` with runpy. A user error that seqc raises while the script
runs (SeqcError, or a ValueError/TypeError from inside seqc) is reported as `FILE:LINE: message`
at the innermost line of the user's code, not as a Python traceback.
"""
import importlib
import importlib.abc
import importlib.machinery
import os
import runpy
import sys
import sysconfig
import types

from ..errors import SeqcError, SourceLoc
from . import keras_paths
from .source import read_source

def _set_seed(seed):
    from ..keras.utils import set_random_seed
    set_random_seed(seed)


def make_tensorflow_stub():
    """A `tensorflow` module that holds only `tf.keras` (and `tf.random.set_seed`)."""
    import seqc.keras
    tf = types.ModuleType("tensorflow", "seqc's stand-in for TensorFlow: only tf.keras is provided.")
    tf.__path__ = []                  # a package, so `import tensorflow.keras.layers` works
    tf.__version__ = "2.16.0-seqc"
    tf.keras = seqc.keras
    # TensorFlow 2 exposes these Keras modules at its top level too (tf.initializers.zeros())
    for name in ("initializers", "optimizers", "losses", "metrics"):
        setattr(tf, name, getattr(seqc.keras, name))
    tf.random = types.SimpleNamespace(set_seed=_set_seed)
    tf.float32 = "float32"
    from seqc.keras import tf_ops      # tf.reduce_mean, tf.nn.relu, ... for user layers
    for k, fn in tf_ops.TOP.items():
        setattr(tf, k, fn)
    tf.nn = types.SimpleNamespace(**tf_ops.NN)
    tf.math = types.SimpleNamespace(**tf_ops.MATH)

    def __getattr__(name):
        raise AttributeError(f"seqc runs Keras models only: tensorflow.{name} is not available "
                             "(the tensorflow module under `seqc run` provides tf.keras)")
    tf.__getattr__ = __getattr__
    return tf


class _AliasLoader(importlib.abc.Loader):
    """Hands out an existing module object (a seqc.keras module or the tensorflow stub)."""

    def __init__(self, module, patched):
        self.module = module
        self.saved_spec = getattr(module, "__spec__", None)
        self.had_path = hasattr(module, "__path__")
        self.patched = patched          # modules given a __path__ for the run, to undo afterwards

    def create_module(self, spec):
        return self.module

    def exec_module(self, module):
        # the import system stamped our alias spec on the module: give it back its own identity
        if self.saved_spec is not None:
            module.__spec__ = self.saved_spec
        if not self.had_path and hasattr(module, "__path__"):
            self.patched.append(module)


class KerasFinder(importlib.abc.MetaPathFinder):
    """Serves keras / tensorflow(.keras) imports from seqc.keras."""

    def __init__(self):
        self._tf = None
        self.patched = []

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "tensorflow":
            if self._tf is None:
                self._tf = make_tensorflow_stub()
            return importlib.machinery.ModuleSpec(fullname, _AliasLoader(self._tf, []), is_package=True)
        sub = keras_paths.keras_subpath(fullname, seqc_root=False)
        if sub is None:
            if fullname.startswith("tensorflow."):
                raise ModuleNotFoundError(f"No module named {fullname!r}: under `seqc run`, tensorflow provides "
                                          "only tensorflow.keras", name=fullname)
            return None
        target_name = keras_paths.SUBMODULES.get(sub)
        if target_name is None and keras_paths.is_package(sub):    # keras.engine of keras.engine.sequential
            return importlib.machinery.ModuleSpec(fullname, _AliasLoader(types.ModuleType(fullname), []),
                                                  is_package=True)
        if target_name is None:
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: seqc.keras provides {', '.join(keras_paths.PROVIDED)}",
                name=fullname)
        module = importlib.import_module(target_name)
        # a module with sub-paths (keras.optimizers.schedules, keras.layers.core) must be a package
        is_package = hasattr(module, "__path__") or keras_paths.is_package(sub)
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(module, self.patched), is_package=is_package)


def _is_alias_name(name):
    return name == "tensorflow" or name.startswith("tensorflow.") or name == "keras" or name.startswith("keras.")


class keras_imports:
    """Context manager: while active, keras / tensorflow imports resolve to seqc.keras."""

    def __enter__(self):
        self.saved = {k: v for k, v in sys.modules.items() if _is_alias_name(k)}
        for k in self.saved:
            del sys.modules[k]
        self.finder = KerasFinder()
        sys.meta_path.insert(0, self.finder)
        return self

    def __exit__(self, *exc):
        if self.finder in sys.meta_path:
            sys.meta_path.remove(self.finder)
        for module in self.finder.patched:
            try:
                del module.__path__
            except AttributeError:
                pass
        for k in [k for k in sys.modules if _is_alias_name(k)]:
            del sys.modules[k]
        sys.modules.update(self.saved)
        return False


# ---------------------------------------------------------------------------------------------
# error locations
# ---------------------------------------------------------------------------------------------
_SEQC_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _library_dirs():
    dirs = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            d = sysconfig.get_paths()[key]
        except KeyError:  # pragma: no cover
            continue
        dirs.add(os.path.abspath(d) + os.sep)
    return tuple(dirs)


def _is_user_file(filename, libs):
    if not filename or filename.startswith("<"):
        return False
    f = os.path.abspath(filename)
    return not f.startswith(_SEQC_DIR) and not f.startswith(libs)


def user_location(exc):
    """(SourceLoc of the innermost user frame, raised-inside-seqc?) for an exception."""
    libs = _library_dirs()
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append((tb.tb_frame.f_code.co_filename, tb.tb_lineno))
        tb = tb.tb_next
    last_user = None
    for i, (f, line) in enumerate(frames):
        if _is_user_file(f, libs):
            last_user = i
    if last_user is None:
        return None, False
    inside_seqc = any(os.path.abspath(f).startswith(_SEQC_DIR) for f, _ in frames[last_user + 1:])
    f, line = frames[last_user]
    return SourceLoc(f, line), inside_seqc


def _seqc_callable_named(name):
    """Is `name` (as Python prints it in a TypeError) a class or function of seqc.keras?"""
    for m in keras_paths.SEQC_MODULES:
        mod = sys.modules.get(m)
        if mod is not None and callable(getattr(mod, name, None)) and not name.startswith("_"):
            return True
    return False


def _missing(module_name, attr):
    path = tuple(keras_paths.KERAS_NAME[module_name].split(".")[1:])
    return keras_paths.missing_message(path, attr)


def as_user_error(e):
    """The SeqcError to report for an exception raised while a script runs, or None when it is
    the script's own bug (then Python's traceback is the right report)."""
    import re
    loc, inside_seqc = user_location(e)
    if isinstance(e, SeqcError):
        if e.loc is not None and e.loc.file and _is_user_file(e.loc.file, _library_dirs()):
            loc = e.loc                 # seqc already knows the exact line (a layer, a def)
        return SeqcError(e.message, loc)
    if isinstance(e, ModuleNotFoundError) and e.name and _is_alias_name(e.name):
        return SeqcError(str(e), loc)
    if isinstance(e, ImportError) and e.name in keras_paths.SEQC_MODULES:
        m = re.match(r"cannot import name '(\w+)'", str(e))
        if m:
            return SeqcError(f"cannot import {m.group(1)} from {keras_paths.KERAS_NAME[e.name]}: "
                             f"{_missing(e.name, m.group(1))}", loc)
    if isinstance(e, AttributeError) and getattr(e, "obj", None) is not None and \
            getattr(e.obj, "__name__", None) in keras_paths.SEQC_MODULES and getattr(e, "name", None):
        return SeqcError(_missing(e.obj.__name__, e.name), loc)
    if isinstance(e, (ValueError, TypeError)):
        if inside_seqc:
            return SeqcError(str(e), loc)
        if isinstance(e, TypeError):    # argument binding of a seqc class: raised at the call site
            m = re.match(r"(\w+)(?:\.__init__)?\(\) (.*)", str(e), re.S)
            if m and _seqc_callable_named(m.group(1)):
                return SeqcError(f"{m.group(1)}() {m.group(2)}", loc)
    return None


def run_script(path, argv=()):
    """Run a Keras script as __main__ on seqc. User errors raised by seqc become a SeqcError
    located in the script (FILE:LINE); anything else propagates unchanged."""
    path = os.fspath(path)
    read_source(path)        # a regular file of a sane size, else one clean error (a FIFO never blocks)
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [path, *argv]
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    try:
        with keras_imports():
            try:
                runpy.run_path(path, run_name="__main__")
            except SyntaxError as e:
                if e.filename and os.path.abspath(e.filename) == os.path.abspath(path):
                    raise SeqcError(e.msg, SourceLoc(path, e.lineno)) from None
                raise
            except (ValueError, TypeError, ImportError, AttributeError) as e:
                err = as_user_error(e)
                if err is None:
                    raise
                raise err from None
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path
