"""stub"""
from ..ir import Program
def simplify_masks(program: Program, **options) -> Program:
    return program
