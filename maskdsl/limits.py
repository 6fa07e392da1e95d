"""Hard limits on what a program, a pipeline file or a data file may ask for; each violation
is an error naming it (a LimitError for programs, a ConfigError or DataError for files).

Expressions arrive from people, config files and other programs, so every size a
program controls is bounded before any work proportional to it is done. Compiling
costs roughly 0.1 ms per token, so MAX_TOKENS bounds compile time to seconds; a flat
chain `a + b - c + ...` is one level of MAX_DEPTH, since no phase recurses on it.
MAX_RANK is below TensorFlow's own limit (the process aborts beyond 254 dimensions)
and its strided-slice masks (32 bits).

Tracing is what MAX_OPERATIONS bounds: TensorFlow builds each operation of a graph in
Python, about 1.4 ms apiece on a slow machine (a 50,000-term sum traced for 71 s and
1.3 GB; 2,000 terms 2.7 s, 5,000 terms 6.4 s, 10,000 terms 13.6 s: linear, and three
quarters of it in TensorFlow's op_def_library checking each op's attributes), so a
program's operations are bounded and its first call traces in seconds. MAX_TOKENS
alone allowed 50,000 operations.
MAX_CONSTRUCTED_BYTES is checked before TensorFlow is asked for any array a program
makes from constants: an allocation that fails inside TensorFlow can end the process
(`full((2147483647,), True)` under a memory limit: exit 134) instead of raising.

Files are bounded too: a pipeline file is read only from a regular file and only up to
MAX_PIPELINE_CHARS; an .npz member or a file the REPL loads is never decompressed or
read beyond MAX_ARRAY_BYTES, and never beyond the size its .npy header declares.
"""

MAX_SOURCE_CHARS = 1_000_000      # characters of program text
MAX_TOKENS = 100_000              # tokens (names, numbers, operators) of program text
MAX_STATEMENTS = 10_000           # statements in one program
MAX_DEPTH = 400                   # nesting depth of an expression (brackets, unary chains)
MAX_RANK = 31                     # dimensions of an array, and items of one index
MAX_INT_LITERAL = 2**63 - 1       # integer literals and folded integer constants (either sign)
MAX_LITERAL_ELEMENTS = 100_000    # elements of one list literal
MAX_LIST_DEPTH = 32               # nesting depth of list literals
MAX_CONSTRUCTED_ELEMENTS = 2**31 - 1  # elements made by arange/zeros/ones/full
MAX_CONSTRUCTED_BYTES = 1 << 30   # bytes made by arange/zeros/ones/full with constant arguments,
                                  # all of them in one program together
MAX_OPERATIONS = 5_000            # operations of one program after optimisation (each is a
                                  # TensorFlow op to build on the first call)
MAX_FOLDED_ELEMENTS = 4096        # constant folding never builds arrays larger than this
MAX_DIMENSION = 2**63 - 1         # a dimension in a type spec such as float32[None, 3]
MAX_PIPELINE_CHARS = 1_000_000    # characters of a pipeline file (read from regular files only)
MAX_ARRAY_BYTES = 1 << 30         # bytes of one .npz member decompressed by maskdsl run, or of an
                                  # array loaded by the REPL's :load
MAX_SERVICE_BYTES = 1 << 30       # bytes of input sent to a tf.data service inside the dataset graph
