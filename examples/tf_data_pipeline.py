"""A tf.data input pipeline that cleans each batch with a maskdsl pipeline file.

examples/pipelines/flag_spikes.yaml zeroes missing readings and spikes and picks out
the rows that had a spike. It is row-wise (every output has one entry per input row,
or per selected row), so running it batch by batch inside `dataset.map` and
concatenating gives what one run over all rows gives. The scalar input `limit` is
fixed with make_map_fn; the rows come from the dataset.

    dataset = tf.data.Dataset.from_tensor_slices({"x": rows}).batch(512)
    dataset = dataset.map(pipeline.make_map_fn(limit=100.0)).prefetch(tf.data.AUTOTUNE)
"""

from pathlib import Path

import numpy as np
import tensorflow as tf

import maskdsl

ROOT = Path(__file__).resolve().parent
PIPELINE = ROOT / "pipelines" / "flag_spikes.yaml"
DATA = ROOT / "data" / "sensors.npz"
LIMIT = 100.0
BATCH = 512


def main():
    pipeline = maskdsl.Pipeline.from_yaml(PIPELINE)
    print(f"{pipeline}: row-wise = {pipeline.row_wise}")
    rows = np.load(DATA)["x"]
    dataset = (tf.data.Dataset.from_tensor_slices({"x": rows})
               .batch(BATCH)
               .map(pipeline.make_map_fn(limit=LIMIT), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
               .prefetch(tf.data.AUTOTUNE))
    batches = list(dataset.as_numpy_iterator())  # one dict of outputs per batch
    result = {name: np.concatenate([b[name] for b in batches]) for name in pipeline.outputs}
    print(f"{len(batches)} batches of up to {BATCH} rows")
    for name, value in result.items():
        print(f"{name:>6}: {value.dtype}{list(value.shape)}")
    return result


if __name__ == "__main__":
    main()
