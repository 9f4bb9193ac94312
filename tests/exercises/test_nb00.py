"""The exercise framework and the notebook-00 exercises: every solution passes its checker, templates say
"not solved yet", wrong answers of every kind are rejected with a message naming the mistake, and the
solutions agree with independent oracles (fmlite.paths, fmlite.solvers)."""
import pkgutil

import pytest
import torch

import fmlite.exercises

from fmlite.exercises import (EXERCISES, Mismatch, NotSolved, check, compare, known_mistake, passes,
                              show_solution, solution, verdict)
from fmlite.paths import LinearPath
from fmlite.solvers import integrate

ONE_TIME = "you used one time for the whole batch"
#: one module per notebook, found the way the package finds them
MODULES = sorted(m.name for m in pkgutil.iter_modules(fmlite.exercises.__path__) if m.name.startswith("nb"))


# ----------------------------------------------------------------------------- the framework contract
@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_every_worked_solution_passes_its_check(key, capsys):
    assert passes(key, solution(key)) is True
    check(key, solution(key))
    out = capsys.readouterr().out
    assert out.startswith(f"[{key}] correct!") and out == verdict(key, solution(key))[1] + "\n"


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_every_unfilled_template_is_not_solved_yet(key, capsys):
    def template(*args):
        # YOUR CODE HERE
        return None

    def raises(*args):
        raise NotImplementedError

    def dots(*args):
        ...

    for answer in (template, raises, dots, lambda *a: None):
        assert passes(key, answer) is False
        check(key, answer)
        out = capsys.readouterr().out
        assert f"[{key}] not solved yet: fill in the function above" in out, out


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_code_above_the_template_return_is_asked_to_return_its_result(key, capsys):
    """A student who wrote the body but kept the template's `return None` is told so (found by a new student)."""
    def kept_template_return(*args):
        # YOUR CODE HERE
        result = solution(key)(*args)  # noqa: F841 - computed, but the template's line still returns None
        return None

    check(key, kept_template_return)
    assert "not solved yet: your function still ends with the template's `return None`" in capsys.readouterr().out


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_a_filled_body_without_return_is_asked_about_return(key, capsys):
    def forgot(*args):
        result = solution(key)(*args)  # noqa: F841 - computed, never returned

    assert passes(key, forgot) is False
    check(key, forgot)
    assert "your function returned None: did you forget `return`?" in capsys.readouterr().out


def test_keys_name_the_function_the_student_fills_in():
    for key, ex in EXERCISES.items():
        assert key.split(".")[1] == ex.solution.__name__, key
    assert {"02.average_velocity", "07.guided"} <= set(EXERCISES)
    assert not {"02.marginal_velocity", "07.guided_velocity"} & set(EXERCISES)


def test_one_module_per_notebook_each_readable_in_one_sitting():
    import importlib
    assert {"nb00_start_here", "nb01_paths", "nb02_vector_fields", "nb03_training", "nb04_sampling",
            "nb07_images"} <= set(MODULES)
    import inspect
    for name in MODULES:
        source = inspect.getsource(importlib.import_module(f"fmlite.exercises.{name}"))
        assert len(source.splitlines()) <= 300, name
        assert f"_{name[2:4]}" not in source.replace(f"nb{name[2:4]}", "")  # no _0102-style name suffixes
    for key, ex in EXERCISES.items():
        assert ex.checker.__module__ == ex.solution.__module__ == "fmlite.exercises." + next(
            m for m in MODULES if m.startswith("nb" + key[:2])), key
        assert "Domain:" in ex.checker.__doc__, key


def test_a_crashing_answer_is_reported_not_raised(capsys):
    check("00.interpolate", lambda x_0, x_1, t: x_0 @ x_1)  # shapes do not fit
    assert "your code raised RuntimeError" in capsys.readouterr().out


def test_show_solution_prints_source_and_unknown_keys_raise(capsys):
    show_solution("00.interpolate")
    assert "def interpolate" in capsys.readouterr().out
    with pytest.raises(KeyError, match="unknown exercise"):
        check("99.nothing", lambda: None)


