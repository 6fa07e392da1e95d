"""Annotate every select, update and reduction with the TensorFlow formulation to use.

The formulations are the entries of passes/strategies.py. A node whose formulation reads
different arguments becomes the op that says so, so that a strategy never changes what a
node's arguments mean:

- masked update whose value can be computed on the whole array -> `where`: the update
  becomes `dense_update(x, *index, dense value)`; masked-out elements cannot put nan/inf
  into values or gradients: risky ops computed in float (log, exp, **: the op row's
  `discards`) only make inf/nan there, which the update discards, and the value's array
  leaves are wrapped in `grad_guard(v, mask)` (v itself, its gradient zero where the mask
  is false), free in the forward pass; the inputs of other risky ops (integer division,
  integer pow's run-time check, whose exponent is masked even when it is a scalar) are
  masked, `where(mask, v, 1)` ("double where"); a slice's update with such an op, whose
  elements have no mask to guard them here, is computed on the selection (`scatter`);
- masked update whose value is expensive and whose mask is sparse -> `scatter` (gather,
  compute on the selected elements, scatter back), by the cost model; when the mask's
  selectivity is unknown at compile time -> `adaptive`: the update becomes
  `adaptive_update(x, mask, dense value, sparse value)`, the fraction selected is
  estimated at run time from an evenly spaced sample of the mask (rt.true_fraction) and
  tf.cond picks, at the crossover the cost model derives (with xla_branch, a dense
  branch doing float64 transcendental work on static shapes runs under XLA, whose
  float64 kernels are faster than TensorFlow's);
- `x[m] = values` (one value per selected element) -> the dense form is `spread(x, m, values)`,
  each selected element gathering the value at its rank among the selected ones (static
  shapes); as above, auto measures the fraction selected at run time and picks `scatter`
  below the crossover (`adaptive`), and under XLA takes the dense form;
- static slice assignment -> `where` with an index mask;
- reduction of a selection -> `masked`: `reduce(select(x, m))` becomes
  `masked_reduce(x, m)`, no dynamic shape;
- any other selection -> `boolean_mask`, `gather` or the general gather.

>>> from maskdsl.language import prepare
>>> from maskdsl.passes import infer_types
>>> p = choose_strategy(infer_types(prepare("x[x > 4] *= 2", x="int32[10]")))
>>> print(format_program(p))
x1 = dense_update(x0, gt(x0, 4), mul(x0, 2), casting=same_kind, index=[m], strategy=where)
return x=x1
>>> print(p.statements[0].value.attr("reason"))
the new value is computed element-wise on the whole array (gather, compute, scatter would be cheaper only below 0.0017 of the elements selected, and by too little to repay a run-time choice)
"""

from __future__ import annotations

from maskdsl.ir.dtypes import dtype_kind
from maskdsl.ir.indexing import IndexKind, IndexPlan, flatten, index_operands, node_plan, same_index
from maskdsl.ir.nodes import Node, Program, const, format_program, postorder, rewrite
from maskdsl.ir.ops import ELEMENTWISE, OPS, STATISTICS
from maskdsl.passes import cost
from maskdsl.passes.strategies import (ADAPTIVE, AUTO, BOOLEAN_MASK, GATHER, GENERAL, MASKED, PLAIN, REPLACE,
                                       SCATTER, WHERE)


def _mask_broadcast(update: Node, plan: IndexPlan) -> Node | None:
    """The update's mask shaped to broadcast against x, as an IR node (for the double where)."""
    if not plan.only_masks:
        return None
    item = plan.mask_item
    mask = index_operands(update)[item.operands[0]]
    trailing = len(update.args[0].shape) - item.dims[-1] - 1
    if trailing == 0:
        return mask
    return Node("expand", (mask,), (("trailing", trailing),), "bool", mask.shape + (1,) * trailing, False,
                mask.span)


