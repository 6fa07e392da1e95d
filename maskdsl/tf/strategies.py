"""The TensorFlow lowering of each strategy (passes/strategies.py), registered by its name.

A node choose_strategy annotated is lowered by its strategy's entry in
`STRATEGY_LOWERINGS`; tests/test_op_tables.py checks every strategy has one. Reductions
differ by kind: `PLAIN_FORMS` and `MASKED_FORMS` have one entry per reduction kind of
ir/ops.REDUCTIONS (whole-array masked reductions are rt.masked_reduce, chunked).
"""

from __future__ import annotations

from collections.abc import Callable

from maskdsl.errors import IndexOutOfRangeError, ShapeError, ValueDSLError
from maskdsl.ir.indexing import MASKS, IndexKind, index_operands, node_plan
from maskdsl.ir.nodes import Node, Program, postorder, same_shape
from maskdsl.ir.ops import REDUCTIONS, STATISTICS
from maskdsl.language.names import IDENTIFIER
from maskdsl.passes.strategies import (ADAPTIVE, BOOLEAN_MASK, GATHER, GENERAL, MASKED, PLAIN, REPLACE, SCATTER,
                                       WHERE)
from maskdsl.tf.source import literal, tf_dtype

STRATEGY_LOWERINGS: dict[str, Callable] = {}


def _lowers(strategy):
    def register(lowering):
        STRATEGY_LOWERINGS[strategy.name] = lowering
        return lowering
    return register


# ---- selections ----

@_lowers(BOOLEAN_MASK)
def boolean_mask(emitter, node):
    x, operands, plan = node.args[0], index_operands(node), node_plan(node)
    item = plan.mask_item
    mask = emitter.mask_checked(operands[item.operands[0]], x, item.dims[0], node.span)
    emitter.emit(node, f"tf.boolean_mask({emitter.ref(x)}, {mask}, axis={item.dims[0]})")


@_lowers(GATHER)
def gather(emitter, node):
    x, operands, plan = node.args[0], index_operands(node), node_plan(node)
    item = next(it for it in plan.items if it.kind == IndexKind.INT_ARRAY)
    idx = operands[item.operands[0]]
    tag = emitter.check(IndexOutOfRangeError, f"index out of bounds for axis {item.dims[0]}", node.span)
    emitter.emit(node, f"rt.gather({emitter.ref(x)}, {emitter.as_dtype(idx, 'int64')}, {item.dims[0]}, {tag})")


@_lowers(GENERAL)
def general(emitter, node):
    x, operands, plan = node.args[0], index_operands(node), node_plan(node)
    masked = any(it.kind in MASKS for it in plan.items)
    tag = emitter.check(ShapeError if masked else IndexOutOfRangeError,
                        "index out of bounds or boolean index did not match the indexed array", node.span)
    emitter.emit(node, f"rt.select_general({emitter.ref(x)}, {emitter.items_literal(plan)}, {plan.newaxes!r}, "
                       f"{emitter.operands_literal(operands)}, {tag})")


# ---- updates ----

@_lowers(REPLACE)
def replace(emitter, node):
    x, value = node.args[0], node.args[-1]
    v = emitter.as_dtype(value, x.dtype)
    if value.shape == x.shape and None not in x.shape:
        return emitter.emit(node, v)
    emitter.emit(node, f"tf.broadcast_to({v}, tf.shape({emitter.ref(x)}))")


@_lowers(WHERE)
def where(emitter, node):
    x, operands, value = node.args[0], index_operands(node), node.args[-1]
    plan = node_plan(node)
    v = emitter.as_dtype(value, x.dtype)
    if plan.only_masks:
        item = plan.mask_item
        if value.op == "spread" and value.args[0] is x and value.args[1] is operands[item.operands[0]]:
            emitter.names[id(node)] = emitter.ref(value)  # already x with the selection replaced
            return
        mask = emitter.mask_checked(operands[item.operands[0]], x, item.dims[0], node.span)
        trailing = len(x.shape) - item.dims[-1] - 1
        mask = f"rt.expand_mask({mask}, {trailing})" if trailing else mask
    else:  # with constant integers and slice bounds, whether the check fires depends on x's shape alone
        tag = emitter.check(IndexOutOfRangeError, "index out of bounds", node.span,
                            shape_only=all(a.op == "const" for a in operands))
        mask = (f"rt.index_mask({emitter.ref(x)}, {emitter.items_literal(plan)}, "
                f"{emitter.operands_literal(operands)}, {tag})")
    if not (_fits_statically(value.shape, x.shape) or same_shape(value, x, emitter.shape_roots)):
        # a value of a size unknown at compile time could widen x
        v = f"rt.fits_into({v}, {emitter.ref(x)}, {fit_check(emitter, value, node.span)})"
    emitter.emit(node, f"tf.where({mask}, {v}, {emitter.ref(x)})")


