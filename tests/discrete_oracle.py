"""Brute-force oracle of the mixture path on tiny vocabularies: the exact joint law of (x_t, x_1) by enumeration."""
import itertools
from collections import defaultdict

import torch


def joint(data, K, source, kappa_t):
    """{x_t tuple: (P(x_t), {n: P(x_t, x_1 = x^(n))})} by enumerating data points, sources and coins."""
    N, d = data.shape
    if source == "mask":
        sources = [((K,) * d, 1.0)]
    else:
        sources = [(x0, K ** -d) for x0 in itertools.product(range(K), repeat=d)]
    out = defaultdict(lambda: [0.0, defaultdict(float)])
    for n in range(N):
        x1 = tuple(data[n].tolist())
        for x0, p0 in sources:
            for coins in itertools.product((0, 1), repeat=d):
                p = p0 / N
                for c in coins:
                    p *= kappa_t if c else 1 - kappa_t
                if p == 0:
                    continue
                xt = tuple(a if c else b for a, b, c in zip(x1, x0, coins))
                out[xt][0] += p
                out[xt][1][n] += p
    return out


def posterior(data, K, source, kappa_t):
    """{x_t: (P(x_t), posterior (d, K) as float64)} from `joint`."""
    d = data.shape[1]
    result = {}
    for xt, (p, per_point) in joint(data, K, source, kappa_t).items():
        post = torch.zeros(d, K, dtype=torch.float64)
        for n, q in per_point.items():
            for i in range(d):
                post[i, data[n, i]] += q / p
        result[xt] = (p, post)
    return result
