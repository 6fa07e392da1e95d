"""`--set NAME=VALUE`: the value of a scalar input, or a new value for a constant.

Each setting is checked on its own (every problem collected) against the pipeline's
declarations: a scalar input's text is converted to its declared dtype (an int input
refuses `2.5` and out-of-range values, a bool input takes true/false/1/0), a constant's
text is a decimal number (the pipeline is read again with it). Plain Python: no
TensorFlow.

>>> scalar_value("limit", "5", Type("float32", ()))
np.float32(5.0)
"""

from __future__ import annotations

import numpy as np

from maskdsl.errors import InputError
from maskdsl.ir.dtypes import Type
from maskdsl.pipeline.constants import number_from_text
from maskdsl.pipeline.problems import Problems
from maskdsl.values import cast_exactly


def read_settings(settings, inputs: dict[str, Type], constants: dict) -> tuple[dict, dict]:
    """(constants given, scalar input values) of the --set arguments; raises every problem at once."""
    problems = Problems()
    values, new_constants = {}, {}
    for setting in settings or ():
        with problems.collecting():
            name, equals, text = str(setting).partition("=")
            name, text = name.strip(), text.strip()
            if not equals or not name or not text:
                raise InputError(f"--set expects NAME=VALUE, got {setting!r}")
            if name in values or name in new_constants:
                raise InputError(f"--set {name} is given twice", name=name)
            if name in constants:
                new_constants[name] = number_from_text(text, f"--set {name}")
            elif name in inputs:
                values[name] = scalar_value(name, text, inputs[name])
            else:
                scalars = [n for n, t in inputs.items() if not t.shape]
                raise InputError(f"--set {name}: the pipeline has no scalar input or constant named {name!r} "
                                 f"(scalar inputs: {', '.join(scalars) or 'none'}; constants: "
                                 f"{', '.join(constants) or 'none'})", name=name)
    problems.check()
    return new_constants, values


def scalar_value(name: str, text: str, want: Type):
    """The value of `--set NAME=TEXT` for a scalar input of type `want`."""
    if want.shape:
        raise InputError(f"--set {name}: input '{name}' is {want}, not a scalar; give it in the --input file",
                         name=name)
    if want.dtype == "bool":
        table = {"true": True, "false": False, "1": True, "0": False}
        if text.lower() not in table:
            raise InputError(f"--set {name}={text}: expected true or false for {name}: {want}", name=name)
        return np.bool_(table[text.lower()])
    value = number_from_text(text, f"--set {name}")
    kind = np.dtype(want.dtype).kind
    if kind in "iu":
        if isinstance(value, float):
            if not value.is_integer():
                raise InputError(f"--set {name}={text}: {name} is {want}, which holds whole numbers", name=name)
            value = int(value)
        info = np.iinfo(want.dtype)
        if not info.min <= value <= info.max:
            raise InputError(f"--set {name}={text}: out of range for {want} ({info.min} to {info.max})", name=name)
        return np.asarray(value, dtype=want.dtype)[()]
    converted, lost = cast_exactly(np.asarray(value), want.dtype)  # e.g. 1e6 is inf as float16
    if lost is not None:
        raise InputError(f"--set {name}={text}: out of range for {want}", name=name)
    return converted[()]
