"""Hard limits on what a program may ask for; each violation is a LimitError naming it.

Expressions arrive from people, config files and other programs, so every size a
program controls is bounded before any work proportional to it is done.
"""

MAX_SOURCE_CHARS = 1_000_000      # characters of program text
MAX_STATEMENTS = 10_000           # statements in one program
MAX_DEPTH = 400                   # nesting depth of an expression (brackets, unary chains)
MAX_INT_LITERAL = 2**63 - 1       # integer literals and folded integer constants
MAX_LITERAL_ELEMENTS = 100_000    # elements of one list literal
MAX_CONSTRUCTED_ELEMENTS = 2**31 - 1  # elements made by arange/zeros/ones/full
MAX_FOLDED_ELEMENTS = 4096        # constant folding never builds arrays larger than this
