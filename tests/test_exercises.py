"""The exercise framework and the notebook-00 exercises: every registered solution passes its
own checker, templates say "not solved yet", wrong answers get a diagnosis, never a traceback."""
import pytest
import torch

from fmlite.exercises import EXERCISES, Mismatch, check, compare, passes, show_solution, solution, verdict
from fmlite.paths import LinearPath
from fmlite.solvers import integrate


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_every_worked_solution_passes_its_check(key, capsys):
    assert passes(key, solution(key)) is True
    check(key, solution(key))
    out = capsys.readouterr().out
    assert out.startswith(f"[{key}] correct!") and out == verdict(key, solution(key))[1] + "\n"


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_every_unfilled_template_is_not_solved_yet(key, capsys):
    def template(*args):
        return None

    def raises(*args):
        raise NotImplementedError

    for answer in (template, raises):
        assert passes(key, answer) is False
        check(key, answer)
        assert f"[{key}] not solved yet" in capsys.readouterr().out


def test_a_crashing_answer_is_reported_not_raised(capsys):
    def broken(x_0, x_1, t):
        return x_0 @ x_1  # shapes do not fit

    check("00.interpolate", broken)
    assert "your code raised RuntimeError" in capsys.readouterr().out


def test_flipped_time_is_diagnosed(capsys):
    def flipped(x_0, x_1, t):  # t = 0 at the data: the convention the course never uses
        t = t[:, None]
        return t * x_0 + (1 - t) * x_1

    assert not passes("00.interpolate", flipped)
    check("00.interpolate", flipped)
    assert "x_t runs backwards: at t = 0 it should be the noise x_0" in capsys.readouterr().out


def test_missing_broadcast_gets_the_t_none_hint(capsys):
    check("00.interpolate", lambda x_0, x_1, t: (1 - t) * x_0 + t * x_1)
    assert "write t[:, None]" in capsys.readouterr().out


def test_a_forgotten_step_size_is_diagnosed(capsys):
    check("00.euler_step", lambda x, t, h, v: x + v(x, t))
    assert "multiply it by the step size h (h = 0.1 here)" in capsys.readouterr().out
    check("00.euler_step", lambda x, t, h, v: h * v(x, t))
    assert "add it to the current position x" in capsys.readouterr().out
    check("00.euler_step", lambda x, t, h, v: x - h * v(x, t))
    assert "at t = 0.00 with h = 0.1" in capsys.readouterr().out


def test_compare_diagnoses_sign_factor_and_shape():
    e = torch.arange(1.0, 7.0).reshape(3, 2)
    with pytest.raises(Mismatch, match="wrong sign at t = 0.30"):
        compare(-e, e, "u_t", " at t = 0.30")
    with pytest.raises(Mismatch, match="is 0.5 times the expected value"):
        compare(e / 2, e, "u_t")
    with pytest.raises(Mismatch, match=r"shape \(2, 3\)"):
        compare(e.T, e, "u_t")
    with pytest.raises(Mismatch, match="torch tensor"):
        compare(e.numpy(), e, "u_t")


def test_interpolate_solution_agrees_with_the_path_module():
    """Oracle: fmlite.paths.LinearPath, written independently of the exercise."""
    x_0, x_1, t = torch.randn(8, 2), torch.randn(8, 2), torch.rand(8)
    assert torch.allclose(solution("00.interpolate")(x_0, x_1, t), LinearPath().interpolate(x_0, x_1, t))


def test_euler_step_solution_agrees_with_the_solver():
    x, t = torch.randn(5, 2), torch.full((5,), 0.2)
    field = lambda x, t: -x * t[:, None]  # noqa: E731
    one_step = integrate(field, x, 1, "euler", t_start=0.2, t_end=0.45).x
    assert torch.allclose(solution("00.euler_step")(x, t, 0.25, field), one_step)


def test_show_solution_prints_source(capsys):
    show_solution("00.interpolate")
    assert "def interpolate" in capsys.readouterr().out
    with pytest.raises(KeyError, match="unknown exercise"):
        check("99.nothing", lambda: None)


def test_known_mistake_never_reports_a_correct_answer():
    from fmlite.exercises import known_mistake
    right, wrong = torch.ones(3), torch.zeros(3)
    assert known_mistake(wrong, [("zeros", wrong)], right) == "zeros"
    assert known_mistake(right, [("same as right", right.clone())], right) is None
    assert known_mistake(None, [("zeros", wrong)]) is None
    assert known_mistake(torch.zeros(2), [("zeros", wrong)]) is None  # another shape is not that mistake
