"""maskdsl pipelines on Apache Beam: a PTransform for Beam users, and `maskdsl run --runner beam`.

    import apache_beam as beam
    import maskdsl.beam

    with beam.Pipeline() as p:
        batches = p | beam.Create([{"x": rows_a}, {"x": rows_b}])     # dicts of arrays or pyarrow RecordBatches
        out = batches | maskdsl.beam.Apply("clean.yaml", fixed={"limit": 100.0})
        out["rows"]      # one dict of outputs per batch: the outputs with one entry per row (or per selected row)
        out["reduced"]   # one dict: the reductions over all rows, and the outputs that do not depend on the rows

Every worker compiles the pipeline once (`DoFn.setup`) and runs it on whole batches, never row by
row. Reductions over the rows run as Beam combiners (the streamed-reduction logic of
maskdsl.pipeline.reductions); one that a later step uses (`x - mean(x)`) is computed in a first pass
and handed to every batch as a side input (maskdsl.pipeline.staging). A pipeline that depends on
other rows in any other way is refused, at its place in the file, when `Apply` is made.

This package is the only part of maskdsl that imports apache_beam (the `beam` extra:
`pip install 'maskdsl[beam]'`); the rest of maskdsl works without it.
"""

from __future__ import annotations

INSTALL_HINT = "pip install 'maskdsl[beam]'"

try:
    import apache_beam  # noqa: F401
except ImportError as e:   # (the command line turns this into its message; Python users see it as it is)
    raise ImportError(f"maskdsl.beam needs Apache Beam, which is not installed: {INSTALL_HINT}",
                      name="apache_beam") from e

from maskdsl.beam.transform import Apply  # noqa: E402

__all__ = ["Apply", "INSTALL_HINT"]
