"""A pipeline as a SavedModel: `maskdsl export PIPELINE OUT_DIR`.

The `serving_default` signature takes the declared inputs by name (TensorSpecs from
`inputs`, unused ones included) and returns the outputs by name. The graph holds only
TensorFlow ops, so it loads with `tf.saved_model.load` where maskdsl is not installed.
The pipeline file is copied to `assets.extra/pipeline.yaml`. The directory is written
next to OUT_DIR and renamed into place, with the permissions the umask gives; an
existing OUT_DIR is replaced only with `force`, only if it is a SavedModel (a
`saved_model.pb` and nothing a SavedModel does not hold: never a source tree), never
`/`, the current directory or one of its ancestors, and it is put back if the rename
fails. Every OSError is a DataError.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from maskdsl.errors import DataError, escape_text
from maskdsl.pipeline.files import current_umask

# What tf.saved_model.save (and this module) put in a SavedModel directory
SAVED_MODEL_ENTRIES = frozenset({"saved_model.pb", "saved_model.pbtxt", "fingerprint.pb", "variables", "assets",
                                 "assets.extra"})


def check_export_target(out_dir, force: bool = False) -> str:
    """The directory to export to, checked before any work (no TensorFlow): its parent exists,
    and it does not exist, or `force` is given and it is a previous export (`replaceable`)."""
    out_dir = os.fspath(out_dir).rstrip("/\\") or os.fspath(out_dir)
    shown = escape_text(out_dir)
    parent = os.path.dirname(os.path.abspath(out_dir))
    if not os.path.isdir(parent):
        raise DataError(f"cannot write {shown!r}: the directory {escape_text(parent)!r} does not exist")
    if os.path.lexists(out_dir):
        if not force:
            raise DataError(f"{shown} already exists; pass --force to overwrite it")
        why = replaceable(out_dir)
        if why is not None:
            raise DataError(f"will not replace {shown}: {why}",
                            hint="export to a new directory, or remove this one yourself")
    return out_dir


def export_saved_model(pipeline, out_dir: str, force: bool = False) -> str:
    """Write the pipeline's SavedModel to `out_dir`; returns the directory written."""
    out_dir = os.fspath(out_dir).rstrip("/\\") or os.fspath(out_dir)
    try:
        return _export(pipeline, out_dir, force)
    except OSError as e:
        where = escape_text(e.filename if isinstance(e.filename, str) else out_dir)
        raise DataError(f"cannot export to {escape_text(out_dir)}: {where}: {e.strerror or e}") from None


def replaceable(out_dir: str) -> str | None:
    """Why `export --force` must not replace the existing `out_dir`, or None if it may."""
    real = os.path.realpath(out_dir)
    if os.path.islink(out_dir):
        return "it is a symbolic link"
    if not os.path.isdir(out_dir):
        return "it exists and is not a directory"
    if real == os.path.dirname(real):
        return "it is the root directory"
    here = os.path.realpath(os.getcwd())
    if here == real or here.startswith(real.rstrip(os.sep) + os.sep):
        return "it is the current directory or contains it"
    entries = set(os.listdir(out_dir))
    if not entries & {"saved_model.pb", "saved_model.pbtxt"}:
        return "it is not a SavedModel (it has no saved_model.pb)"
    strangers = sorted(entries - SAVED_MODEL_ENTRIES)
    if strangers:
        shown = ", ".join(escape_text(n) for n in strangers[:5]) + (" ..." if len(strangers) > 5 else "")
        return f"it holds files a SavedModel does not ({shown})"
    return None


def _export(pipeline, out_dir: str, force: bool) -> str:
    from maskdsl.tf.runtime import tf

    out_dir = check_export_target(out_dir, force)
    parent = os.path.dirname(os.path.abspath(out_dir))
    temporary = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(out_dir)}.")
    os.chmod(temporary, 0o777 & ~current_umask())  # mkdtemp makes it private; an export should not be
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
        if os.path.lexists(out_dir):
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
