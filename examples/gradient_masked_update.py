"""Training through a masked update: fit `w` in  x[x > 0] = w * log1p(x[x > 0]).

The data has zeros and values at and below -1, where log1p is -inf or nan. Those
elements are not selected, but a single tf.where(m, w * log1p(x), x) would still
compute log1p there, and its gradient (0 * inf) would be nan. maskdsl writes the
"double where" (log1p(where(m, x, 1))), so the gradient is finite and w converges.

    f = maskdsl.compile("x[x > 0] = w * log1p(x[x > 0]); x", signature=...)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((f(x=x, w=w) - target) ** 2)
"""

import numpy as np
import tensorflow as tf

import maskdsl

TRUE_W = 2.5
PROGRAM = "x[x > 0] = w * log1p(x[x > 0]); x"


def make_data():
    x = np.array([-3.0, -1.0, 0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0], np.float32)
    target = x.copy()
    m = x > 0
    target[m] = TRUE_W * np.log1p(x[m])
    return x, target


def main(steps=50, learning_rate=0.3):
    f = maskdsl.compile(PROGRAM, signature={"x": "float32[None]", "w": "float32"})
    x, target = make_data()
    w = tf.Variable(1.0)
    first_gradient = None
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((f(x=x, w=w) - target) ** 2)
        gradient = tape.gradient(loss, w)
        if first_gradient is None:
            first_gradient = float(gradient.numpy())
        w.assign_sub(learning_rate * gradient)
    print(f"gradient at w=1: {first_gradient:.4f}; after {steps} steps w = {w.numpy():.4f} (true {TRUE_W})")
    return {"w": float(w.numpy()), "first_gradient": first_gradient, "loss": float(loss.numpy())}


if __name__ == "__main__":
    main()
