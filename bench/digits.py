"""Benchmark: flow matching on the 8x8 digits (notebook 07).

Prints the training time and the digit scores (`fmlite.digit_metrics.digit_scores`) of
  - the shipped checkpoint (`load_pretrained("digits")`; its training time is the
    one stored in the checkpoint, or measured again with --retrain),
  - the short run trained in notebook 07 (`train_digits(**SHORT_RUN)`, timed here),
for unconditional samples and class-conditional samples at guidance w = 1 and 2,
next to held-out real digits scored by the same classifier (the ceiling) and, for
nearest-neighbour distances, the distance between two different real digits.

    python bench/digits.py [--n 1000] [--steps 10] [--method midpoint] [--retrain] [--device auto]
"""
import argparse
import time

import torch

from fmlite.digit_metrics import digit_scores, real_digit_scores
from fmlite.pretrained import load_pretrained, sample_images
from fmlite.tools.recipes import DIGITS_RECIPE, SHORT_RUN, train_digits


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="samples per row (a multiple of 10)")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--method", default="midpoint")
    parser.add_argument("--retrain", action="store_true", help="also time a full rebuild of the shipped checkpoint")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    shipped = load_pretrained("digits")
    models = {"shipped": (shipped, f"{shipped.meta['train_seconds']:.0f} s stored ({shipped.meta['steps']} steps, "
                                   f"{shipped.meta['device']}, threads={shipped.meta.get('threads', '?')})")}
    if args.retrain:
        model, history = train_digits(**DIGITS_RECIPE, device=args.device, progress=False)
        models["shipped, retrained now"] = (model, f"{history.seconds:.0f} s ({history.steps} steps, {history.device})")
    model, history = train_digits(**SHORT_RUN, device=args.device, progress=False)
    models["notebook short run"] = (model, f"{history.seconds:.1f} s ({history.steps} steps, {history.device}, "
                                           f"threads={torch.get_num_threads()})")

    labels = torch.arange(10).repeat_interleave(args.n // 10)
    n = len(labels)
    print(f"{n} samples per row, {args.method} {args.steps} steps; scores by the digit classifier of fmlite.metrics")
    print(f"{'model':24s} {'samples':16s} {'confidence':>10s} {'agreement':>9s} {'NN dist':>8s} {'spread':>7s} "
          f"{'sample s':>8s}  training")
    for name, (model, trained) in models.items():
        for w in (None, 1.0, 2.0):
            start = time.perf_counter()
            x = sample_images(model, n, None if w is None else labels, w=1.0 if w is None else w,
                              steps=args.steps, method=args.method, seed=1)
            seconds = time.perf_counter() - start
            s = digit_scores(x, None if w is None else labels)
            kind = "unconditional" if w is None else f"labels, w = {w:g}"
            agreement = "" if s.agreement is None else f"{s.agreement:.3f}"
            print(f"{name:24s} {kind:16s} {s.confidence:10.3f} {agreement:>9s} {s.nn_distance:8.2f} {s.spread:7.2f} "
                  f"{seconds:8.2f}  {trained if w is None else ''}")
    r = real_digit_scores()
    print(f"{'real digits (ceiling)':24s} {'450 held out':16s} {r.confidence:10.3f} {r.agreement:9.3f} "
          f"{r.nn_distance:8.2f} {r.spread:7.2f}  (NN dist: to the nearest other real digit)")
    noise = digit_scores(torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(0)).clamp(-1, 1))
    print(f"{'noise (floor)':24s} {'N(0, I) clipped':16s} {noise.confidence:10.3f} {'':>9s} {noise.nn_distance:8.2f} "
          f"{noise.spread:7.2f}")


if __name__ == "__main__":
    main()