def test_compare_diagnoses_sign_factor_and_shape():
    e = torch.arange(1.0, 7.0).reshape(3, 2)
    with pytest.raises(Mismatch, match="wrong sign at t = 0.30"):
        compare(-e, e, "u_t", " at t = 0.30")
    with pytest.raises(Mismatch, match="is 0.5 times the expected value"):
        compare(e / 2, e, "u_t")
    with pytest.raises(Mismatch, match="has the wrong sign and is 2 times"):
        compare(-2 * e, e, "u_t")
    with pytest.raises(Mismatch, match="differs from the expected value by up to"):  # never "1 times"
        compare(e * 1.001, e, "u_t")
    with pytest.raises(Mismatch, match=r"shape \(2, 3\)"):
        compare(e.T, e, "u_t")
    with pytest.raises(Mismatch, match="torch tensor"):
        compare(e.numpy(), e, "u_t")


def test_known_mistake_is_guarded_for_tensors_and_numbers():
    right, wrong = torch.ones(3), torch.zeros(3)
    assert known_mistake(wrong, [("zeros", wrong)], right) == "zeros"
    assert known_mistake(right, [("same as right", right.clone())], right) is None
    assert known_mistake(None, [("zeros", wrong)]) is None
    assert known_mistake(torch.zeros(2), [("zeros", wrong)]) is None  # another shape is not that mistake
    assert known_mistake(torch.tensor(2.0), [("double", torch.tensor(2.0))], 1.0) == "double"
    assert known_mistake(2.0, [("double", torch.tensor([2.0]))], torch.tensor(1.0)) == "double"
    assert known_mistake(1.0, [("equal to the right one", 1.0)], 1.0) is None
    assert known_mistake(2.0, [("inf", float("inf")), ("two", 2.0)]) == "two"
    assert NotSolved is not Mismatch


# ----------------------------------------------------------------------------- 00.interpolate
def _line(x_0, x_1, t):
    return (1 - t) * x_0 + t * x_1


@pytest.mark.parametrize("answer, message", [
    (lambda x_0, x_1, t: x_1, "you returned the data x_1 itself"),                                      # x_1 for x_t
    (lambda x_0, x_1, t: _line(x_1, x_0, t[:, None]), "x_t runs backwards"),                             # flipped time
    (lambda x_0, x_1, t: _line(x_0, x_1, t.mean()), ONE_TIME),                                           # kind 1
    (lambda x_0, x_1, t: _line(x_0, x_1, float(t[0])), ONE_TIME),                                        # kind 1
    (lambda x_0, x_1, t: _line(x_0, x_1, t), "use t[:, None], of shape (B, 1)"),                         # kind 4
    (lambda x_0, x_1, t: _line(x_0, x_1, t[:, None].clamp(0.05, 0.95)), "is right except near the ends of the time range"),  # 5
    (lambda x_0, x_1, t: x_1 - x_0, "x_1 − x_0 is the velocity of the path"),
    (lambda x_0, x_1, t: x_0 + t[:, None] * x_1, "the two weights must add up to 1"),
    (lambda x_0, x_1, t: -_line(x_0, x_1, t[:, None]), "x_t has the wrong sign"),                        # sign
    (lambda x_0, x_1, t: (x_0 + x_1) / 2, "the midpoint"),
])
def test_interpolate_rejects(answer, message, rejected):
    rejected("00.interpolate", answer, message)


def test_interpolate_solution_agrees_with_the_path_module():
    x_0, x_1, t = torch.randn(8, 2), torch.randn(8, 2), torch.rand(8)
    assert torch.allclose(solution("00.interpolate")(x_0, x_1, t), LinearPath().interpolate(x_0, x_1, t))


