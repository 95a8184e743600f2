"""What Dense and Conv share: weights (kernel, optional bias) and an activation applied to the
output in the kernel's epilogue, with the pre-activation z saved when the activation's gradient
needs it (passes.plan_backward). One declaration of their kernels' parameters."""
from .. import activations
from .base import Arg, Buf, OpKind


class WeightedEpilogue(OpKind):
    activation_epilogue = True
    saves_pre_activation = True
    uses_gemm = True

    def buffers(self, op):
        return [Buf("pre", op.output.size, True)] if op.save_pre else []

    def activations(self, op):
        return {op.attrs.act} - {"linear"}     # a linear epilogue calls nothing

    def activation_grads(self, op):
        return set() if op.grad_is_pre else self.activations(op)

    def forward_args(self, op, ctx):
        """x, W, [bias], y, [z: the saved pre-activation], the team."""
        args = [Arg("int ", "B", "B"), Arg("const float *", "x", ctx.x(op)),
                Arg("const float *", "W", ctx.w(op, "kernel"))]
        if "bias" in op.params:
            args.append(Arg("const float *", "bias", ctx.w(op, "bias")))
        args.append(Arg("float *", "y", ctx.y(op)))
        if op.save_pre:
            args.append(Arg("float *", "z", ctx.buf(op, "pre")))
        return args + [Arg("const seqc_team *", "tm", "&m->team")]

    def backward_args(self, op, ctx):
        """x, [W for dx], [y, z: what the activation's gradient reads], dy (overwritten by dz),
        [dx], dW, [db], the team."""
        args = [Arg("int ", "B", "B"), Arg("const float *", "x", ctx.x(op))]
        if op.needs_dx:
            args.append(Arg("const float *", "W", ctx.w(op, "kernel")))
        if reads_y(op):
            args.append(Arg("const float *", "y", ctx.y(op)))
        if op.save_pre:
            args.append(Arg("const float *", "z", ctx.buf(op, "pre")))
        args.append(Arg("float *", "dy", ctx.dy(op)))
        if op.needs_dx:
            args.append(Arg("float *", "dx", ctx.dx(op)))
        args.append(Arg("float *", "dW", ctx.dw(op, "kernel")))
        if "bias" in op.params:
            args.append(Arg("float *", "db", ctx.dw(op, "bias")))
        return args + [Arg("const seqc_team *", "tm", "&m->team")]


def reads_y(op):
    """Whether the epilogue activation's gradient reads the op's output y."""
    act = activations.get(op.attrs.act)
    return not op.grad_is_pre and act.name != "linear" and "y" in act.grad_needs