def _fits_statically(value: tuple, x: tuple) -> bool:
    """A value of this shape broadcasts to x's shape without widening it, whatever the sizes
    unknown at compile time (a dense value has at most x's rank)."""
    tail = x[len(x) - len(value):] if value else ()
    return all(v == 1 or (v is not None and v == d) for v, d in zip(value, tail))


@_lowers(SCATTER)
def scatter(emitter, node):
    x, operands, value = node.args[0], index_operands(node), node.args[-1]
    plan = node_plan(node)
    span = node.span
    v = emitter.as_dtype(value, x.dtype)
    if plan.only_masks and plan.mask_item.dims[0] == 0:
        mask = emitter.mask_checked(operands[plan.mask_item.operands[0]], x, 0, span)
        coords = emitter.fresh()
        emitter.line(f"{coords} = tf.where({mask})")
        tag = fit_check(emitter, value, span)
        # rows of x that may hold no elements: TensorFlow refuses any index into an empty array
        scatter = "rt.scatter_rows" if any(d in (0, None) for d in x.shape[1:]) else "tf.tensor_scatter_nd_update"
        return emitter.emit(node, f"{scatter}({emitter.ref(x)}, {coords}, "
                                  f"rt.selected_values({v}, {emitter.ref(x)}, {coords}, {tag}), name={tag})")
    masked = any(it.kind in MASKS for it in plan.items)
    tag = emitter.check(ShapeError if masked else IndexOutOfRangeError,
                        "boolean index did not match the indexed array" if masked else "index out of bounds", span)
    fit = fit_check(emitter, value, span)
    emitter.emit(node, f"rt.scatter_general({emitter.ref(x)}, {emitter.items_literal(plan)}, {plan.newaxes!r}, "
                       f"{emitter.operands_literal(operands)}, {v}, {tag}, {fit})")


def fit_check(emitter, value, span) -> str:
    """The tag of the run-time check that assigned values fit the selection (NumPy: "could not
    broadcast input array from shape ... into shape ...")."""
    return emitter.check(ShapeError, "the values do not match the number of selected elements", value.span or span)


@_lowers(ADAPTIVE)
def adaptive(emitter, node):
    """tf.cond on the mask's count: gather/compute/scatter when sparse, tf.where when dense."""
    x, mask_node, dense, sparse = node.args
    mask = emitter.mask_checked(mask_node, x, 0, node.span)
    checked = mask
    if not IDENTIFIER.match(mask):
        checked = emitter.fresh()
        emitter.line(f"{checked} = {mask}")
    fraction = emitter.fresh()
    emitter.line(f"{fraction} = rt.true_fraction({checked})")
    # the two branches are the update each strategy lowers; the mask is on x's leading dims
    attrs = tuple((k, v) for k, v in node.attrs if k == "casting") + (("index", (IndexKind.MASK,)),)
    branches = []
    for strategy, op, value in ((SCATTER, "update", sparse), (WHERE, "dense_update", dense)):
        branch = Node(op, (x, mask_node, value), attrs + (("strategy", strategy.name),), node.dtype, node.shape,
                      node.weak, node.span)
        checks = len(emitter.checks)
        branches.append(_branch(emitter, f"{strategy.name}_branch", branch))
    if node.attr("dense_xla") and len(emitter.checks) == checks:
        # XLA drops in-graph checks, so only a branch without any runs under it
        branches[1] = f"tf.function({branches[1]}, jit_compile=True, autograph=False)"
    emitter.emit(node, f"tf.cond({fraction} < {float(node.attr('threshold'))!r}, {branches[0]}, {branches[1]})")


def _branch(emitter, label: str, node: Node) -> str:
    """Emit `def <label><n>(): ...; return <node>` holding the nodes only this branch needs. No
    `_` before the number: names of the program's values are `<name>_<version>`, so no
    generated name can be one (`scatter_branch = ...` twice is `scatter_branch_2`)."""
    name = f"{label}{emitter.counter + 1}"
    emitter.counter += 1
    emitter.line(f"def {name}():")
    saved = dict(emitter.names)
    emitter.indent += 4
    for n in postorder(node.args):
        if id(n) not in emitter.names and id(n) in emitter.branch_only:
            emitter.node(n)
    STRATEGY_LOWERINGS[node.attr("strategy")](emitter, node)
    emitter.line(f"return {emitter.names[id(node)]}")
    emitter.indent -= 4
    emitter.names = saved
    return name


