"""seqc: compile Keras Sequential models to specialised C and train them.

Pipeline (one direction):  front end -> ModelSpec -> IR graph -> passes -> C -> cffi -> runtime.
  seqc.frontend.ast_frontend   static parse of a Keras script (never executed)
  seqc.keras                   the Keras-compatible Python API
  seqc.spec                    ModelSpec: the model as the user wrote it
  seqc.ir / seqc.lower         typed graph IR and the lowering of layers to ops
  seqc.passes                  fusion, autodiff schedule, memory planning
  seqc.codegen / seqc.build    Jinja2 -> C, gcc -> shared library, cache
  seqc.runtime                 fit / evaluate / predict with Keras's semantics
"""
__version__ = "0.1.0"