def densify(update: Node, plan: IndexPlan) -> Node | None:
    """The update's value computed on the whole array, or None if that is not NumPy-equivalent.

    select(y, same index) becomes y; element-wise ops are rebuilt; any other sub-value
    must broadcast along the dims after the index (a scalar, a row...).

    Masked-out elements must not spoil the update. A risky op whose row `discards` masked-out
    results for its compute dtype's kind (float exp, log, **, ...) may make inf or nan there:
    the update discards them, but gradients would carry 0 * inf = nan back to every input of
    the value, through the ops downstream of it too (`w * log(x)` sends it to w). So its
    array leaves (x, arrays of x's shape) are wrapped in grad_guard, which zeroes their
    gradient at the masked-out elements and costs nothing in the forward pass. That needs
    every float leaf a gradient can reach to have the whole shape (a scalar's or a row's
    gradient sums over the masked-out elements too); otherwise, and for every other risky op
    (integer division, integer ** with its run-time check), the op's inputs are masked,
    `where(mask, v, 1)` ("double where"), so masked-out elements see a harmless 1.
    """
    x, value = update.args[0], update.args[-1]
    if plan.only_masks:
        trailing = len(x.shape) - plan.mask_item.dims[-1] - 1
    elif plan.basic and not plan.newaxes:
        trailing = plan.trailing_full
    else:
        return None
    mask = _mask_broadcast(update, plan)
    leaves: list[Node] = []

    def collect(leaf: Node) -> Node:
        leaves.append(leaf)
        return leaf
    dense, discarding = _dense_value(update, value, trailing, mask, collect, gradient_only=True)
    if dense is None or not discarding:
        return dense
    if all(_full(leaf.shape, _broadcast(leaf.shape, mask.shape)) for leaf in leaves if _differentiable(leaf)):
        guards: dict[int, Node] = {}

        def guard(leaf: Node) -> Node:
            if not _differentiable(leaf):
                return leaf
            if id(leaf) not in guards:
                guards[id(leaf)] = _grad_guard(leaf, mask)
            return guards[id(leaf)]
        return _dense_value(update, value, trailing, mask, guard, gradient_only=True)[0]
    return _dense_value(update, value, trailing, mask, lambda leaf: leaf, gradient_only=False)[0]


def _dense_value(update: Node, value: Node, trailing: int, mask: Node | None, leaf, gradient_only: bool):
    """(value computed on the whole array or None, whether a risky op in it was left unmasked).

    `leaf(node)` is called on each leaf (an array standing for its selection, a broadcast
    piece) and returns what the value reads for it. With gradient_only, risky ops whose
    masked-out results are discarded are not masked (densify guards the leaves instead)."""
    x = update.args[0]
    dense: dict[int, Node | None] = {}
    discarding = False
    for n in _elementwise_postorder(value):
        if n.op == "select" and same_index(n, update) and (n.args[0] is x or (
                n.args[0].shape == x.shape and None not in x.shape)):
            dense[id(n)] = leaf(n.args[0])
        elif n.op in ELEMENTWISE and n.op != "where" and all(dense.get(id(a)) is not None for a in n.args) \
                and any(dense[id(a)] is not a for a in n.args):
            args = tuple(dense[id(a)] for a in n.args)
            if OPS[n.op].risky and mask is None and not _discards(n):
                return None, False  # a slice's elements cannot be masked here: compute on the selection only
            if OPS[n.op].risky and mask is not None:
                if gradient_only and _discards(n):
                    discarding = True
                else:
                    args = tuple(_guard(a, mask) if a.shape or _fails_alone(n, i, a) else a
                                 for i, a in enumerate(args))
            shape = _broadcast(*(a.shape for a in args))
            dense[id(n)] = n.replace(args=args, shape=shape)
        elif len(n.shape) <= trailing:
            dense[id(n)] = leaf(n)
        else:
            dense[id(n)] = None
    return dense[id(value)], discarding


def _fails_alone(n: Node, position: int, arg: Node) -> bool:
    """Whether a scalar argument can make risky op n fail by itself: an integer power's exponent
    that may be negative. Masked, it is negative only at the selected elements, so a selection
    of nothing raises nothing (NumPy computes nothing)."""
    return n.op == "pow" and position == 1 and not (arg.op == "const" and arg.attr("value") >= 0)


def _discards(n: Node) -> bool:
    """Whether risky op n's masked-out results are only inf/nan that the update discards (its row's
    `discards` names the kind of dtype it computes in)."""
    return dtype_kind(n.attr("compute") or n.dtype) in OPS[n.op].discards


def _differentiable(leaf: Node) -> bool:
    """Whether a gradient can reach the leaf: a float value that is not a constant."""
    return leaf.op != "const" and dtype_kind(leaf.dtype) in "fc"


def _elementwise_postorder(value: Node) -> list[Node]:
    """value's sub-graph reachable through element-wise ops, children first. Other nodes
    (selections, reductions, earlier versions of arrays) are leaves: never descended into,
    so the walk is proportional to the expression, not to the program's history."""
    return postorder([value], lambda n: n.args if n.op in ELEMENTWISE else ())


def _broadcast(*shapes):
    from maskdsl.ir.dtypes import broadcast_shapes
    return broadcast_shapes(*shapes)


def _full(shape: tuple, broadcast: tuple) -> bool:
    """Whether an array of `shape` has the whole broadcast shape (an unknown dimension of the same
    rank as the array the mask indexes is that array's)."""
    return len(shape) == len(broadcast) and all(d == b or d is None for d, b in zip(shape, broadcast))


def _grad_guard(arg: Node, mask: Node) -> Node:
    """grad_guard(arg, mask): arg, with a gradient of zero at the masked-out elements."""
    return Node("grad_guard", (arg, mask), (), arg.dtype, arg.shape, False, arg.span)


