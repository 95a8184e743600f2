"""Import a compiled package (`seqc compile --package`, `seqc export`'s pkg) from its directory,
fresh: a package of the same name imported before is dropped first."""
import importlib
import sys


def import_package(outdir, name):
    sys.path.insert(0, str(outdir))
    try:
        for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[mod]
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(outdir))
