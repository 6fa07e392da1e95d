"""Statistics of the readings that pass a test, without building the selection.

NumPy:       valid = np.isfinite(x) & (x > 0); x[valid].sum(), np.count_nonzero(valid),
             x[valid].mean(), x[valid].max()
TensorFlow:  tf.reduce_sum(tf.where(valid, x, 0)) and friends, chunk by chunk
             (rt.masked_reduce): no tf.boolean_mask, so no array whose size depends on
             the data (the generated code is printed below)
"""

from pathlib import Path

import numpy as np

import maskdsl

DATA = Path(__file__).resolve().parent / "data" / "sensors.npz"

PROGRAM = """
valid = isfinite(x) & x > 0        # not missing (nan), not an error code (negative)
total = sum(x[valid])
n = count(valid)
average = mean(x[valid])
highest = max(x[valid])
"""


def main():
    x = np.load(DATA)["x"]                       # 5,000 rows x 3 sensors, float32
    f = maskdsl.compile(PROGRAM, outputs=["total", "n", "average", "highest"],
                        signature={"x": "float32[None, 3]"})
    result = {name: value.numpy() for name, value in f(x=x).items()}
    for name, value in result.items():
        print(f"{name:>8} = {value}")
    print("\nTensorFlow that runs:\n" + f.source)
    return result


if __name__ == "__main__":
    main()
