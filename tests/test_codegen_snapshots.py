"""The generated TensorFlow for the three classic idioms, exactly as f.source shows it."""

import maskdsl

SELECT = '''def program(x_0):
    t1 = tf.greater(x_0, tf.constant(4, tf.float32))
    y_1 = tf.boolean_mask(x_0, t1, axis=0)
    return {'y': y_1}
'''

CONDITIONAL_MODIFY = '''def program(x_0):
    t1 = tf.greater(x_0, tf.constant(4, tf.int32))
    t2 = tf.math.floormod(x_0, tf.constant(2, tf.int32))
    t3 = tf.equal(t2, tf.constant(0, tf.int32))
    t4 = tf.logical_and(t1, t3)
    t5 = tf.multiply(x_0, tf.constant(2, tf.int32))
    x_1 = tf.where(t4, t5, x_0)
    return {'x': x_1}
'''

SPARSE_UPDATE = '''def program(x_0):
    t1 = tf.greater(x_0, tf.constant(0.5, tf.float32))
    t2 = tf.boolean_mask(x_0, t1, axis=0)
    t3 = tf.sin(t2)
    t4 = tf.exp(t3)
    t5 = tf.where(t1)
    x_1 = tf.tensor_scatter_nd_update(x_0, t5, rt.selected_values(t4, x_0, t5, 'maskdsl-check-1'), name='maskdsl-check-1')
    return {'x': x_1}
'''

MASKED_SUM = '''def program(x_0):
    t1 = tf.greater(x_0, tf.constant(0, tf.float32))
    s_1 = rt.masked_reduce('sum', x_0, t1, tf.float32, None)
    return {'s': s_1}
'''

GRAD_GUARD = '''def program(x_0):
    t1 = tf.greater(x_0, tf.constant(0, tf.float32))
    t2 = rt.grad_guard(x_0, t1)
    t3 = tf.math.log(t2)
    x_1 = tf.where(t1, t3, x_0)
    return {'x': x_1}
'''

DOUBLE_WHERE = '''def program(x_0):
    t1 = tf.not_equal(x_0, tf.constant(0, tf.int32))
    t2 = tf.where(t1, x_0, tf.constant(1, tf.int32))
    t3 = rt.floordiv_int(tf.constant(7, tf.int32), t2)
    x_1 = tf.where(t1, t3, x_0)
    return {'x': x_1}
'''


def source(src, strategy="auto", **signature):
    return maskdsl.compile(src, signature=signature, strategy=strategy).source


def test_select_is_boolean_mask():
    assert source("y = x[x > 4]", x="float32[None]") == SELECT


def test_conditional_modify_is_where():
    assert source("x[x > 4 & x % 2 == 0] *= 2", x="int32[None]") == CONDITIONAL_MODIFY


def test_sparse_update_is_gather_compute_scatter():
    assert source("x[x > 0.5] = exp(sin(x[x > 0.5]))", "scatter", x="float32[None]") == SPARSE_UPDATE


def test_masked_reduction_has_no_dynamic_shape():
    assert source("s = sum(x[x > 0])", x="float32[None]") == MASKED_SUM


def test_float_risky_op_inputs_are_guarded_for_gradients_only():
    # masked-out log(negative) is nan, discarded by the update; grad_guard keeps it out of gradients
    assert source("x[x > 0] = log(x[x > 0])", x="float32[None]") == GRAD_GUARD


def test_integer_risky_op_inputs_are_masked_too():
    # integer division by a masked-out 0 must not be computed at all: the double where
    assert source("x[x != 0] = 7 // x[x != 0]", x="int32[None]") == DOUBLE_WHERE
