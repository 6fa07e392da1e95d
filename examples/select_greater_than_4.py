"""Select the elements greater than 4 in a 3x3 matrix.

NumPy:       x[x > 4]
TensorFlow:  tf.boolean_mask(x, x > 4)   (what maskdsl generates, shown below)
"""

import numpy as np

import maskdsl


def main():
    x = np.arange(1, 10).reshape(3, 3)
    f = maskdsl.compile("x[x > 4]", signature={"x": "int64[3, 3]"})
    result = f(x=x).numpy()
    print("x =\n", x)
    print("x[x > 4] ->", result)
    print("\nTensorFlow that runs:\n" + f.source)
    return result


if __name__ == "__main__":
    main()
