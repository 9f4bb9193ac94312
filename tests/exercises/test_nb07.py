"""Exercises of notebook 07: wrong answers of every kind are rejected with a message naming the mistake, and the
solutions agree with independent oracles (the package's path and guided velocity)."""
import pytest
import torch

from fmlite.exercises import EXERCISES, Mismatch, solution
from fmlite.models import ConvNet, guided_velocity
from fmlite.paths import LinearPath

ONE_TIME = "you used one time for the whole batch"
HINT = "t[:, None, None, None]"


def _lerp(x_0, x_1, t):
    return t * x_1 + (1 - t) * x_0


def _t4(t):
    return t[:, None, None, None]


@pytest.mark.parametrize("answer, message", [
    (lambda x_0, x_1, t: _lerp(x_0, x_1, t), HINT),                                                       # kind 4
    (lambda x_0, x_1, t: _lerp(x_0, x_1, t[:, None]), HINT),                                              # kind 4
    (lambda x_0, x_1, t: _lerp(x_1, x_0, _t4(t)), "x_t runs backwards"),                                  # flipped
    (lambda x_0, x_1, t: x_1, "you returned the image x_1 itself"),                                       # x_1 for x_t
    (lambda x_0, x_1, t: -_lerp(x_0, x_1, _t4(t)), "x_t has the wrong sign"),                             # sign
    (lambda x_0, x_1, t: _lerp(x_0, x_1, t.mean()), ONE_TIME),                                            # kind 1
    (lambda x_0, x_1, t: _lerp(x_0, x_1, float(t[0])), ONE_TIME),                                         # kind 1
    (lambda x_0, x_1, t: _lerp(x_0, x_1, _t4(t).clamp(0.05, 0.95)), "is right except near the ends of the time range"),     # kind 5
    (lambda x_0, x_1, t: _t4(t) * x_1 + x_0, "the two weights must add up to 1"),
    (lambda x_0, x_1, t: x_1 - x_0, "x_1 − x_0 is the velocity"),
])
def test_interpolate_images_rejects(answer, message, rejected):
    rejected("07.interpolate_images", answer, message)


def test_silent_wrong_broadcast_is_caught():
    """With 8 images of 8 x 8 pixels, t[:, None] runs without an error but mixes the times of the batch."""
    def rows(x_0, x_1, t):
        if len(t) != 8:  # pass the batch of 5 so that only the silent case is left
            return solution("07.interpolate_images")(x_0, x_1, t)
        return t[:, None] * x_1 + (1 - t[:, None]) * x_0

    with pytest.raises(Mismatch, match="spread along the rows"):
        EXERCISES["07.interpolate_images"].checker(rows)


def _parts(m, x, t, y):
    return m(x, t, y), m(x, t, torch.full_like(y, m.null_label))


def _guided_from(combine, t_of=lambda t: t, null_of=lambda m, y: torch.full_like(y, m.null_label)):
    def answer(m, x, t, y, w):
        t = t_of(t)
        return combine(m(x, t, y), m(x, t, null_of(m, y)), w)
    return answer


@pytest.mark.parametrize("answer, message", [
    (lambda m, x, t, y, w: m(x, t, y), "the conditional v(x, t, y) whatever w is"),
    (_guided_from(lambda c, u, w: u + (1 + w) * (c - u)), "(1 + w) form of Ho & Salimans"),
    (_guided_from(lambda c, u, w: c + w * (u - c)), "conditional and unconditional velocities swapped"),  # sign
    (_guided_from(lambda c, u, w: u + w * (c - u), null_of=lambda m, y: torch.zeros_like(y)),
     "label 0 is a digit"),
    (_guided_from(lambda c, u, w: w * (c - u)), "only the guidance direction"),
    (_guided_from(lambda c, u, w: u + w * c), "w scales the difference"),
    (_guided_from(lambda c, u, w: w * u + (1 - w) * c), "velocities swapped"),
    (_guided_from(lambda c, u, w: u - w * (c - u)), "you moved away from the conditional velocity"),      # sign
    (_guided_from(lambda c, u, w: u + w * (c - u), t_of=lambda t: t.mean()), ONE_TIME),                  # kind 1
    (lambda m, x, t, y, w: m(t, x, y), "the model was called as model(t, x, y)"),                         # model(t, x)
    (_guided_from(lambda c, u, w: u + w * (c - u), t_of=lambda t: t[:, None]), "t must have shape (7,)"),  # kind 3
    (_guided_from(lambda c, u, w: u + w * (c - u), t_of=lambda t: 1 - t), "the guided velocity"),        # flipped
    (_guided_from(lambda c, u, w: u + w * (c - u), t_of=lambda t: t.clamp(0.05, 0.95)), "the guided velocity"),  # 5
])
def test_guided_rejects(answer, message, rejected):
    rejected("07.guided", answer, message)


def test_interpolate_images_agrees_with_the_package_path():
    x_0, x_1, t = torch.randn(7, 1, 8, 8), torch.randn(7, 1, 8, 8), torch.rand(7)
    oracle = LinearPath().sample(x_0, x_1, t).x_t
    torch.testing.assert_close(solution("07.interpolate_images")(x_0, x_1, t), oracle)
    # pixel by pixel, as a loop: x_t[i] = t[i] x_1[i] + (1 - t[i]) x_0[i]
    loop = torch.stack([t[i] * x_1[i] + (1 - t[i]) * x_0[i] for i in range(7)])
    torch.testing.assert_close(solution("07.interpolate_images")(x_0, x_1, t), loop)


