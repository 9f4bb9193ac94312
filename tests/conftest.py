import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same random state."""
    torch.manual_seed(0)
    yield


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
