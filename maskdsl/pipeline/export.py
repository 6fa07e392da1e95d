"""A pipeline as a SavedModel: `maskdsl export PIPELINE OUT_DIR`.

The `serving_default` signature takes the declared inputs by name (TensorSpecs from
`inputs`, unused ones included) and returns the outputs by name. The graph holds only
TensorFlow ops, so it loads with `tf.saved_model.load` where maskdsl is not installed.
The pipeline file is copied to `assets.extra/pipeline.yaml`. The directory is written
next to OUT_DIR and renamed into place; an existing OUT_DIR is replaced only with
`force`, and put back if the rename fails.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from maskdsl.errors import DataError


def check_export_target(out_dir, force: bool = False) -> str:
    """The directory to export to, checked before any work (no TensorFlow): its parent exists, and
    it does not (unless `force`), or is a directory."""
    out_dir = os.fspath(out_dir).rstrip("/\\") or os.fspath(out_dir)
    parent = os.path.dirname(os.path.abspath(out_dir))
    if not os.path.isdir(parent):
        raise DataError(f"cannot write {out_dir!r}: the directory {parent!r} does not exist")
    if os.path.exists(out_dir) and not force:
        raise DataError(f"{out_dir} already exists; pass --force to overwrite it")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise DataError(f"{out_dir} exists and is not a directory")
    return out_dir


def export_saved_model(pipeline, out_dir: str, force: bool = False) -> str:
    """Write the pipeline's SavedModel to `out_dir`; returns the directory written."""
    from maskdsl.tf.runtime import tf

    out_dir = check_export_target(out_dir, force)
    parent = os.path.dirname(os.path.abspath(out_dir))
    temporary = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(out_dir)}.")
    old = None
    try:
        module = tf.Module()
        module.pipeline = pipeline.tf_function
        signature = pipeline.tf_function.get_concrete_function()
        tf.saved_model.save(module, temporary, signatures={"serving_default": signature})
        if pipeline.config.doc.text is not None:
            extra = os.path.join(temporary, "assets.extra")
            os.makedirs(extra, exist_ok=True)
            with open(os.path.join(extra, "pipeline.yaml"), "w", encoding="utf-8") as f:
                f.write(pipeline.config.doc.text)
        if os.path.exists(out_dir):
            old = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(out_dir)}.old.")
            os.rmdir(old)
            os.rename(out_dir, old)
        os.rename(temporary, out_dir)
    finally:
        if os.path.exists(temporary):
            shutil.rmtree(temporary, ignore_errors=True)
        if old is not None:
            if os.path.exists(out_dir):
                shutil.rmtree(old, ignore_errors=True)
            else:  # put the previous export back
                os.rename(old, out_dir)
    return out_dir