# ----------------------------------------------------------------------------- 00.euler_step
@pytest.mark.parametrize("answer, message", [
    (lambda x, t, h, v: x + v(x, t), "multiply it by the step size h (h = 0.1 here)"),
    (lambda x, t, h, v: h * v(x, t), "add it to the current position x"),
    (lambda x, t, h, v: x - h * v(x, t), "you stepped against the arrow"),                               # sign
    (lambda x, t, h, v: x + h * v(x, t.mean().expand_as(t)), ONE_TIME),                                  # kind 1
    (lambda x, t, h, v: x + h * v(x, float(t[0])), ONE_TIME),                                            # kind 1
    (lambda x, t, h, v: x + h * v(t, x), "velocity was called as velocity(t, x)"),                        # model(t, x)
    (lambda x, t, h, v: x + h * v(x, t[:, None]), "refused its input, as a network of fmlite.models would"),  # 3
    (lambda x, t, h, v: x + h * v(x, t + h), "at the end of the step"),                                  # off by one
    (lambda x, t, h, v: x + h * v(x, 1 - t), "time runs the wrong way"),                                 # flipped time
    (lambda x, t, h, v: x + h * v(x, t.clamp(0.05, 0.95)), "is right except near the ends of the time range"),                         # kind 5
    (lambda x, t, h, v: v(x, t), "you returned the velocity v(x, t)"),
])
def test_euler_step_rejects(answer, message, rejected):
    rejected("00.euler_step", answer, message)


def test_euler_step_solution_agrees_with_the_solver():
    x, t = torch.randn(5, 2), torch.full((5,), 0.2)
    field = lambda x, t: -x * t[:, None]  # noqa: E731
    one_step = integrate(field, x, 1, "euler", t_start=0.2, t_end=0.45).x
    assert torch.allclose(solution("00.euler_step")(x, t, 0.25, field), one_step)


# ----------------------------------------------------------------------------- answers that change their inputs
def _euler_in_place(x, t, h, velocity):
    x += h * velocity(x, t)      # the right value, but the caller's x changes with it
    return x


def _corrupting(key, index):
    """The worked solution of `key`, which afterwards changes its argument number `index` in place."""
    def answer(*args):
        out = solution(key)(*args)
        args[index].add_(1.0)
        return out
    return answer


@pytest.mark.parametrize("key, answer, message", [   # found by a new student's trial: a right value, inputs changed
    ("00.interpolate", lambda x_0, x_1, t: x_0.mul_(1 - t[:, None]).add_(t[:, None] * x_1), "input x_0 in place"),
    ("00.euler_step", _euler_in_place, "changed its input x in place"),
    ("01.stochastic_interpolant", _corrupting("01.stochastic_interpolant", 3), "changed its input eps in place"),
    ("01.target_velocity", lambda x_0, x_1, t, eps, sigma: x_1.sub_(x_0).add_(sigma.derivative(t)[:, None] * eps),
     "changed its input x_1 in place"),
    ("02.conditional_velocity", lambda x, x_1, t: x_1.sub_(x).div_((1 - t)[:, None]), "input x_1 in place"),
    ("02.posterior_weights", _corrupting("02.posterior_weights", 2), "changed its input data in place"),
    ("02.average_velocity", _corrupting("02.average_velocity", 1), "changed its input t in place"),
    ("03.fm_loss", _corrupting("03.fm_loss", 2), "changed its input x_1 in place"),
    ("04.rk4_step", _corrupting("04.rk4_step", 0), "changed its input x in place"),
    ("07.interpolate_images", _corrupting("07.interpolate_images", 0), "changed its input x_0 in place"),
    ("07.guided", _corrupting("07.guided", 1), "changed its input x in place"),
])
def test_answers_that_change_their_inputs_in_place_are_told_so(key, answer, message, rejected):
    """A right value computed by changing the caller's tensors (`x += ...`, `x_1.sub_(...)`) is told exactly
    that, not blamed for a mistake in the maths that it did not make."""
    rejected(key, answer, message)


