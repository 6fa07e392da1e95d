"""Test machinery that ships with maskdsl: random programs and the NumPy oracle.

- `maskdsl.testing.programs`: the one random-program generator (grammar-following
  fuzz inputs and their mutations; typed programs rendered as maskdsl and as NumPy).
  Plain Python and NumPy, no TensorFlow.
- `maskdsl.testing.oracle`: runs a generated program through maskdsl in every mode and
  compares it with NumPy bit for bit, classifying known differences.
"""
