"""Analysis of SMT: speed and memory against Swin, FLOPs, and the paper's numbers and claims.

Import the submodule you need (``benchmark``, ``complexity``, ``paper``, ``compare``): each pulls
in only its own dependencies.
"""
