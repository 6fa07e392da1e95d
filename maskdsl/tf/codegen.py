"""IR -> TensorFlow Python source -> a function, run in a namespace of `tf` and `rt` only.

Codegen decides nothing: choose_strategy has annotated every select, update and
reduce with the formulation to use. Each IR node becomes one line; names in the
source are generated (`t3`, `x_1`), literals are printed from parsed values, and the
user's text never reaches exec.

>>> from maskdsl.language import prepare
>>> from maskdsl.passes import optimize
>>> print(generate(optimize(prepare("x[x > 4] *= 2", x="int32[None]"))).source)
def program(x_0):
    t1 = tf.greater(x_0, tf.constant(4, tf.int32))
    t2 = tf.multiply(x_0, tf.constant(2, tf.int32))
    x_1 = tf.where(t1, t2, x_0)
    return {'x': x_1}
<BLANKLINE>
"""

from __future__ import annotations

import math

import numpy as np
from dataclasses import dataclass, field

from maskdsl.tf import runtime  # before TensorFlow: it sets TensorFlow's log level
from maskdsl.tf.runtime import tf
from maskdsl.ir.dtypes import dtype_kind
from maskdsl.errors import DTypeError, IndexOutOfRangeError, MaskDSLError, ShapeError, Span, ValueDSLError
from maskdsl.gcpause import paused
from maskdsl.ir.indexing import MASKS, IndexKind, node_plan
from maskdsl.ir.nodes import Node, Program, postorder, same_shape
from maskdsl.language.names import IDENTIFIER, is_identifier

SIMPLE = {
    "add": "tf.add", "sub": "tf.subtract", "mul": "tf.multiply", "truediv": "tf.math.truediv",
    "eq": "tf.equal", "ne": "tf.not_equal", "lt": "tf.less", "le": "tf.less_equal", "gt": "tf.greater",
    "ge": "tf.greater_equal", "neg": "tf.negative", "abs": "tf.abs", "sign": "tf.sign", "sqrt": "tf.sqrt",
    "exp": "tf.exp", "log": "tf.math.log", "log1p": "tf.math.log1p", "expm1": "tf.math.expm1",
    "sin": "tf.sin", "cos": "tf.cos", "tan": "tf.tan", "tanh": "tf.tanh", "minimum": "rt.minimum",
    "maximum": "rt.maximum", "isnan": "rt.isnan_any", "isinf": "rt.isinf_any", "isfinite": "rt.isfinite_any",
    "and": "tf.bitwise.bitwise_and", "or": "tf.bitwise.bitwise_or", "xor": "tf.bitwise.bitwise_xor",
    "invert": "tf.bitwise.invert",
}
# On booleans NumPy's arithmetic and bitwise ops are logical ones.
ON_BOOL = {"add": "tf.logical_or", "mul": "tf.logical_and", "and": "tf.logical_and", "or": "tf.logical_or",
           "xor": "tf.math.logical_xor", "invert": "rt.logical_not", "maximum": "tf.logical_or",
           "minimum": "tf.logical_and", "abs": "tf.identity"}
ON_INT = {"floor": "tf.identity", "ceil": "tf.identity", "round": "tf.identity", "floordiv": "rt.floordiv_int",
          "mod": "rt.mod_int"}
ON_FLOAT = {"floor": "tf.floor", "ceil": "tf.math.ceil", "round": "tf.round", "floordiv": "rt.floordiv_float",
            "mod": "rt.mod_float", "pow": "tf.pow"}
REDUCERS = {"sum": "tf.reduce_sum", "prod": "tf.reduce_prod", "min": "rt.reduce_min", "max": "rt.reduce_max",
            "mean": "tf.reduce_mean", "any": "tf.reduce_any", "all": "tf.reduce_all"}


@dataclass
class Check:
    """A run-time check: what error to raise, and where it points, when its tag fires."""
    error: type
    message: str
    span: Span | None


@dataclass
class Generated:
    source: str
    function: object
    checks: dict[str, Check] = field(default_factory=dict)
    line_spans: dict = field(default_factory=dict)  # source line number -> span of the node it computes


def literal(value) -> str:
    """Python source for a parsed literal value (never user text)."""
    if isinstance(value, tuple):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return "rt.nan"
        if math.isinf(value):
            return "rt.inf" if value > 0 else "-rt.inf"
        return repr(float(value))
    raise TypeError(f"not a literal: {value!r}")


