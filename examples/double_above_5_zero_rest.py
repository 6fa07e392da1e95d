"""Double the elements above 5 and set the rest to zero.

NumPy:       m = x > 5; x[m] *= 2; x[~m] = 0
TensorFlow:  tf.where(...) twice, no scatter (what maskdsl generates, shown below)
"""

import numpy as np

import maskdsl


def main():
    x = np.arange(1, 10).reshape(3, 3)
    f = maskdsl.compile("m = x > 5; x[m] *= 2; x[~m] = 0", outputs=["x"], signature={"x": "int64[3, 3]"})
    result = f(x=x).numpy()
    print("x =\n", x)
    print("after ->\n", result)
    print("\nTensorFlow that runs:\n" + f.source)
    return result


if __name__ == "__main__":
    main()
