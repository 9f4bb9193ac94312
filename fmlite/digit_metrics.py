"""How recognisable are generated 8x8 digits? A classifier trained on real digits scores them (notebook 07).

A classifier trained on real 8x8 digits scores generated ones, in the spirit of the
Inception score (Salimans et al. 2016) and "classification accuracy score" (Ravuri &
Vinyals 2019), small enough to fit offline in about a second: kernel logistic
regression (Nystroem RBF features, Williams & Seeger 2001, then scikit-learn's
LogisticRegression). Far from every training digit its RBF features vanish and its
probabilities fall back towards the class frequencies, so noise scores low (a plain
linear classifier is confidently wrong on noise).

Taught in notebook 07 (`notebooks/07_images.ipynb`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["digit_classifier", "digit_probabilities", "nearest_neighbour_distance", "digit_scores",
           "real_digit_scores", "DigitScores", "DIGIT_CLASSIFIER"]

#: Settings of the digit classifier: held-out fraction and seed of the split, RBF width
#: (pixels in [-1, 1]), number of Nystroem features, inverse regularisation C.
DIGIT_CLASSIFIER = dict(test_size=0.25, seed=0, gamma=0.04, n_components=600, C=10.0)


def _digits_flat() -> tuple[np.ndarray, np.ndarray]:
    from .datasets import load_digits
    images, labels = load_digits()
    return images.reshape(len(images), -1).double().numpy(), labels.numpy()


@functools.lru_cache(maxsize=1)
def _digit_split():
    from sklearn.model_selection import train_test_split
    x, y = _digits_flat()
    cfg = DIGIT_CLASSIFIER
    return train_test_split(x, y, test_size=cfg["test_size"], random_state=cfg["seed"], stratify=y)


@functools.lru_cache(maxsize=1)
def digit_classifier():
    """The scikit-learn classifier that scores 8x8 digits, fitted once per session (about 1 s) and cached.

    Kernel logistic regression: `Nystroem(gamma=0.04, n_components=600)` RBF features,
    then `LogisticRegression(C=10)`, fitted on a stratified, seeded 75 % of the 1,797
    real digits (`DIGIT_CLASSIFIER`); the other 25 % are held out for the real-digit
    ceiling (`real_digit_scores`). Deterministic; nothing is downloaded.

    Returns:
        a fitted sklearn Pipeline; `.predict_proba(x)` takes flat images (N, 64) in [-1, 1].

    Source: Williams & Seeger 2001 (Nystroem); Alpaydin & Kaynak 1998 (the digits).
    """
    from sklearn.kernel_approximation import Nystroem
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    x_train, _, y_train, _ = _digit_split()
    cfg = DIGIT_CLASSIFIER
    model = make_pipeline(Nystroem(gamma=cfg["gamma"], n_components=cfg["n_components"], random_state=cfg["seed"]),
                          LogisticRegression(C=cfg["C"], max_iter=5000))
    return model.fit(x_train, y_train)


def _as_digit_images(images, name: str = "images") -> Tensor:
    if not isinstance(images, Tensor):
        raise ValueError(f"digit metrics need {name} as a torch tensor (N, 1, 8, 8), got {type(images).__name__}; "
                         f"convert it with torch.as_tensor({name}, dtype=torch.float32)")
    if images.dtype == torch.bool or images.is_complex():
        raise ValueError(f"digit metrics need real grey levels in [-1, 1], got dtype {images.dtype}")
    images = images.detach().cpu().double()
    if images.dim() != 4 or tuple(images.shape[1:]) != (1, 8, 8) or len(images) < 1:
        raise ValueError(f"digit metrics need images of shape (N, 1, 8, 8) in [-1, 1] with N >= 1, "
                         f"got {tuple(images.shape)}")
    if not torch.isfinite(images).all():
        raise ValueError("the images contain NaN or inf (did sampling diverge?)")
    return images


def digit_probabilities(images: Tensor) -> Tensor:
    """Class probabilities of 8x8 digit images under `digit_classifier()`.

    Args:
        images: (N, 1, 8, 8), grey levels in [-1, 1] (-1 background, 1 ink), as from
            `fmlite.datasets.load_digits` or a sampler.

    Returns:
        float64 tensor (N, 10); each row sums to 1.

    Raises:
        ValueError: images not a tensor (a list or numpy array: use torch.as_tensor), wrong shape,
            N = 0, or NaN/inf. Integer images are used as floats.
    """
    x = _as_digit_images(images).reshape(-1, 64).numpy()
    return torch.as_tensor(digit_classifier().predict_proba(x))


def nearest_neighbour_distance(images: Tensor, reference: Tensor | None = None, exclude_self: bool = False) -> Tensor:
    """Euclidean distance from each image to its nearest neighbour in a reference set.

    Generated digits that sit at distance ~0 are copies of training digits
    (memorisation); novel digits sit about as far away as two different real digits
    (`real_digit_scores().nn_distance`, about 2 on this scale).

    Args:
        images: (N, 1, 8, 8) in [-1, 1].
        reference: (M, 1, 8, 8); default all 1,797 real digits (the training set of the
            course's models).
        exclude_self: ignore exact zero distances (leave-one-out, for images that are
            themselves in the reference set).

    Returns:
        float64 tensor (N,), in pixel units of [-1, 1] (the largest possible is 16).

    Raises:
        ValueError: images or reference not tensors (use torch.as_tensor), wrong shapes, N = 0, or NaN/inf.
    """
    x = _as_digit_images(images).reshape(len(images), -1)
    if reference is None:
        ref = torch.as_tensor(_digits_flat()[0])
    else:
        ref = _as_digit_images(reference, "reference").reshape(len(reference), -1)
    d = torch.cdist(x, ref)
    if exclude_self:
        d = torch.where(d == 0, torch.full_like(d, float("inf")), d)
    return d.min(dim=1).values


@dataclass
class DigitScores:
    """How recognisable a set of 8x8 digits is (see `digit_scores`).

    Attributes:
        n: number of images.
        confidence: mean top-class probability, in [0.1, 1]; higher = clearer digits.
        histogram: how many images the classifier puts in each class 0..9 (list of 10 ints).
        agreement: fraction classified as the requested label (None without labels).
        nn_distance: mean distance to the nearest real digit (0 = copies).
        spread: mean distance between two images of the same class (requested label,
            else predicted class); lower = less diverse.
    """

    n: int
    confidence: float
    histogram: list
    agreement: float | None
    nn_distance: float
    spread: float

    def summary(self) -> str:
        """One line: 'confidence 0.93, agreement 0.98, NN distance 2.05, spread 5.10'."""
        agree = "" if self.agreement is None else f", agreement {self.agreement:.2f}"
        return (f"confidence {self.confidence:.2f}{agree}, NN distance {self.nn_distance:.2f}, "
                f"spread {self.spread:.2f}")


def _spread(flat: Tensor, classes: np.ndarray) -> float:
    total, pairs = 0.0, 0
    for c in np.unique(classes):
        members = flat[torch.as_tensor(classes == c)]
        k = len(members)
        if k >= 2:
            total += float(torch.cdist(members, members).sum())  # the diagonal is 0
            pairs += k * (k - 1)
    return total / pairs if pairs else float("nan")


def digit_scores(images: Tensor, labels=None) -> DigitScores:
    """Score generated 8x8 digits with a classifier trained on real ones, and check for copying.

    Args:
        images: (N, 1, 8, 8), grey levels in [-1, 1].
        labels: the requested labels (N,) of class-conditional samples (ints 0..9), or None.

    Returns:
        DigitScores(n, confidence, histogram, agreement, nn_distance, spread). Compare
        with `real_digit_scores()`, the same numbers for held-out real digits (the ceiling).

    Raises:
        ValueError: images not a tensor (use torch.as_tensor), wrong shapes, N = 0, NaN/inf, or labels
            of another length, not integers, or outside 0..9.

    Sources: classifier-based scores as in Salimans et al. 2016 and Ravuri & Vinyals 2019;
    nearest-neighbour checks for memorisation as in Carlini et al. 2023.
    """
    x = _as_digit_images(images)
    if labels is not None:   # checked before the classifier runs
        labels = torch.as_tensor(labels).cpu()
        if (labels.shape != (len(x),) or labels.is_floating_point() or labels.is_complex()
                or labels.dtype == torch.bool or labels.min() < 0 or labels.max() > 9):
            raise ValueError(f"labels must be {len(x)} integers in 0..9 (one per image), got shape "
                             f"{tuple(labels.shape)}, dtype {labels.dtype}")
        labels = labels.numpy()
    probs = digit_probabilities(x).numpy()
    predicted = probs.argmax(axis=1)
    agreement = None
    if labels is not None:
        agreement = float((predicted == labels).mean())
    flat = x.reshape(len(x), -1)
    return DigitScores(n=len(x), confidence=float(probs.max(axis=1).mean()),
                       histogram=np.bincount(predicted, minlength=10).tolist(), agreement=agreement,
                       nn_distance=float(nearest_neighbour_distance(x).mean()),
                       spread=_spread(flat, predicted if labels is None else labels))


@functools.lru_cache(maxsize=1)
def real_digit_scores() -> DigitScores:
    """The ceiling: held-out real digits (the 25 % the classifier never saw) scored like samples.

    Same numbers as `digit_scores(held_out, their_labels)`, except `nn_distance`, which
    is leave-one-out (distance to the nearest *other* real digit): the typical distance
    between two different real digits, the level that novel samples reach. Cached.

    Returns:
        DigitScores for the 450 held-out digits.
    """
    _, x_test, _, y_test = _digit_split()
    images = torch.as_tensor(x_test).reshape(-1, 1, 8, 8)
    scores = digit_scores(images, torch.as_tensor(y_test))
    scores.nn_distance = float(nearest_neighbour_distance(images, exclude_self=True).mean())
    return scores