# ----------------------------------------------------------------------------- rules every checker keeps (issue 20)
FIXED_SIZE = "your code works for one batch size only"
DTYPE = "returned float32 for float64 inputs: keep the inputs' dtype"
#: exercises whose inputs are float64 (07.guided runs the float32 ConvNet; 07.drop_labels returns int64 labels;
#: 10.sample_x_t and 10.euler_jump return int64 tokens, their dtype checked in tests/exercises/test_nb10.py)
FLOAT64_KEYS = sorted(set(EXERCISES) - {"07.guided", "07.drop_labels", "10.sample_x_t", "10.euler_jump"})


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_every_checker_calls_the_answer_with_two_batch_sizes(key):
    """A size written into the answer (t.reshape(7, 1)) cannot pass: the first tensor argument (the batch, or a
    trajectory's states) comes with at least two different leading sizes."""
    sizes = set()

    def spy(*args):
        sizes.add(next(a for a in args if isinstance(a, torch.Tensor)).shape[0])
        return solution(key)(*args)

    assert passes(key, spy)
    assert len(sizes) >= 2, (key, sizes)


@pytest.mark.parametrize("key", FLOAT64_KEYS)
def test_one_dtype_rule_a_float32_answer_to_float64_inputs_is_rejected(key, rejected):
    """The same rule in every notebook (it was accepted in 00, 01, 04, 07): keep the inputs' dtype."""
    def rounded(*args):
        answer = solution(key)(*args)   # one tensor, or a pair such as 11.latent_fm_target's (z_t, u_t)
        return tuple(a.float() for a in answer) if isinstance(answer, tuple) else answer.float()

    rejected(key, rounded, DTYPE)


def test_the_sizes_of_the_calls_are_pairwise_different():
    from fmlite.exercises.inputs import SIZES
    assert len({size.B for size in SIZES}) == len(SIZES) >= 2
    for size in SIZES:
        assert len({size.B, size.D, size.N, size.K, size.K + 1}) == 5, size


def test_compare_names_the_dtype_and_a_clamped_time():
    e = torch.arange(1.0, 7.0, dtype=torch.float64).reshape(6, 1)
    with pytest.raises(Mismatch, match="returned float32 for float64 inputs: keep the inputs' dtype"):
        compare(e.float(), e, "u_t")
    t = torch.tensor([0.0, 0.01, 0.3, 0.5, 0.99, 1.0], dtype=torch.float64)
    clamped = e.clone()
    clamped[[0, 5]] += 1
    with pytest.raises(Mismatch, match=r"right except near the ends of the time range \(wrong at t = \[0.0, 1.0\]\)"):
        compare(clamped, e, "u_t", t=t)
    clamped[2] += 1                    # wrong inside the range too: no hint about the ends
    with pytest.raises(Mismatch, match="differs from the expected value"):
        compare(clamped, e, "u_t", t=t)


@pytest.mark.parametrize("key, answer, message", [
    ("00.interpolate", lambda x_0, x_1, t: (1 - t.reshape(7, 1)) * x_0 + t.reshape(7, 1) * x_1, FIXED_SIZE),
    ("00.interpolate", lambda x_0, x_1, t: _line(x_0, x_1, t[:, None] * torch.ones(7, 1, dtype=t.dtype)), FIXED_SIZE),
    ("00.interpolate", lambda x_0, x_1, t: _line(x_0, x_1, t[:, None]).float(), DTYPE),
    ("00.euler_step", lambda x, t, h, v: x + h * v(x, t.reshape(7)), FIXED_SIZE),
    ("00.euler_step", lambda x, t, h, v: (x + h * v(x, t)).float(), DTYPE),
])
def test_written_in_sizes_and_float32_are_rejected(key, answer, message, rejected):
    rejected(key, answer, message)


def test_the_written_in_size_hint_needs_the_batch_size_of_another_call():
    from fmlite.exercises.framework import _fixed_size
    x5 = torch.zeros(5, 3)
    assert _fixed_size(RuntimeError("shape '[7, 1]' is invalid for input of size 5"), (x5,))
    assert not _fixed_size(RuntimeError("shape '[-1, 2]' is invalid for input of size 15"), (x5,))
    assert _fixed_size(RuntimeError("The size of tensor a (5) must match the size of tensor b (7) at non-singleton "
                                    "dimension 0"), (x5,))
    assert not _fixed_size(RuntimeError("The size of tensor a (6) must match the size of tensor b (3) at "
                                        "non-singleton dimension 1"), (x5,))   # weights (B, N) against data (N, D)
