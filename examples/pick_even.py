"""Pick the even numbers.

NumPy:       x[x % 2 == 0]
TensorFlow:  tf.boolean_mask(x, tf.math.floormod(x, 2) == 0)   (generated, shown below)
"""

import numpy as np

import maskdsl


def main():
    x = np.array([7, 2, 9, 4, 4, 11, 0, -6])
    f = maskdsl.compile("x[x % 2 == 0]", signature={"x": "int64[None]"})
    result = f(x=x).numpy()
    print("x =", x)
    print("x[x % 2 == 0] ->", result)
    print("\nTensorFlow that runs:\n" + f.source)
    return result


if __name__ == "__main__":
    main()
