"""Every op, strategy and built-in function is complete in every table that must know it,
and the IR checker holds each op to its row of ir/ops.py."""

import numpy as np
import pytest

from maskdsl.ir import reference
from maskdsl.ir.dtypes import DTYPES
from maskdsl.ir.indexing import IndexKind
from maskdsl.ir.nodes import IRError, Node, Program, Statement, const, input_node, scope, verify
from maskdsl.ir.ops import (COMPARISONS, KINDS, OPS, PREDICATES, REDUCTIONS, Family, family)
from maskdsl.language import prepare
from maskdsl.language.functions import FUNCTIONS
from maskdsl.passes import infer_types, optimize
from maskdsl.passes.strategies import FORCEABLE, STRATEGIC_OPS, STRATEGIES, verify_strategies

# made by choose_strategy, already typed: infer_types never meets them
MADE_TYPED = {"masked_reduce", "dense_update", "adaptive_update", "expand", "masked_quantile", "grad_guard",
               "spread"}


def test_every_op_has_a_reference():
    assert set(OPS) == set(reference.RULES)


def test_every_op_has_a_type_rule_or_is_made_typed():
    from maskdsl.passes.infer_types import RULES as TYPE_RULES
    assert set(OPS) - set(TYPE_RULES) == MADE_TYPED


def test_every_op_has_a_tensorflow_lowering():
    from maskdsl.tf.lowerings import LOWERINGS
    assert set(OPS) == set(LOWERINGS)


def test_every_strategy_has_a_lowering_and_lowers_real_ops():
    from maskdsl.tf.strategies import STRATEGY_LOWERINGS
    assert set(STRATEGIES) == set(STRATEGY_LOWERINGS)
    for strategy in STRATEGIES.values():
        assert strategy.ops <= set(OPS), strategy.name
    assert STRATEGIC_OPS == {"select", "update", "dense_update", "adaptive_update", "reduce", "masked_reduce"}


def test_every_reduction_kind_has_every_tensorflow_form():
    from maskdsl.tf.runtime import CHUNK_PARTS
    from maskdsl.tf.strategies import CHUNKED, MASKED_FORMS, PLAIN_FORMS
    assert set(REDUCTIONS) == set(PLAIN_FORMS) == set(MASKED_FORMS)
    # the whole-array masked reductions done chunk by chunk; besides them the runtime's own kinds:
    # counting a mask (true) and an unmasked float sum (float_total)
    assert CHUNKED == set(CHUNK_PARTS) - {"true", "float_total"}


def test_forceable_names_come_from_the_registry():
    assert FORCEABLE[0] == "auto"
    assert all(STRATEGIES[name].forceable for name in FORCEABLE[1:])


def test_every_function_maps_to_an_op():
    from maskdsl.language.lower import CALLS
    for fn in FUNCTIONS.values():
        assert fn.op in OPS or fn.op in CALLS, fn.name  # CALLS: a function that builds other ops (copy)
        if fn.op == "reduce":
            assert fn.variant in REDUCTIONS, fn.name
        if fn.op == "cast":
            assert fn.variant in DTYPES or fn.variant is None, fn.name  # None: the dtype is an argument
        # an element-wise function takes the op's arguments (unless CALLS builds it: where(c) is nonzero)
        if fn.op in OPS and OPS[fn.op].numpy is not None and fn.op not in CALLS:
            assert fn.min_args == fn.max_args == OPS[fn.op].arity, fn.name


def test_every_method_and_attribute_is_a_function():
    from maskdsl.language.functions import METHODS
    for method in METHODS.values():
        assert method.function in FUNCTIONS, method.name


def test_families_are_declared_on_the_rows():
    for name, op in OPS.items():
        assert op.kind in KINDS, name
        assert op.families <= set(vars(Family).values()), name
    assert COMPARISONS <= PREDICATES <= family(Family.ELEMENTWISE)
    for name in COMPARISONS:  # negating twice is the identity
        assert OPS[OPS[name].negation].negation == name
    assert all(OPS[name].numpy is not None for name in family(Family.ELEMENTWISE) - {"cast"})


# ---- verify() checks each node against its row ----

def _program(node: Node, inputs) -> Program:
    return Program(tuple(inputs), (Statement("y", 1, node),), (("y", node),))