def _guard(arg: Node, mask: Node) -> Node:
    """where(mask, arg, 1): masked-out elements see a harmless 1 (finite values and gradients)."""
    one = const(True if arg.dtype == "bool" else 1)
    shape = _broadcast(arg.shape, mask.shape)
    return Node("where", (mask, arg, one), (("compute", arg.dtype),), arg.dtype, shape, False, arg.span)


def _float64_transcendental(value: Node) -> bool:
    """Whether the element-wise work of `value` includes a transcendental op computed in float64."""
    return any(OPS[n.op].cost == "transcendental" and n.dtype == "float64" for n in _elementwise_postorder(value))


def _choose_update(node: Node, forced: str = AUTO, xla: bool = False, xla_branch: bool = False) -> Node:
    if not node.attr("index"):
        return node.with_attrs(strategy=REPLACE.name, reason="whole-array assignment")
    plan = node_plan(node)
    x, value = node.args[0], node.args[-1]
    dense = densify(node, plan)
    spreading = dense is None and plan.only_masks and plan.mask_item.dims[0] == 0 and bool(plan.mask_item.dims)
    if spreading:
        dense = _spread(node, plan)
    dense_form = cost.spread_cost if spreading else WHERE.cost
    n = cost.elements(x.shape)
    if forced == SCATTER.name or dense is None:
        if forced == SCATTER.name and dense is not None:
            return node.with_attrs(strategy=SCATTER.name, reason="forced: gather, compute, scatter")
        why = "one value per selected element" if plan.only_masks else "general index"
        return node.with_attrs(strategy=SCATTER.name, reason=f"{why}: scatter into the selected positions")
    where = _dense_update(node, dense)
    spread_words = "each selected element gathers its value by a running count of the mask"
    if forced == WHERE.name:
        return where.with_attrs(strategy=WHERE.name, reason=f"forced: dense tf.where{'; ' + spread_words if spreading else ''}")
    if plan.basic:
        return where.with_attrs(strategy=WHERE.name, reason="static slice assignment: where with an index mask")
    per_element = cost.value_cost(value)
    mask = index_operands(node)[plan.mask_item.operands[0]]
    leading = plan.mask_item.dims[0] == 0  # the sparse forms gather whole leading-dim rows
    dense_cost = dense_form(n, per_element)
    if mask.op == "const":
        flat = list(flatten(mask.attr("value")))
        selectivity = sum(1 for v in flat if v) / max(1, len(flat))
        sparse_cost = SCATTER.cost(n, per_element, selectivity)
        costs = ((WHERE.name, round(dense_cost)),
                 (f"{SCATTER.name} at selectivity {selectivity:.3g}", round(sparse_cost)))
        if sparse_cost < dense_cost and leading:
            return node.with_attrs(strategy=SCATTER.name, costs=costs, reason=(
                f"the mask is a constant selecting {selectivity:.3g} of the elements and the new value costs "
                f"{per_element:.3g} per element: gather, compute, scatter is cheaper"))
        return where.with_attrs(strategy=WHERE.name, costs=costs, reason=(
            "the mask is a constant; computing the new value on every element and one tf.where is cheaper"))
    threshold = cost.crossover_selectivity(per_element, dense_form)
    costs = ((WHERE.name, round(dense_cost)),
             *((f"{SCATTER.name} at selectivity {s:g}", round(SCATTER.cost(n, per_element, s)))
               for s in (0.001, 0.01, 0.1, 0.5)),
             ("crossover selectivity", round(threshold, 4)))
    if leading and not xla and cost.adaptive_pays(n, per_element, dense_form):
        dense_words = f"the dense form ({spread_words})" if spreading else "the dense tf.where"
        reason = (f"the new value costs {per_element:.3g} per element and the mask's selectivity is unknown: the "
                  f"fraction selected is measured at run time (on a sample of the mask); below {threshold:.3g} "
                  f"of elements selected tf.cond runs gather, compute, scatter, above it {dense_words}")
        dense_xla = xla_branch and None not in x.shape and _float64_transcendental(dense)
        if dense_xla:
            reason += (" (under XLA: its transcendental work is in float64, which XLA's kernels do faster than "
                       "TensorFlow's)")
        attrs = tuple((k, v) for k, v in node.attrs if k != "index")
        adaptive = node.replace(op="adaptive_update", args=(x, mask, dense, value), attrs=attrs)
        return adaptive.with_attrs(strategy=ADAPTIVE.name, threshold=round(threshold, 6), costs=costs,
                                   reason=reason, **({"dense_xla": True} if dense_xla else {}))
    why = "under XLA the dense form is used" if xla and leading else (
        _why_dense(threshold) if leading else "the mask is not on the leading dimensions")
    what = spread_words if spreading else "the new value is computed element-wise on the whole array"
    return where.with_attrs(strategy=WHERE.name, costs=costs, reason=f"{what} ({why})")


