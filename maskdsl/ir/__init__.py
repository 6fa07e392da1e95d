"""The IR family: nodes and programs (`nodes`), the op table (`ops`), dtypes and
promotion (`dtypes`), indexing rules (`indexing`) and the NumPy reference evaluator
(`reference`). Nothing here imports TensorFlow."""