def branch_only_nodes(program: Program) -> dict[int, Node]:
    """Nodes needed only by one branch of an adaptive update (emitted inside that branch)."""
    adaptive = [n for n in program.nodes() if n.op == "adaptive_update"]
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
        stack.extend(n.args[:2] if id(n) in skip else n.args)
    only = {}
    for n in adaptive:
        dense = {id(m): m for m in postorder([n.args[2]]) if id(m) not in outside}
        sparse = {id(m): m for m in postorder([n.args[3]]) if id(m) not in outside}
        for key in dense.keys() ^ sparse.keys():
            only[key] = dense.get(key) or sparse.get(key)
    return only


# ---- reductions ----

REDUCERS = {"sum": "tf.reduce_sum", "prod": "tf.reduce_prod", "min": "rt.reduce_min", "max": "rt.reduce_max",
            "mean": "tf.reduce_mean", "any": "tf.reduce_any", "all": "tf.reduce_all"}


# Float sums, means and products are at least as accurate as NumPy's (rt.float_sum).
FLOAT_REDUCERS = {"sum": "rt.float_sum", "prod": "rt.float_prod"}


def _reducer(kind: str, dtype: str) -> str:
    return FLOAT_REDUCERS[kind] if kind in FLOAT_REDUCERS and dtype.startswith("float") else REDUCERS[kind]


def _plain_count(emitter, node, x, axis, keep):
    if node.attr("axis") is None and not keep:
        truth = emitter.ref(x) if x.dtype == "bool" else f"tf.not_equal({emitter.ref(x)}, 0)"
        return emitter.emit(node, f"rt.count_true({truth})")
    emitter.emit(node, f"tf.math.count_nonzero({emitter.ref(x)}, axis={axis}, keepdims={keep}, dtype=tf.int64)")


def _plain_logical(emitter, node, x, axis, keep):
    emitter.emit(node, f"{REDUCERS[node.attr('kind')]}({emitter.as_dtype(x, 'bool')}, axis={axis}, keepdims={keep})")


def _plain_mean(emitter, node, x, axis, keep):
    xv = emitter.ref(x)  # rt.float_mean widens what it must (integers of 32 bits or less it adds in int64)
    emitter.emit(node, f"rt.float_mean({xv}, axis={axis}, keepdims={keep}, dtype={tf_dtype(node.dtype)})")


def _plain_arithmetic(emitter, node, x, axis, keep):
    kind = node.attr("kind")
    expr = f"{_reducer(kind, node.dtype)}({emitter.as_dtype(x, node.dtype)}, axis={axis}, keepdims={keep})"
    axes = range(len(x.shape)) if node.attr("axis") is None else node.attr("axes")
    if REDUCTIONS[kind].fails_on_empty and any(x.shape[a] is None for a in axes):
        # NumPy raises when a reduced axis is empty, not when the result is (min(x, axis=1) of (0, 3))
        tag = emitter.empty_check(kind, node.span)
        emitter.emit(node, expr)
        name = emitter.ref(node)
        size = f"tf.size({emitter.ref(x)})" if node.attr("axis") is None else \
            f"tf.reduce_prod(tf.gather(tf.shape({emitter.ref(x)}), {list(axes)!r}))"
        emitter.line(f"{name} = rt.nonempty({name}, {size}, {tag})")
        return
    emitter.emit(node, expr)


PLAIN_FORMS = {"sum": _plain_arithmetic, "prod": _plain_arithmetic, "min": _plain_arithmetic,
               "max": _plain_arithmetic, "mean": _plain_mean, "any": _plain_logical, "all": _plain_logical,
               "count": _plain_count}


@_lowers(PLAIN)
def plain_reduce(emitter, node):
    axis = "None" if node.attr("axis") is None else repr(list(node.attr("axes")))
    PLAIN_FORMS[node.attr("kind")](emitter, node, node.args[0], axis, node.attr("keepdims"))


def _masked_fill(identity: str):
    """Reduce where(mask, x, identity): sum, prod."""
    def form(emitter, node, x, m, mb, axis, keep):
        acc = node.dtype
        xv = emitter.as_dtype(x, acc)
        emitter.emit(node, f"{_reducer(node.attr('kind'), acc)}(tf.where({mb}, {xv}, tf.constant({identity}, "
                           f"{tf_dtype(acc)})), axis={axis}, keepdims={keep})")
    return form


