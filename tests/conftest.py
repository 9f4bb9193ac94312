import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same random state."""
    torch.manual_seed(0)
    yield


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