def test_guided_solution_agrees_with_the_package():
    torch.manual_seed(3)
    model = ConvNet(width=16, blocks=2, num_classes=10).eval()
    torch.nn.init.normal_(model.conv_out[-1].weight, std=0.3)
    x, t, y = torch.randn(5, 1, 8, 8), torch.rand(5), torch.tensor([2, 4, 6, 8, 0])
    with torch.no_grad():
        for w in (0.0, 1.0, 2.5, -0.5):
            torch.testing.assert_close(solution("07.guided")(model, x, t, y, w),
                                       guided_velocity(model, y, w)(x, t), atol=1e-5, rtol=1e-5)


def _where(cond, null, y):
    return torch.where(cond, torch.full_like(y, null), y)


def _drop_first(y, p, null, u):
    return _where(torch.arange(len(y)) < round(p * len(y)), null, y)


def _in_place(y, p, null, u):
    y[u < p] = null
    return y


@pytest.mark.parametrize("answer, message", [
    (lambda y, p, null, u: _where(u > p, null, y), "probability 1 − p (u > p)"),          # the common bug
    (lambda y, p, null, u: _where(u >= p, null, y), "probability 1 − p (u > p)"),
    (lambda y, p, null, u: torch.where(u < p, y, torch.full_like(y, null)), "probability 1 − p (u > p)"),
    (lambda y, p, null, u: _where(u < 1 - p, null, y), "u < 1 − p"),
    (lambda y, p, null, u: y.clone(), "no label was dropped"),
    (lambda y, p, null, u: torch.full_like(y, null), "you dropped every label"),
    (lambda y, p, null, u: _where(u < p, 0, y), "label 0 is a digit"),
    (lambda y, p, null, u: _where(u < p, -1, y), "not -1"),
    (lambda y, p, null, u: _where(u < p, 10, y), "hard-coded the token 10"),
    (lambda y, p, null, u: _where(u > 1 - p, null, y), "u > 1 − p"),
    (_drop_first, "the first p·B labels"),
    (_in_place, "in place"),
    (lambda y, p, null, u: u < p, "the mask of dropped labels"),
    (lambda y, p, null, u: _where(u < p, null, y).float(), "int64"),
    (lambda y, p, null, u: _where(torch.rand(len(y)) < p, null, y), "drew your own random numbers"),
    (lambda y, p, null, u: _where(u < p, null, y).tolist(), "as a tensor"),
])
def test_drop_labels_rejects(answer, message, rejected):
    rejected("07.drop_labels", answer, message)


def test_drop_labels_solution_matches_the_package_rate():
    """The worked solution drops a fraction p of the labels, like `fmlite.train.drop_labels` (independent oracle)."""
    from fmlite.train import drop_labels
    y = torch.zeros(200_000, dtype=torch.int64)
    ours = solution("07.drop_labels")(y, 0.2, 10, torch.rand(200_000))
    package = drop_labels(y, 0.2, 10)
    assert abs((ours == 10).double().mean().item() - 0.2) < 0.005
    assert abs((package == 10).double().mean().item() - 0.2) < 0.005
    assert torch.equal(y, torch.zeros_like(y))


def test_drop_labels_solution_agrees_with_the_package_on_random_inputs():
    """Same y, p, null_label and uniform numbers u: the worked solution and `fmlite.train.drop_labels` agree exactly,
    also when the package draws u itself from torch's global generator."""
    from fmlite.train import drop_labels
    g = torch.Generator().manual_seed(85)
    for batch, p, null in ((50, 0.2, 10), (17, 0.7, 3), (8, 0.0, 10), (8, 1.0, 4)):
        y = torch.randint(0, null, (batch,), generator=g)
        u = torch.rand(batch, generator=g)
        worked = solution("07.drop_labels")(y, p, null, u)
        assert torch.equal(worked, drop_labels(y, p, null, u)) and worked.dtype == torch.int64
        torch.manual_seed(batch)
        drawn = drop_labels(y, p, null)
        torch.manual_seed(batch)
        assert torch.equal(drawn, solution("07.drop_labels")(y, p, null, torch.rand(batch)))
    with pytest.raises(ValueError, match="shape of y"):
        drop_labels(torch.zeros(4, dtype=torch.int64), 0.5, 10, torch.rand(4, 1))


@pytest.mark.parametrize("answer, message", [                                # found by a trial of wrong answers
    (lambda y, p, null, u: _where(u < p, int(y.max()) + 1, y), "not one past the largest label"),
    (lambda y, p, null, u: _where(u < p, null - 1, y), "null_label − 1 is the last digit class"),
    (lambda y, p, null, u: _where(u < 0.2, null, y), "you hard-coded p = 0.2"),
    (lambda y, p, null, u: _where(u.sort().values < p, null, y), "but not the ones where u < p"),
    (lambda y, p, null, u: _where(u.sub_(p) < 0, null, y), "you changed the uniform numbers u in place"),
])
def test_drop_labels_trial_answers_rejected(answer, message, rejected):
    rejected("07.drop_labels", answer, message)


# ----------------------------------------------------------------------------- issue 20: sizes, dtype
@pytest.mark.parametrize("key, answer, message", [
    ("07.guided", _guided_from(lambda c, u, w: u + w * (c - u), t_of=lambda t: t.reshape(7)),
     "your code works for one batch size only"),
    ("07.guided", _guided_from(lambda c, u, w: u + w * (c - u), t_of=lambda t: t.clamp(0.02, 0.98)),
     "the guided velocity is right except near the ends of the time range"),
    ("07.interpolate_images", lambda x_0, x_1, t: _lerp(x_0, x_1, _t4(t)).float(),
     "returned float32 for float64 inputs: keep the inputs' dtype"),
    ("07.interpolate_images", lambda x_0, x_1, t: _lerp(x_0, x_1, _t4(t.reshape(5))),
     "your code works for one batch size only"),
])
def test_written_in_sizes_float32_and_clamped_times_are_rejected(key, answer, message, rejected):
    rejected(key, answer, message)
