"""Front ends that read Keras scripts.

  parse_script(path, defines)  static: the script is read with `ast`, never executed -> ModelSpec
  run_script(path, argv)       dynamic: the script runs with its keras imports served by seqc.keras
"""


def parse_script(path, defines=None):
    from .ast_frontend import parse_script as _parse
    return _parse(path, defines)


def run_script(path, argv=()):
    from .runner import run_script as _run
    return _run(path, argv)


__all__ = ["parse_script", "run_script"]
