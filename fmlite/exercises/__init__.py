"""Exercises with automatic checks, and their worked solutions: one module per notebook.

Each exercise has a key "NN.name" (NN = the notebook, name = the function the student fills
in), a worked solution (a plain function, the single source of truth) and a checker that
compares a student's function with it and explains what is wrong. In a notebook:

    def interpolate(x_0, x_1, t):
        ...  # your code
    check("00.interpolate", interpolate)       # prints a verdict, never raises

Before the student writes anything (the template returns None or raises NotImplementedError)
the check prints "not solved yet", so notebooks still run top to bottom; a filled-in body that
returns None is asked whether it forgot `return`. Instructors see a worked solution with
`show_solution(key)`. The machinery lives in `framework`; `nb00_start_here`, `nb01_paths`, ...
hold each notebook's solutions beside their checkers (a new notebook adds one module, found
and imported automatically).
"""
import importlib
import pkgutil

from .compare import compare, known_mistake
from .framework import EXERCISES, Mismatch, NotSolved, check, passes, show_solution, solution, verdict

# Every notebook module registers its exercises on import; a new notebook adds one file, nbNN_topic.py.
for _module in pkgutil.iter_modules(__path__):
    if _module.name.startswith("nb"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["check", "passes", "verdict", "show_solution", "solution", "EXERCISES", "Mismatch", "NotSolved", "compare",
           "known_mistake"]
