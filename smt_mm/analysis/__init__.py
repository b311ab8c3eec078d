"""Analysis of SMT: FLOPs and parameters, and the paper's numbers and claims.

Import the submodule you need (``complexity``, ``paper``, ``compare``): each pulls in only its
own dependencies. Speed and memory against Swin live in :mod:`smt_mm.benchmark`.
"""