def _converted(value, dtype: str):
    """A literal as `dtype` would hold it (2.7 -> 2 for integers: NumPy's unsafe cast on assignment)."""
    kind = dtype_kind(dtype)
    if (kind in "iu" and isinstance(value, float)) or (kind == "b" and not isinstance(value, tuple)):
        with np.errstate(all="ignore"):  # NumPy's unsafe cast, as assignment does (inf, nan included)
            return np.array(value).astype(dtype).item()
    return value


def tf_dtype(dtype: str) -> str:
    if not IDENTIFIER.match(dtype):
        raise ValueError(dtype)
    return f"tf.{dtype}"


class Emitter:
    def __init__(self, program: Program):
        self.program = program
        self.lines: list[str] = []
        self.names: dict[int, str] = {}
        self.counter = 0
        self.checks: dict[str, Check] = {}
        self.indent = 4
        self.line_spans: dict[int, Span] = {}
        self.current_span: Span | None = None
        self.shape_roots: dict = {}
        self.branch_only: dict[int, Node] = {}  # nodes emitted inside a tf.cond branch, not before
        self.statement_names: dict[int, str] = {}
        for s in program.statements:
            if s.target:
                self.statement_names.setdefault(id(s.value), f"{s.target}_{s.version}")

    # ---- helpers ----
    def fresh(self, node: Node | None = None) -> str:
        if node is not None and id(node) in self.statement_names:
            name = self.statement_names[id(node)]
            if is_identifier(name):
                return name
        self.counter += 1
        return f"t{self.counter}"

    def check(self, error: type, message: str, span: Span | None) -> str:
        tag = f"{runtime.TAG}{len(self.checks) + 1}"
        self.checks[tag] = Check(error, message, span)
        return repr(tag)

    def empty_check(self, kind: str, span: Span | None) -> str:
        """The tag of min/max's run-time check that something is reduced (NumPy raises ValueError)."""
        return self.check(ValueDSLError, f"zero-size array to reduction operation {kind}imum which has no identity",
                          span)

    def ref(self, node: Node) -> str:
        if id(node) not in self.names and node.op == "const":
            self.emit(node, f"tf.constant({literal(node.attr('value'))}, {tf_dtype(node.dtype)})")
        return self.names[id(node)]

    def as_dtype(self, node: Node, dtype: str) -> str:
        """An expression for node's value as `dtype` (weak literals become constants of it)."""
        if node.op == "const":
            return f"tf.constant({literal(_converted(node.attr('value'), dtype))}, {tf_dtype(dtype)})"
        if node.dtype == dtype:
            return self.ref(node)
        return f"tf.cast({self.ref(node)}, {tf_dtype(dtype)})"

    def line(self, text: str) -> None:
        self.lines.append(" " * self.indent + text)
        if self.current_span is not None:
            self.line_spans[len(self.lines) + 1] = self.current_span  # +1: the `def program` line

    def emit(self, node: Node, expr: str) -> None:
        name = self.fresh(node)
        self.line(f"{name} = {expr}")
        self.names[id(node)] = name

    # ---- nodes ----
    def node(self, node: Node) -> None:
        self.current_span = node.span
        handler = getattr(self, f"op_{node.op}", None)
        if handler is None:
            if node.op in SIMPLE or node.op in ON_INT or node.op in ON_FLOAT or node.op in ("pow", "pos", "not",
                                                                                            "where", "clip"):
                return self.elementwise(node)
            raise MaskDSLError(f"code generation has no lowering for IR op {node.op!r}", node.span)
        handler(node)

    def op_input(self, node):
        self.names[id(node)] = self.param(node)

    def param(self, node) -> str:
        name = node.attr("name")
        if not is_identifier(name):
            raise MaskDSLError(f"invalid input name {name!r}", node.span)
        return f"{name}_0"  # never a generated name (t<n>, <target>_<version >= 1>, tf, rt)

    def op_const(self, node):
        pass  # constants are written where they are used (as_dtype), or on first reference

    def elementwise(self, node: Node) -> None:
        op = node.op
        compute = node.attr("compute") or node.dtype
        kind = dtype_kind(compute)
        if op == "where":
            c, a, b = node.args
            cond = self.ref(c) if c.dtype == "bool" and c.op != "const" else self.as_dtype(c, "bool")
            return self.emit(node, f"tf.where({cond}, {self.as_dtype(a, node.dtype)}, {self.as_dtype(b, node.dtype)})")
        if op == "clip":
            x, lo, hi = (self.as_dtype(a, node.dtype) for a in node.args)
            return self.emit(node, f"rt.minimum(rt.maximum({x}, {lo}), {hi})")
        if op == "not":
            arg = node.args[0]
            value = self.ref(arg) if arg.dtype == "bool" and arg.op != "const" else self.as_dtype(arg, "bool")
            return self.emit(node, f"rt.logical_not({value})")
        args = [self.as_dtype(a, compute) for a in node.args]
        if op == "pos":
            return self.emit(node, f"tf.identity({args[0]})")
        if op == "pow" and kind in "iub":
            divisor = node.args[1]
            if divisor.op == "const":
                fn = "tf.pow"
            else:
                tag = self.check(ValueDSLError, "integers to negative integer powers are not allowed", node.span)
                return self.emit(node, f"rt.pow_int({', '.join(args)}, {tag})")
        elif kind == "b" and op in ON_BOOL:
            fn = ON_BOOL[op]
        elif kind in "iu" and op in ON_INT:
            fn = ON_INT[op]
            divisor = node.args[1] if len(node.args) > 1 else None
            if divisor is not None and divisor.op == "const" and divisor.shape == () and divisor.attr("value") not in (0, -1):
                fn = {"rt.floordiv_int": "tf.math.floordiv", "rt.mod_int": "tf.math.floormod"}[fn]
        elif kind == "f" and op in ON_FLOAT:
            fn = ON_FLOAT[op]
        elif op in SIMPLE:
            fn = SIMPLE[op]
        else:
            raise DTypeError(f"{op} is not supported for {compute}", node.span)
        expr = f"{fn}({', '.join(args)})"
        if node.dtype != compute and op not in ("eq", "ne", "lt", "le", "gt", "ge", "isnan", "isinf", "isfinite"):
            expr = f"tf.cast({expr}, {tf_dtype(node.dtype)})"
        self.emit(node, expr)

    def op_cast(self, node):
        self.emit(node, self.as_dtype(node.args[0], node.dtype))

    def op_reduce(self, node):
        kind = node.attr("kind")
        x = node.args[0]
        axes = node.attr("axes")
        keep = node.attr("keepdims")
        axis = "None" if node.attr("axis") is None else repr(list(axes))
        strategy = node.attr("strategy")
        if strategy == "masked":
            return self.masked_reduce(node)
        if kind == "count" and node.attr("axis") is None and not keep:
            truth = self.ref(x) if x.dtype == "bool" else f"tf.not_equal({self.ref(x)}, 0)"
            return self.emit(node, f"rt.count_true({truth})")
        if kind == "count":
            return self.emit(node, f"tf.math.count_nonzero({self.ref(x)}, axis={axis}, keepdims={keep}, dtype=tf.int64)")
        if kind in ("any", "all"):
            return self.emit(node, f"{REDUCERS[kind]}({self.as_dtype(x, 'bool')}, axis={axis}, keepdims={keep})")
        if kind == "mean":
            acc = "float32" if node.dtype == "float16" else node.dtype
            expr = f"tf.reduce_mean({self.as_dtype(x, acc)}, axis={axis}, keepdims={keep})"
            return self.emit(node, expr if acc == node.dtype else f"tf.cast({expr}, {tf_dtype(node.dtype)})")
        expr = f"{REDUCERS[kind]}({self.as_dtype(x, node.dtype)}, axis={axis}, keepdims={keep})"
        if kind in ("min", "max") and (None in x.shape):
            tag = self.empty_check(kind, node.span)
            self.emit(node, expr)
            name = self.ref(node)
            self.line(f"{name} = rt.nonempty({name}, tf.size({self.ref(x)}), {tag})")
            return
        self.emit(node, expr)

    def masked_reduce(self, node):
        """reduce(x[m]) without the dynamic shape: reduce(where(m, x, identity))."""
        kind = node.attr("kind")
        x, mask = node.args
        trailing = len(x.shape) - len(mask.shape)
        span = node.span
        m = self.mask_checked(mask, x, 0, span)
        mb = f"rt.expand_mask({m}, {trailing})" if trailing else m
        whole = node.attr("axis") is None
        axes = list(range(len(x.shape))) if whole else list(range(len(mask.shape)))
        keep = node.attr("keepdims")
        axis = repr(axes)
        if not trailing and len(axes) == len(x.shape):
            return self.whole_masked_reduce(node, m)
        if kind in ("sum", "prod"):
            acc = node.dtype
            identity = "0" if kind == "sum" else "1"
            xv = self.as_dtype(x, acc)
            return self.emit(node, f"{REDUCERS[kind]}(tf.where({mb}, {xv}, tf.constant({identity}, {tf_dtype(acc)})), "
                                   f"axis={axis}, keepdims={keep})")
        if kind == "count":
            return self.emit(node, f"tf.math.count_nonzero(tf.logical_and({mb}, tf.not_equal({self.ref(x)}, 0)), "
                                   f"axis={axis}, keepdims={keep}, dtype=tf.int64)")
        if kind == "any":
            return self.emit(node, f"tf.reduce_any(tf.logical_and({mb}, {self.as_dtype(x, 'bool')}), axis={axis}, keepdims={keep})")
        if kind == "all":
            return self.emit(node, f"tf.reduce_all(tf.logical_or(rt.logical_not({mb}), {self.as_dtype(x, 'bool')}), "
                                   f"axis={axis}, keepdims={keep})")
        if kind == "mean":
            acc = "float32" if node.dtype == "float16" else node.dtype
            total = f"tf.reduce_sum(tf.where({mb}, {self.as_dtype(x, acc)}, tf.constant(0, {tf_dtype(acc)})), axis={axis}, keepdims={keep})"
            count = f"tf.cast(rt.count_true({m}), {tf_dtype(acc)})"
            if whole and trailing:  # every selected row holds size(rest) elements
                count = f"{count} * tf.cast(tf.reduce_prod(tf.shape({self.ref(x)})[{len(mask.shape)}:]), {tf_dtype(acc)})"
            expr = f"{total} / ({count})"
            return self.emit(node, expr if acc == node.dtype else f"tf.cast({expr}, {tf_dtype(node.dtype)})")
        # min / max: the identity is the dtype's extreme; an empty selection is an error (NumPy)
        fill = "rt.highest" if kind == "min" else "rt.lowest"
        xv = self.as_dtype(x, node.dtype)
        tag = self.empty_check(kind, span)
        self.emit(node, f"{REDUCERS[kind]}(tf.where({mb}, {xv}, tf.constant({fill}({tf_dtype(node.dtype)}), "
                        f"{tf_dtype(node.dtype)})), axis={axis}, keepdims={keep})")
        name = self.ref(node)
        self.line(f"{name} = rt.nonempty({name}, tf.cast(tf.reduce_any({m}), tf.int32), {tag})")

    def whole_masked_reduce(self, node, mask: str):
        """reduce(x[m]) with m of x's shape, over all of it: chunked (rt.masked_reduce)."""
        kind, x = node.attr("kind"), node.args[0]
        acc = "float32" if kind == "mean" and node.dtype == "float16" else node.dtype
        tag = self.empty_check(kind, node.span) if kind in ("min", "max") else "None"
        expr = f"rt.masked_reduce({kind!r}, {self.ref(x)}, {mask}, {tf_dtype(acc)}, {tag})"
        if acc != node.dtype:
            expr = f"tf.cast({expr}, {tf_dtype(node.dtype)})"
        if node.attr("keepdims"):
            expr = f"tf.reshape({expr}, {[1] * len(x.shape)!r})"
        self.emit(node, expr)

    def mask_checked(self, mask_node: Node, x: Node, start: int, span) -> str:
        """The mask's name, wrapped in a run-time shape check unless its shape is certain."""
        mask = self.ref(mask_node) if mask_node.op != "const" else self.as_dtype(mask_node, "bool")
        dims = x.shape[start:start + len(mask_node.shape)]
        certain = (None not in mask_node.shape and None not in dims) or (
            start == 0 and len(mask_node.shape) == len(x.shape) and same_shape(mask_node, x, self.shape_roots))
        if certain:
            return mask
        tag = self.check(ShapeError, "boolean index did not match indexed array", span)
        return f"rt.check_mask({mask}, {self.ref(x)}, {start}, {tag})"

    def plan(self, node, x, operands):
        return node_plan(node)

    def items_literal(self, plan) -> str:
        """An index plan's items as the runtime's general gather and scatter read them."""
        return repr(tuple((str(it.kind), it.operands, it.dims) for it in plan.items))

    def operands_literal(self, operands) -> str:
        return "[" + ", ".join(self.ref(a) if a.op != "const" else self.as_dtype(a, "int64" if a.dtype != "bool" else "bool")
                               for a in operands) + "]"

    def op_select(self, node):
        x, operands = node.args[0], node.args[1:]
        plan = self.plan(node, x, operands)
        strategy = node.attr("strategy")
        span = node.span
        if strategy == "boolean_mask":
            item = plan.mask_item
            mask = self.mask_checked(operands[item.operands[0]], x, item.dims[0], span)
            return self.emit(node, f"tf.boolean_mask({self.ref(x)}, {mask}, axis={item.dims[0]})")
        if strategy == "gather":
            item = next(it for it in plan.items if it.kind == IndexKind.INT_ARRAY)
            idx = operands[item.operands[0]]
            tag = self.check(IndexOutOfRangeError, f"index out of bounds for axis {item.dims[0]}", span)
            return self.emit(node, f"rt.gather({self.ref(x)}, {self.as_dtype(idx, 'int64')}, {item.dims[0]}, {tag})")
        tag = self.check(IndexOutOfRangeError if not any(it.kind in MASKS for it in plan.items) else ShapeError,
                         "index out of bounds or boolean index did not match the indexed array", span)
        self.emit(node, f"rt.select_general({self.ref(x)}, {self.items_literal(plan)}, {plan.newaxes!r}, "
                        f"{self.operands_literal(operands)}, {tag})")

    def op_update(self, node):
        if node.attr("strategy") == "adaptive":
            return self.adaptive_update(node)
        x, operands, value = node.args[0], node.args[1:-1], node.args[-1]
        strategy = node.attr("strategy")
        span = node.span
        target = x.dtype
        if strategy == "replace":
            v = self.as_dtype(value, target)
            if value.shape == x.shape and None not in x.shape:
                return self.emit(node, v)
            return self.emit(node, f"tf.broadcast_to({v}, tf.shape({self.ref(x)}))")
        plan = self.plan(node, x, operands)
        v = self.as_dtype(value, target)
        if strategy == "where":
            if plan.only_masks:
                item = plan.mask_item
                mask = self.mask_checked(operands[item.operands[0]], x, item.dims[0], span)
                trailing = len(x.shape) - item.dims[-1] - 1
                mask = f"rt.expand_mask({mask}, {trailing})" if trailing else mask
            else:
                tag = self.check(IndexOutOfRangeError, "index out of bounds", span)
                mask = f"rt.index_mask({self.ref(x)}, {self.items_literal(plan)}, {self.operands_literal(operands)}, {tag})"
            return self.emit(node, f"tf.where({mask}, {v}, {self.ref(x)})")
        if strategy == "scatter" and plan.only_masks and plan.mask_item.dims[0] == 0:
            mask = self.mask_checked(operands[plan.mask_item.operands[0]], x, 0, span)
            coords = self.fresh()
            self.line(f"{coords} = tf.where({mask})")
            tag = self.check(ShapeError, "the values do not match the number of selected elements", value.span or span)
            return self.emit(node, f"tf.tensor_scatter_nd_update({self.ref(x)}, {coords}, "
                                   f"rt.selected_values({v}, {self.ref(x)}, {coords}, {tag}), name={tag})")
        masked = any(it.kind in MASKS for it in plan.items)
        tag = self.check(ShapeError if masked else IndexOutOfRangeError,
                         "boolean index did not match the indexed array, or the values do not fit the selection"
                         if masked else "index out of bounds", span)
        self.emit(node, f"rt.scatter_general({self.ref(x)}, {self.items_literal(plan)}, {plan.newaxes!r}, "
                        f"{self.operands_literal(operands)}, {v}, {tag})")

    def adaptive_update(self, node):
        """tf.cond on the mask's count: gather/compute/scatter when sparse, tf.where when dense."""
        x, operands, dense, sparse = node.args[0], node.args[1:-2], node.args[-2], node.args[-1]
        plan = self.plan(node, x, operands)
        mask = self.mask_checked(operands[plan.mask_item.operands[0]], x, 0, node.span)
        checked = mask
        if not IDENTIFIER.match(mask):
            checked = self.fresh()
            self.line(f"{checked} = {mask}")
        fraction = self.fresh()
        self.line(f"{fraction} = rt.true_fraction({checked})")
        attrs = tuple((k, v) for k, v in node.attrs if k not in ("strategy", "threshold", "costs", "reason"))
        attrs = tuple((k, v) for k, v in attrs if k != "dense_xla")
        branches = []
        for strategy, value in (("scatter", sparse), ("where", dense)):
            branch = Node("update", (x, *operands, value), attrs + (("strategy", strategy),), node.dtype, node.shape,
                          node.weak, node.span)
            checks = len(self.checks)
            branches.append(self.branch(f"{strategy}_branch", branch))
        if node.attr("dense_xla") and len(self.checks) == checks:
            # XLA drops in-graph checks, so only a branch without any runs under it
            branches[1] = f"tf.function({branches[1]}, jit_compile=True, autograph=False)"
        self.emit(node, f"tf.cond({fraction} < {float(node.attr('threshold'))!r}, {branches[0]}, {branches[1]})")

    def branch(self, label: str, node: Node) -> str:
        """Emit `def <label>(): ...; return <node>` holding the nodes only this branch needs."""
        name = f"{label}_{self.counter + 1}"
        self.counter += 1
        self.line(f"def {name}():")
        saved = dict(self.names)
        self.indent += 4
        for n in postorder(node.args):
            if id(n) not in self.names and id(n) in self.branch_only:
                self.node(n)
        self.op_update(node)
        self.line(f"return {self.names[id(node)]}")
        self.indent -= 4
        self.names = saved
        return name

    def op_arange(self, node):
        start, stop, step = (self.as_dtype(a, node.dtype) for a in node.args)
        self.emit(node, f"tf.range({start}, {stop}, {step}, dtype={tf_dtype(node.dtype)})")

    def op_fill(self, node):
        shape = list(node.attr("shape"))
        self.emit(node, f"tf.fill({shape!r}, {self.as_dtype(node.args[0], node.dtype)})")

    def op_expand(self, node):
        self.emit(node, f"rt.expand_mask({self.ref(node.args[0])}, {int(node.attr('trailing'))})")

    def op_shape(self, node):
        self.emit(node, f"tf.shape({self.ref(node.args[0])}, out_type=tf.int64)")

    def op_size(self, node):
        self.emit(node, f"tf.size({self.ref(node.args[0])}, out_type=tf.int64)")

    # ---- whole program ----
    def program_source(self) -> str:
        params = []
        for n in self.program.inputs:
            self.op_input(n)
            params.append(self.ref(n))
        self.branch_only = branch_only_nodes(self.program)
        for node in self.program.nodes():
            if id(node) not in self.names and id(node) not in self.branch_only:
                self.node(node)
        outputs = ", ".join(f"{name!r}: {self.output_expr(n)}" for name, n in self.program.outputs)
        head = f"def program({', '.join(params)}):"
        return "\n".join([head, *self.lines, f"    return {{{outputs}}}"]) + "\n"

    def output_expr(self, node: Node) -> str:
        if node.op == "input":
            return f"tf.identity({self.ref(node)})"
        return self.ref(node)