def _why_dense(threshold: float) -> str:
    """Why an update with an unknown mask stays dense, in words that agree with its costs."""
    if threshold <= 0:
        return "the new value is cheap, so the dense tf.where is cheaper at any selectivity"
    return (f"gather, compute, scatter would be cheaper only below {threshold:.2g} of the elements selected, "
            f"and by too little to repay a run-time choice")


def _spread(node: Node, plan: IndexPlan) -> Node:
    """spread(x, mask, values): `x[mask] = values` computed on the whole array with static shapes."""
    x, value = node.args[0], node.args[-1]
    mask = index_operands(node)[plan.mask_item.operands[0]]
    return Node("spread", (x, mask, value), (), x.dtype, x.shape, x.weak, node.span)


def _dense_update(node: Node, value: Node) -> Node:
    """The update as a dense_update whose value is `value`, computed on the whole array."""
    return node.replace(op="dense_update", args=node.args[:-1] + (value,))


def _choose_select(node: Node) -> Node:
    plan = node_plan(node)
    kinds = [it.kind for it in plan.items]
    if plan.only_masks:
        return node.with_attrs(strategy=BOOLEAN_MASK.name, reason="selection of masked elements: tf.boolean_mask")
    if kinds.count(IndexKind.INT_ARRAY) == 1 and set(kinds) <= {IndexKind.INT_ARRAY, IndexKind.FULL_SLICE} \
            and not plan.newaxes:
        return node.with_attrs(strategy=GATHER.name, reason="one integer array index: tf.gather")
    if plan.basic:
        return node.with_attrs(strategy=GENERAL.name, reason="basic slicing: a strided slice")
    return node.with_attrs(strategy=GENERAL.name, reason="mixed advanced index: transpose and tf.gather_nd")


def _choose_reduce(node: Node, forced: str = AUTO) -> Node:
    x = node.args[0]
    if forced != BOOLEAN_MASK.name and x.op == "select" and x.attr("strategy") == BOOLEAN_MASK.name:
        item = node_plan(x).mask_item
        axis = node.attr("axis")
        if item.dims[0] == 0 and (axis is None or tuple(node.attr("axes")) == (0,)) and (
                not node.attr("keepdims") or len(item.dims) == 1):
            mask = index_operands(x)[item.operands[0]]
            masked = node.replace(op="masked_reduce", args=(x.args[0], mask))
            how = "the mask and a count on the whole array" if node.attr("kind") in STATISTICS else \
                "reduce where(mask, x, identity) chunk by chunk"
            return masked.with_attrs(strategy=MASKED.name, reason=(
                f"{node.attr('kind')} of a selection: {how}, no dynamic shape"))
    return node.with_attrs(strategy=PLAIN.name, reason="reduction")


def _choose_quantile(node: Node, forced: str = AUTO, xla: bool = False) -> Node:
    """Under XLA, median/quantile of a whole selection x[m] (m over all of x's dims) reads x and m
    where they are, sorting the masked-out elements last: no dynamic shape, as a masked reduction.
    Elsewhere the selection stays: sorting only the selected elements is faster
    (benchmarks/order_statistics.py), and without XLA a dynamic shape costs nothing."""
    x = node.args[0]
    if not xla or forced == BOOLEAN_MASK.name or x.op != "select" or x.attr("strategy") != BOOLEAN_MASK.name \
            or node.attr("keepdims"):
        return node
    item = node_plan(x).mask_item
    if item.dims != tuple(range(len(x.args[0].shape))) or len(x.args[0].shape) == 0:
        return node
    return node.replace(op="masked_quantile", args=(x.args[0], index_operands(x)[item.operands[0]]))


def choose_strategy(program: Program, strategy: str = AUTO, xla: bool = False,
                    xla_branch: bool = False) -> Program:
    """Annotate index and reduction nodes with a strategy, a reason and estimated costs.

    strategy="auto" lets the cost model decide; the other names of strategies.FORCEABLE
    ("where", "scatter", "boolean_mask") force that formulation wherever it is correct
    (for tests and benchmarks). With
    xla=True no run-time choice (tf.cond over dynamic shapes) is made. With
    xla_branch=True (jit_compile="auto") the dense branch of a run-time choice runs
    under XLA when its shapes are static and its transcendental work is in float64.
    """
    def choose(node: Node, args) -> Node:
        node = node if all(a is b for a, b in zip(args, node.args)) else node.replace(args=args)
        if node.op == "update":
            return _choose_update(node, strategy, xla, xla_branch)
        if node.op == "select":
            return _choose_select(node)
        if node.op == "reduce":
            return _choose_reduce(node, strategy)
        if node.op == "quantile":
            return _choose_quantile(node, strategy, xla)
        return node

    return rewrite(program, choose)
