import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same random state."""
    torch.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def _matplotlib_settings():
    """Every test leaves matplotlib's rcParams as it found them (a notebook's setup cell run by a test calls
    lecture_style(), which would otherwise change the pictures of every later test)."""
    import matplotlib
    saved = dict(matplotlib.rcParams)
    yield
    matplotlib.rcParams.update(saved)


@pytest.fixture
def one_thread():
    """One intra-op thread for the test: tiny networks, convolutions and solvers run many small ops, which
    extra threads only slow down on a busy 2-core CPU (two can be 20x slower); the results are identical.
    Use it in a module with `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def rejected(capsys):
    """rejected(key, answer, message): assert that exercise `key` rejects `answer` and that what `check`
    prints (the same as `verdict`) contains `message`, the name of the mistake. Returns the printed text."""
    from fmlite.exercises import check, passes, verdict

    def run(key, answer, message):
        check(key, answer)
        out = capsys.readouterr().out
        ok, text = verdict(key, answer)
        assert out == text + "\n"
        assert ok is False and passes(key, answer) is False, f"accepted a wrong answer: {out}"
        assert message in out, out
        return out
    return run


# ----------------------------------------------------------------------------- explorers' fast paths
def _pixels(picture: bytes):
    """The RGB pixels (H, W, 3) of a PNG or WebP picture, as ints."""
    import io

    import numpy as np
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(picture)).convert("RGB")).astype(int)


def _assert_update_equals_fresh_draw(ex, moves):
    """Each move takes the fast path and leaves the picture a full redraw (same layout) gives, then differs
    from the picture before the move."""
    import numpy as np
    for name, value in moves:
        before, updates = ex.image.value, ex.updates
        ex.controls[name].value = value
        assert ex.error is None and ex.updates == updates + 1, f"{name} = {value} did not take the fast path"
        updated = ex.image.value
        assert updated != before
        ex.full_redraw()
        assert ex.updates == updates + 1
        a, b = _pixels(updated), _pixels(ex.image.value)
        assert a.shape == b.shape and (np.abs(a - b).max(axis=2) > 8).mean() < 1e-4, f"{name} = {value}"


@pytest.fixture
def pixels():
    """pixels(picture): the RGB pixels (H, W, 3) of PNG or WebP bytes, as ints."""
    return _pixels


@pytest.fixture
def update_equals_fresh_draw():
    """update_equals_fresh_draw(explorer, [(control, value), ...]): each move takes the explorer's in-place fast
    path and leaves the picture a full redraw of the same values gives (tests/test_explorers_NN.py, test_widgets.py)."""
    return _assert_update_equals_fresh_draw


@pytest.fixture
def spin_field():
    """A velocity field (x (B, 2), t (B,)) -> (B, 2): rotation at angular speed 1 + t."""
    def field(x, t):
        return torch.stack([-x[:, 1], x[:, 0]], dim=1) * (1 + t[:, None])
    return field


@pytest.fixture(scope="session")
def quick_site(tmp_path_factory):
    """(folder, pages): the course's site with the explorers' quick grids (`build_site(..., quick=True)`), built
    once per session for tests/test_site.py and tests/test_site_browser.py."""
    from fmlite.tools.site import build_site

    out = tmp_path_factory.mktemp("quick_site")
    return out, build_site(out, quick=True)