def _masked_count(emitter, node, x, m, mb, axis, keep):
    emitter.emit(node, f"tf.math.count_nonzero(tf.logical_and({mb}, {emitter.as_dtype(x, 'bool')}), "
                       f"axis={axis}, keepdims={keep}, dtype=tf.int64)")


def _masked_any(emitter, node, x, m, mb, axis, keep):
    emitter.emit(node, f"tf.reduce_any(tf.logical_and({mb}, {emitter.as_dtype(x, 'bool')}), axis={axis}, "
                       f"keepdims={keep})")


def _masked_all(emitter, node, x, m, mb, axis, keep):
    emitter.emit(node, f"tf.reduce_all(tf.logical_or(rt.logical_not({mb}), {emitter.as_dtype(x, 'bool')}), "
                       f"axis={axis}, keepdims={keep})")


def _masked_mean(emitter, node, x, m, mb, axis, keep):
    mask = node.args[1]
    dtype = x.dtype if x.dtype.startswith("float") else node.dtype
    chosen = f"tf.where({mb}, {emitter.as_dtype(x, dtype)}, tf.constant(0, {tf_dtype(dtype)}))"
    count = f"tf.cast(rt.count_true({m}), tf.float64)"
    if node.attr("axis") is None and len(x.shape) > len(mask.shape):  # each selected row holds size(rest) elements
        count = f"{count} * tf.cast(tf.reduce_prod(tf.shape({emitter.ref(x)})[{len(mask.shape)}:]), tf.float64)"
    emitter.emit(node, f"rt.float_mean({chosen}, axis={axis}, keepdims={keep}, dtype={tf_dtype(node.dtype)}, "
                       f"count={count})")


def _masked_extreme(fill: str):
    """Reduce where(mask, x, the dtype's extreme); nothing selected is an error (NumPy): min, max."""
    def form(emitter, node, x, m, mb, axis, keep):
        kind = node.attr("kind")
        xv = emitter.as_dtype(x, node.dtype)
        tag = emitter.empty_check(kind, node.span)
        emitter.emit(node, f"{REDUCERS[kind]}(tf.where({mb}, {xv}, tf.constant({fill}({tf_dtype(node.dtype)}), "
                           f"{tf_dtype(node.dtype)})), axis={axis}, keepdims={keep})")
        name = emitter.ref(node)
        emitter.line(f"{name} = rt.nonempty({name}, tf.cast(tf.reduce_any({m}), tf.int32), {tag})")
    return form


MASKED_FORMS = {"sum": _masked_fill("0"), "prod": _masked_fill("1"), "count": _masked_count, "any": _masked_any,
                "all": _masked_all, "mean": _masked_mean, "min": _masked_extreme("rt.highest"),
                "max": _masked_extreme("rt.lowest")}


@_lowers(MASKED)
def masked_reduce(emitter, node):
    """reduce(x[m]) without the dynamic shape: reduce(where(m, x, identity))."""
    x, mask = node.args
    trailing = len(x.shape) - len(mask.shape)
    m = emitter.mask_checked(mask, x, 0, node.span)
    mb = f"rt.expand_mask({m}, {trailing})" if trailing else m
    axes = list(range(len(x.shape))) if node.attr("axis") is None else list(range(len(mask.shape)))
    if not trailing and len(axes) == len(x.shape) and node.attr("kind") in CHUNKED:
        return _whole_masked_reduce(emitter, node, m)
    MASKED_FORMS[node.attr("kind")](emitter, node, x, m, mb, repr(axes), node.attr("keepdims"))


def _whole_masked_reduce(emitter, node, mask: str):
    """reduce(x[m]) with m of x's shape, over all of it: chunked (rt.masked_reduce)."""
    kind, x = node.attr("kind"), node.args[0]
    tag = emitter.empty_check(kind, node.span) if REDUCTIONS[kind].fails_on_empty else "None"
    expr = f"rt.masked_reduce({kind!r}, {emitter.ref(x)}, {mask}, {tf_dtype(node.dtype)}, {tag})"
    if node.attr("keepdims"):
        expr = f"tf.reshape({expr}, {[1] * len(x.shape)!r})"
    emitter.emit(node, expr)


# ---- statistics (issue 14): nan-reductions, moments, arg-reductions ----
# Plain and masked alike call one runtime helper per family with the mask (None, or the mask
# expanded to broadcast against x); masked forms keep the static shape (a where and a count).
# Whole-array masked reductions of these kinds are not chunked (CHUNKED: the kinds that are).

CHUNKED = frozenset(REDUCTIONS) - frozenset(STATISTICS)
"""The kinds whose whole-array masked reduction is rt.masked_reduce (the kinds of rt.CHUNK_PARTS)."""


