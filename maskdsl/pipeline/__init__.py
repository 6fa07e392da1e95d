"""Config-driven pipelines: a YAML file -> a validated program -> runs, tf.data, SavedModel.

TensorFlow-free: `yaml_source` reads the YAML keeping each value's position,
`source_map` takes positions in the joined program back to the file, `constants`
reads constants as written, `inputs` reads input declarations (rows, columns, fill),
`config` validates the file section by section collecting every problem (`problems`),
`rowwise` decides whether the program may run batch by batch, `reductions` which
reductions over the rows can be streamed, `formats` names formats, shards and outputs,
`tables` reads and writes Parquet and CSV (pyarrow) and checks a file's columns,
`columns` turns a batch of columns into inputs (nulls, fills, exact casts),
`csv_lines` finds the line and field of a CSV problem,
`tfrecord` reads TFRecord framing and tf.train.Example without TensorFlow (for checks),
`checking` is `maskdsl check` for a pipeline (everything before TensorFlow loads),
`data_files` reads and writes .npy/.npz (`npy` reads an array only after its header), `files`
opens regular files only and writes atomically, `output` spools and publishes results.

TensorFlow by nature: `pipeline` holds the `Pipeline` object (compiled program,
tf.function, dataset map functions), `batching` streams data files through tf.data,
`service` runs that on a tf.data service, `export` writes a SavedModel; `tfrecord`
reads and writes TFRecord files through tf.data inside the functions that do it.
"""

_LAZY = {
    "Pipeline": ("maskdsl.pipeline.pipeline", "Pipeline"),
    "PipelineWarning": ("maskdsl.pipeline.config", "PipelineWarning"),
    "PerBatchWarning": ("maskdsl.pipeline.config", "PerBatchWarning"),
    "PipelineErrors": ("maskdsl.pipeline.problems", "PipelineErrors"),
}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'maskdsl.pipeline' has no attribute {name!r}")
