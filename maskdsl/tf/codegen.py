"""IR -> TensorFlow Python source -> a function, run in a namespace of `tf` and `rt` only.

Codegen decides nothing: choose_strategy has annotated every select, update and
reduction with the formulation to use. The Emitter walks the program and writes each
node with the lowering its op has in tf/lowerings.LOWERINGS (the ops choose_strategy
annotates: their strategy's, tf/strategies.py), usually one line; it owns the names
(generated: `t3`, `x_1`), constants and run-time checks. Literals are printed from
parsed values, and the user's text never reaches exec.

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

from dataclasses import dataclass, field

from maskdsl.tf import runtime  # before TensorFlow: it sets TensorFlow's log level
from maskdsl.tf.runtime import tf
from maskdsl.errors import ShapeError, Span, ValueDSLError
from maskdsl.gcpause import paused
from maskdsl.ir.dtypes import dtype_kind
from maskdsl.ir.nodes import IRError, Node, Program, same_shape
from maskdsl.language.names import is_identifier
from maskdsl.tf.lowerings import LOWERINGS
from maskdsl.generated import run_generated
from maskdsl.tf.source import converted, literal, tf_dtype
from maskdsl.tf.strategies import branch_only_nodes

__all__ = ["Check", "Emitter", "Generated", "generate", "literal", "tf_dtype"]


@dataclass
class Check:
    """A run-time check: what error to raise, and where it points, when its tag fires."""
    error: type
    message: str
    span: Span | None
    shape_only: bool = False  # fires or not by the input shapes alone (a mask's shape), never by values


@dataclass
class Generated:
    source: str
    function: object
    checks: dict[str, Check] = field(default_factory=dict)
    line_spans: dict = field(default_factory=dict)  # source line number -> span of the node it computes
    clusters: int = 0  # XLA clusters inside the plain graph (generate(plain=...))


class Emitter:
    def __init__(self, program: Program, plain: set | None = None):
        self.program = program
        self.plain = plain   # ids of nodes kept off XLA: the others run in XLA clusters (None: no clusters)
        self.clusters = 0
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

    def check(self, error: type, message: str, span: Span | None, shape_only: bool = False) -> str:
        tag = f"{runtime.TAG}{len(self.checks) + 1}"
        self.checks[tag] = Check(error, message, span, shape_only)
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
            return f"tf.constant({literal(converted(node.attr('value'), dtype))}, {tf_dtype(dtype)})"
        if node.dtype == dtype:
            return self.ref(node)
        if dtype_kind(node.dtype) == "f" and dtype_kind(dtype) in "iu":  # tf.cast saturates out-of-range values
            return f"rt.float_to_int({self.ref(node)}, {tf_dtype(dtype)})"
        return f"tf.cast({self.ref(node)}, {tf_dtype(dtype)})"

    def line(self, text: str) -> None:
        self.lines.append(" " * self.indent + text)
        if self.current_span is not None:
            self.line_spans[len(self.lines) + 1] = self.current_span  # +1: the `def program` line

    def emit(self, node: Node, expr: str) -> None:
        name = self.fresh(node)
        self.line(f"{name} = {expr}")
        self.names[id(node)] = name

    def mask_checked(self, mask_node: Node, x: Node, start: int, span) -> str:
        """The mask's name, wrapped in a run-time shape check unless its shape is certain."""
        mask = self.ref(mask_node) if mask_node.op != "const" else self.as_dtype(mask_node, "bool")
        dims = x.shape[start:start + len(mask_node.shape)]
        certain = (None not in mask_node.shape and None not in dims) or (
            start == 0 and len(mask_node.shape) == len(x.shape) and same_shape(mask_node, x, self.shape_roots))
        if certain:
            return mask
        tag = self.check(ShapeError, "boolean index did not match indexed array", span, shape_only=True)
        return f"rt.check_mask({mask}, {self.ref(x)}, {start}, {tag})"

    def items_literal(self, plan) -> str:
        """An index plan's items as the runtime's general gather and scatter read them."""
        return repr(tuple((str(it.kind), it.operands, it.dims) for it in plan.items))

    def operands_literal(self, operands) -> str:
        return "[" + ", ".join(self.ref(a) if a.op != "const"
                               else self.as_dtype(a, "int64" if a.dtype != "bool" else "bool")
                               for a in operands) + "]"

    def param(self, node) -> str:
        name = node.attr("name")
        if not is_identifier(name):
            raise IRError(f"invalid input name {name!r}")
        return f"{name}_0"  # never a generated name (t<n>, <target>_<version >= 1>, tf, rt)

    # ---- nodes ----
    def node(self, node: Node) -> None:
        """Write the line(s) computing node, by its op's lowering (tf/lowerings.py)."""
        self.current_span = node.span
        lowering = LOWERINGS.get(node.op)
        if lowering is None:
            raise IRError(f"code generation has no lowering for IR op {node.op!r}")
        lowering(self, node)

    # ---- whole program ----
    def program_source(self) -> str:
        params = []
        for n in self.program.inputs:
            LOWERINGS[n.op](self, n)
            params.append(self.ref(n))
        self.branch_only = branch_only_nodes(self.program)
        nodes = [n for n in self.program.nodes() if id(n) not in self.names and id(n) not in self.branch_only]
        if self.plain is None:
            for node in nodes:
                if id(node) not in self.names:
                    self.node(node)
        else:
            readers: dict[int, list[int]] = {id(n): [] for n in self.program.nodes()}
            for n in self.program.nodes():
                for a in n.args:
                    readers[id(a)].append(id(n))
            for _, n in self.program.outputs:
                readers[id(n)].append(None)   # read by the caller, outside any cluster
            self.readers = readers
            for in_xla, segment in self.segments(nodes):
                self.cluster(segment) if in_xla else [self.node(n) for n in segment if id(n) not in self.names]
        outputs = ", ".join(f"{name!r}: {self.output_expr(n)}" for name, n in self.program.outputs)
        head = f"def program({', '.join(params)}):"
        return "\n".join([head, *self.lines, f"    return {{{outputs}}}"]) + "\n"

    # ---- XLA clusters ----
    MIN_CLUSTER = 2  # computing nodes: a cluster of one op does not repay its launch

    def segments(self, nodes: list[Node]) -> list[tuple[bool, list[Node]]]:
        """The nodes in order, cut into runs that run under XLA (True) or on the plain graph.
        Constants are emitted where they are read."""
        runs: list[tuple[bool, list[Node]]] = []
        for n in nodes:
            if n.op == "const":
                continue
            in_xla = id(n) not in self.plain
            if runs and runs[-1][0] == in_xla:
                runs[-1][1].append(n)
            else:
                runs.append((in_xla, [n]))
        return [(in_xla and len(run) >= self.MIN_CLUSTER, run) for in_xla, run in runs]

    def cluster(self, segment: list[Node]) -> None:
        """Emit `def cluster<n>(<values it reads>): ...; return (<values read later>,)` and its call
        through rt.xla_cluster (an XLA-compiled function inside the plain graph)."""
        inside = {id(n) for n in segment}
        reads: dict[int, Node] = {}
        for n in segment:
            for a in n.args:
                if id(a) not in inside and a.op != "const":
                    reads.setdefault(id(a), a)
        results = [n for n in segment if any(r not in inside for r in self.readers[id(n)])]
        if not results:
            return
        self.clusters += 1
        name = f"cluster{self.clusters}"
        params = [self.ref(a) for a in reads.values()]
        self.line(f"def {name}({', '.join(params)}):")
        saved = dict(self.names)
        self.indent += 4
        for n in segment:
            if id(n) not in self.names:
                self.node(n)
        names = [self.names[id(n)] for n in results]
        self.line(f"return ({', '.join(names)},)")
        self.indent -= 4
        self.names = saved
        self.line(f"{', '.join(names)}, = rt.xla_cluster({name})({', '.join(params)})")
        for n, result in zip(results, names):
            self.names[id(n)] = result

    def output_expr(self, node: Node) -> str:
        if node.op == "input":
            return f"tf.identity({self.ref(node)})"
        return self.ref(node)


@paused
def generate(program: Program, plain: set | None = None) -> Generated:
    """Emit the TensorFlow source of a typed, strategy-annotated program and build its function.
    With `plain` (ids of nodes), every run of other nodes becomes an XLA cluster."""
    emitter = Emitter(program, plain)
    source = emitter.program_source()
    namespace = {"tf": tf, "rt": runtime}
    run_generated(source, namespace, None, "<maskdsl>")
    return Generated(source, namespace["program"], emitter.checks, emitter.line_spans, emitter.clusters)
