"""A Keras 3 layer that runs a maskdsl program or pipeline inside a model.

    layer = MaskLayer("x[x < 0] = 0; x")                 # a program: inputs by name or position
    layer = MaskLayer(Pipeline.from_yaml("clean.yaml"))  # a pipeline (or its dict)
    y = layer(x)  /  layer({"x": x, "limit": l})  /  layer([x, l])
    MaskLayer(pipeline, fixed={"limit": 5.0})            # scalar inputs fixed in the layer

Keras inputs always have a batch dimension, so a pipeline's scalar inputs (declared
without dimensions) cannot come from a keras.Input: fix them with `fixed=` (stored in
the config) or make them per-row inputs of the pipeline.

The layer has no weights. Its config holds the program text (or the pipeline as plain
data), so a model saved to `.keras` loads back with the same computation wherever
maskdsl is installed (`import maskdsl.keras` first: Keras finds the class through
its registration as "maskdsl>MaskLayer"). Keras' float autocasting is off: the program sees the dtypes it
is given, as everywhere else in maskdsl. The batch is the leading dimension, as for
pipelines on batched data. One output returns a tensor, several a dict.
"""

from __future__ import annotations

import keras

from maskdsl.errors import InputError, MaskDSLError


@keras.saving.register_keras_serializable(package="maskdsl")
class MaskLayer(keras.layers.Layer):
    """Run `program` (maskdsl text, a Pipeline or a pipeline dict) on the layer's inputs."""

    def __init__(self, program, outputs=None, strategy: str = "auto", fixed: dict | None = None, **kwargs):
        kwargs.setdefault("autocast", False)
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self.supports_jit = False   # XLA drops the checks in the graph; the compiler decides XLA itself
        from maskdsl.compiler import compile as compile_program
        from maskdsl.pipeline.pipeline import Pipeline

        self._source = None
        self._pipeline_config = None
        self._outputs = list(outputs) if outputs is not None else None
        self._strategy = strategy
        if isinstance(program, Pipeline):
            self._pipeline_config = program.to_dict()
            self._runner = program
        elif isinstance(program, dict):
            self._pipeline_config = dict(program)
            self._runner = Pipeline.from_dict(program)
        elif isinstance(program, str):
            self._source = program
            self._runner = compile_program(program, outputs=outputs, strategy=strategy)
        else:
            raise InputError(f"MaskLayer takes maskdsl program text, a Pipeline or a pipeline dict, "
                             f"not {type(program).__name__}")
        if self._pipeline_config is not None and (outputs is not None or strategy != "auto"):
            raise InputError("outputs and strategy belong in the pipeline itself (its outputs and options)")
        if fixed and self._pipeline_config is None:
            raise InputError("fixed= needs a pipeline (its declared types say what the values are)")
        self._fixed = {name: _plain(value) for name, value in (fixed or {}).items()}
        unknown = [n for n in self._fixed if n not in self._runner.inputs]
        if unknown:
            raise InputError(f"fixed= names '{unknown[0]}', which is not an input of the pipeline "
                             f"(inputs: {', '.join(self._runner.inputs)})")
        self._fixed_fn = self._runner.make_map_fn(**self._fixed) if self._fixed else None
        self.input_names = tuple(n for n in self._runner.inputs if n not in self._fixed)
        self.output_names = tuple(self._runner.outputs)

    def _values(self, inputs) -> dict:
        names = self.input_names
        if isinstance(inputs, dict):
            return dict(inputs)
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != len(names):
                raise InputError(f"MaskLayer got {len(inputs)} inputs, the program takes {len(names)} "
                                 f"({', '.join(names)})")
            return dict(zip(names, inputs))
        if len(names) != 1:
            raise InputError(f"the program takes {len(names)} inputs ({', '.join(names)}); "
                             f"pass a dict or a list")
        return {names[0]: inputs}

    def call(self, inputs):
        """Run the program on `inputs`: a tensor (a program with one input), a list in the order
        of `input_names`, or a dict name -> tensor. Returns a tensor for one output, else a
        dict name -> tensor."""
        try:
            return self._call(inputs)
        except MaskDSLError as e:
            # Keras rebuilds an exception raised in call() as `type(e)(message)`, with its own text and
            # terminal bold codes around ours, losing the error's fields; it leaves alone one it marks
            # as already annotated. Our errors carry their own place, so they pass through whole.
            e = e.relocated()
            e._keras_call_info_injected = True
            raise e from None

    def _call(self, inputs):
        values = self._values(inputs)
        if self._fixed_fn is not None:
            result = self._fixed_fn(values)
        elif self._pipeline_config is not None:
            result = self._runner.run_tensors(values)
        else:
            result = self._runner(**values)
            if not isinstance(result, dict):
                return result
        if len(self.output_names) == 1:
            return result[self.output_names[0]]
        return {name: result[name] for name in self.output_names}

    def get_config(self):
        """Keras' config, what a saved `.keras` model stores: the layer's own keys plus the
        program text with `outputs` and `strategy`, or the pipeline as plain data with `fixed`."""
        config = super().get_config()
        if self._pipeline_config is not None:
            config["program"] = {"pipeline": self._pipeline_config}
            config["fixed"] = self._fixed or None
        else:
            config["program"] = self._source
            config["outputs"] = self._outputs
            config["strategy"] = self._strategy
        return config

    @classmethod
    def from_config(cls, config):
        """The layer get_config() describes (Keras calls it when loading a `.keras` model)."""
        config = dict(config)
        program = config.pop("program")
        if isinstance(program, dict):
            program = program["pipeline"]
        return cls(program, **config)


def _plain(value):
    """A fixed value as JSON-able data (the config is saved as JSON)."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    if hasattr(value, "tolist"):
        return value.tolist()
    return value