def _statistic_call(node, x: str, mask: str, axis: str, keep) -> str:
    kind = node.attr("kind")
    dtype = tf_dtype(node.dtype)
    acc = tf_dtype("float32" if node.dtype == "float16" else node.dtype)
    if kind in ("nansum", "nanprod"):
        return f"rt.nan_sum({x}, {mask}, {axis}, {keep}, {dtype}, {kind[3:]!r})"
    rounding = f", dtype={dtype}" if acc != dtype else ""
    if kind == "nanmean":
        return f"rt.nan_mean({x}, {mask}, {axis}, {keep}, {acc}{rounding})"
    if kind in ("nanmin", "nanmax"):
        return f"rt.nan_extreme({kind[3:]!r}, {x}, {mask}, {axis}, {keep})"
    ddof = literal(node.attr("ddof"))
    skip, root = kind.startswith("nan"), kind.endswith("std")
    return f"rt.moment({x}, {mask}, {axis}, {keep}, {acc}, {ddof}, skip_nan={skip}, root={root}{rounding})"


def _with_cast(node, expr: str) -> str:
    """A float16 mean or moment is accumulated in float32 (_statistic_call): as float16."""
    return f"tf.cast({expr}, tf.float16)" if node.dtype == "float16" and node.attr("kind") in _MOMENTS else expr


def _empty_tag(emitter, node) -> str:
    return emitter.check(ValueDSLError, REDUCTIONS[node.attr("kind")].empty_message, node.span)


def _plain_statistic(emitter, node, x, axis, keep):
    emitter.emit(node, _with_cast(node, _statistic_call(node, emitter.ref(x), "None", axis, keep)))
    _plain_nonempty(emitter, node, x)


def _plain_nonempty(emitter, node, x):
    """NumPy's ValueError for nanmin, nanmax, argmax, argmin of nothing, where a shape is unknown
    (infer_types raises it for known shapes)."""
    axes = list(range(len(x.shape))) if node.attr("axis") is None else list(node.attr("axes"))
    if not REDUCTIONS[node.attr("kind")].fails_on_empty or None not in [x.shape[a] for a in axes]:
        return
    name = emitter.ref(node)
    shape = f"tf.shape({emitter.ref(x)}, out_type=tf.int64)"
    emitter.line(f"{name} = rt.nonempty({name}, tf.reduce_prod(tf.gather({shape}, {axes!r})), "
                 f"{_empty_tag(emitter, node)})")


def _plain_arg(emitter, node, x, axis, keep):
    axes = node.attr("axes")
    one = None if node.attr("axis") is None or not axes else axes[0]
    emitter.emit(node, f"rt.arg_extreme({node.attr('kind')[3:]!r}, {emitter.ref(x)}, None, {one}, {keep})")
    _plain_nonempty(emitter, node, x)


def _masked_statistic(emitter, node, x, m, mb, axis, keep):
    emitter.emit(node, _with_cast(node, _statistic_call(node, emitter.ref(x), mb, axis, keep)))
    _masked_nonempty(emitter, node, x, m)


def _masked_nonempty(emitter, node, x, m):
    """NumPy's ValueError when x[m] has nothing to reduce: nothing selected (or, over every axis,
    nothing in a selected row)."""
    if not REDUCTIONS[node.attr("kind")].fails_on_empty:
        return
    found = f"tf.reduce_any({m})"
    if node.attr("axis") is None:
        found = f"tf.logical_and({found}, tf.size({emitter.ref(x)}) > 0)"
    name = emitter.ref(node)
    emitter.line(f"{name} = rt.nonempty({name}, tf.cast({found}, tf.int32), {_empty_tag(emitter, node)})")


def _masked_arg(emitter, node, x, m, mb, axis, keep):
    one = None if node.attr("axis") is None else 0
    emitter.emit(node, f"rt.arg_extreme({node.attr('kind')[3:]!r}, {emitter.ref(x)}, {m}, {one}, {keep})")
    _masked_nonempty(emitter, node, x, m)


_MOMENTS = ("nanmean", "std", "var", "nanstd", "nanvar")
_STATISTICS = ("nansum", "nanprod", "nanmin", "nanmax", *_MOMENTS)
PLAIN_FORMS.update({**dict.fromkeys(_STATISTICS, _plain_statistic), "argmax": _plain_arg, "argmin": _plain_arg})
MASKED_FORMS.update({**dict.fromkeys(_STATISTICS, _masked_statistic), "argmax": _masked_arg,
                     "argmin": _masked_arg})