def test_verify_checks_arity_against_the_index_pattern():
    with scope():
        x = input_node("x").replace(dtype="float32", shape=(4,))
        m = Node("gt", (x, const(0)), dtype="bool", shape=(4,))
        ok = Node("select", (x, m), (("index", (IndexKind.MASK,)),), "float32", (None,))
        assert verify(_program(ok, [x])) is not None
        with pytest.raises(IRError, match="takes 2"):
            verify(_program(Node("select", (x, m, m), (("index", (IndexKind.MASK,)),), "float32", (None,)), [x]))
        with pytest.raises(IRError, match="takes 1"):  # the old masked form: reduce(x, mask)
            verify(_program(Node("reduce", (x, m), (("axis", None), ("kind", "sum")), "float64", ()), [x]))


def test_verify_checks_masks_and_index_operands_are_boolean():
    with scope():
        x = input_node("x").replace(dtype="float32", shape=(4,))
        i = input_node("i").replace(dtype="int32", shape=(4,))
        with pytest.raises(IRError, match="mask"):
            verify(_program(Node("masked_reduce", (x, i), (("axis", None), ("kind", "sum")), "float32", ()),
                            [x, i]))
        with pytest.raises(IRError, match="index operand"):
            verify(_program(Node("select", (x, i), (("index", (IndexKind.MASK,)),), "float32", (None,)), [x, i]))


def test_verify_checks_simple_result_dtypes():
    with scope():
        x = input_node("x").replace(dtype="float32", shape=(4,))
        with pytest.raises(IRError, match="result dtype"):
            verify(_program(Node("lt", (x, x), dtype="float32", shape=(4,)), [x]))
        with pytest.raises(IRError, match="result dtype"):
            verify(_program(Node("shape", (x,), dtype="int32", shape=(1,)), [x]))


def test_verify_strategies_matches_ops_and_strategies():
    program = optimize(prepare("s = sum(x[x > 0]); x[x > 1] *= 2", x="float32[None]"))
    assert verify_strategies(program) is program
    s = program.statements[0].value
    with scope(program.table):
        wrong = s.with_attrs(strategy="plain")  # plain lowers reduce, not masked_reduce
    with pytest.raises(IRError, match="does not lower masked_reduce"):
        verify_strategies(Program(program.inputs, (Statement("s", 1, wrong),), (("s", wrong),)))


# ---- internal failures are IRErrors, never user errors ----

def test_an_op_without_a_rule_is_an_internal_error():
    with scope():
        x = input_node("x").replace(dtype="float32", shape=(2,))
        stray = Node("no_such_op", (x,), dtype="float32", shape=(2,))
    with pytest.raises(IRError, match="no rule"):
        reference.evaluate_node(stray, [np.zeros(2, np.float32)])
    with pytest.raises(IRError, match="no type rule"):
        infer_types(_program(stray, [x]))
    from maskdsl.tf import codegen
    with pytest.raises(IRError, match="no lowering"):
        codegen.Emitter(_program(stray, [x])).program_source()


def test_a_strategic_op_without_a_strategy_is_an_internal_error():
    from maskdsl.tf import codegen
    program = infer_types(prepare("y = x[x > 0]", x="float32[None]"))  # not through choose_strategy
    with pytest.raises(IRError, match="no lowering for select"):
        codegen.Emitter(program).program_source()
    with pytest.raises(IRError, match="no strategy"):
        verify_strategies(program)


def test_the_families_outside_tf_never_import_tensorflow():
    """The op table, the strategy registry and everything that reads them before code
    generation (language, IR, passes) work without TensorFlow, lazily or not."""
    import subprocess
    import sys
    code = (
        "import importlib, pkgutil, sys\n"
        "import numpy as np\n"
        "for family in ('language', 'ir', 'passes'):\n"
        "    package = importlib.import_module('maskdsl.' + family)\n"
        "    for module in pkgutil.iter_modules(package.__path__):\n"
        "        importlib.import_module(f'maskdsl.{family}.{module.name}')\n"
        "from maskdsl.language import prepare\n"
        "from maskdsl.passes import optimize\n"
        "from maskdsl.ir.reference import evaluate\n"
        "p = optimize(prepare('x[x > 1] = exp(x[x > 1]); s = sum(x[x > 0])', x='float32[None]'))\n"
        "evaluate(p, {'x': np.arange(3, dtype=np.float32)})\n"
        "print('tensorflow' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