def branch_only_nodes(program: Program) -> dict[int, Node]:
    """Nodes needed only by one branch of an adaptive update (emitted inside that branch)."""
    adaptive = [n for n in program.nodes() if n.op == "update" and n.attr("strategy") == "adaptive"]
    if not adaptive:
        return {}
    skip = {id(n) for n in adaptive}
    # everything reachable without entering an adaptive update's two values is needed outside
    outside, stack = {}, list(program.roots())
    while stack:
        n = stack.pop()
        if id(n) in outside:
            continue
        outside[id(n)] = n
        stack.extend(n.args[:-2] if id(n) in skip else n.args)
    only = {}
    for n in adaptive:
        dense = {id(m): m for m in postorder([n.args[-2]]) if id(m) not in outside}
        sparse = {id(m): m for m in postorder([n.args[-1]]) if id(m) not in outside}
        for key in dense.keys() ^ sparse.keys():
            only[key] = dense.get(key) or sparse.get(key)
    return only


@paused
def generate(program: Program) -> Generated:
    """Emit the TensorFlow source of a typed, strategy-annotated program and build its function."""
    emitter = Emitter(program)
    source = emitter.program_source()
    namespace = {"__builtins__": {}, "tf": tf, "rt": runtime}
    code = compile(source, "<maskdsl>", "exec")
    exec(code, namespace)  # the generated source only: names are generated, literals printed from values
    return Generated(source, namespace["program"], emitter.checks, emitter.line_spans)
