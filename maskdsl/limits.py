"""Hard limits on what a program may ask for; each violation is a LimitError naming it.

Expressions arrive from people, config files and other programs, so every size a
program controls is bounded before any work proportional to it is done. Compiling
costs roughly 0.1 ms per token, so MAX_TOKENS bounds compile time to seconds; a flat
chain `a + b - c + ...` is one level of MAX_DEPTH, since no phase recurses on it.
MAX_RANK is below TensorFlow's own limit (the process aborts beyond 254 dimensions)
and its strided-slice masks (32 bits).
"""

MAX_SOURCE_CHARS = 1_000_000      # characters of program text
MAX_TOKENS = 100_000              # tokens (names, numbers, operators) of program text
MAX_STATEMENTS = 10_000           # statements in one program
MAX_DEPTH = 400                   # nesting depth of an expression (brackets, unary chains)
MAX_RANK = 31                     # dimensions of an array, and items of one index
MAX_INT_LITERAL = 2**63 - 1       # integer literals and folded integer constants
MAX_LITERAL_ELEMENTS = 100_000    # elements of one list literal
MAX_LIST_DEPTH = 32               # nesting depth of list literals
MAX_CONSTRUCTED_ELEMENTS = 2**31 - 1  # elements made by arange/zeros/ones/full
MAX_FOLDED_ELEMENTS = 4096        # constant folding never builds arrays larger than this
