"""Notebook 11 (latent flows): the VAE's KL term, the reparameterisation, the latent flow-matching target and the
decoding sampler.

Worked solutions beside checkers. Every checker calls the answer once per entry of `SIZES` (batch 7, latent
dimension 2, 5 steps; then batch 5, latent dimension 3, 8 steps), in float64. The stand-in encoder, decoder and
velocity are fixed nonlinear float64 maps that refuse bad input with the checks of `fmlite.models` (images
(B, 1, 8, 8) into the encoder, codes (B, k) into the decoder and the velocity), so encoding the noise, decoding
before integrating or a hard-coded size fail with a message that says so. Scale convention (as
`fmlite.autoencoder.Autoencoder.latent_scale`; latent diffusion, Rombach et al. 2022, sec. 4.3.2): `scale` (k,) is
the per-dimension standard deviation of the training codes; the flow runs on z = encoder(x) / scale, of unit
spread, and decodes decoder(z · scale).
"""
from __future__ import annotations

import torch
from torch import Tensor

from .compare import as_number, check_dtype, compare, reject_known
from .framework import SIZES, Mismatch, call_untouched, register
from .inputs import StandInField, domain_times, one_time_variants
from .stand_ins import StandInDecoder, StandInEncoder


def _scale(k: int) -> Tensor:
    """The checkers' latent scale (k,): a different standard deviation per dimension, none 1, so forgetting the
    scale, inverting it or applying it twice all give other answers."""
    return torch.linspace(0.4, 2.6, k, dtype=torch.float64)


def kl_divergence(mu, log_var):
    """KL(N(mu, diag exp(log_var)) || N(0, I)) = ½ Σ_j (mu_j² + exp(log_var_j) − 1 − log_var_j), summed over the
    latent dimensions, averaged over the batch (Kingma & Welling 2014, appendix B)."""
    return 0.5 * (mu ** 2 + log_var.exp() - 1 - log_var).sum(-1).mean()


def _gaussians(B: int, k: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(B, k, generator=g, dtype=torch.float64)
    log_var = torch.linspace(-1.6, 1.2, B * k, dtype=torch.float64)[torch.randperm(B * k, generator=g)].reshape(B, k)
    return mu.requires_grad_(), log_var.requires_grad_()


def _check_gradients(got: Tensor, expected: Tensor, inputs, names, what: str, where: str) -> None:
    """got must carry the gradient of expected to each input (no .detach(), .item(), torch.no_grad())."""
    if not isinstance(got, Tensor) or not got.requires_grad:
        raise Mismatch(f"{what} has the right value but no gradient path: compute it from {' and '.join(names)} "
                       f"as given, without .detach(), .item() or torch.no_grad(); training differentiates it{where}")
    weight = torch.linspace(0.5, 1.5, got.numel(), dtype=got.dtype).reshape(got.shape)
    grads = torch.autograd.grad((got * weight).sum(), inputs, allow_unused=True, retain_graph=True)
    wants = torch.autograd.grad((expected * weight).sum(), inputs, retain_graph=True)
    for name, g, w in zip(names, grads, wants):
        if g is None or not torch.allclose(g, w, atol=1e-6, rtol=1e-6):
            cut = g is None or not g.any()
            raise Mismatch(f"{what} has the right value, but its gradient with respect to {name} "
                           f"{'is zero: you detached ' + name if cut else 'differs from the true one'}; use {name} "
                           f"as given, so that training can change the encoder through it{where}")


def _check_kl(answer):
    """Domain: float64 mu (B, k) and log_var (B, k) with log_var in [-1.6, 1.2] (negative and positive, so using
    it as a variance fails), B = 7, k = 2 then B = 5, k = 3; the answer keeps its gradient path to both."""
    for B, k, *_ in SIZES:
        mu, log_var = _gaussians(B, k, 110 + B)
        where = f" (batch {B}, latent dimension {k})"
        got = call_untouched(answer, mu, log_var, names=("mu", "log_var"))
        expected = kl_divergence(mu, log_var)
        if isinstance(got, Tensor) and got.numel() == B:
            raise Mismatch(f"you returned one KL per sample, shape {tuple(got.shape)}: average over the batch "
                           f"(after summing over the latent dimensions) to one number{where}")
        if isinstance(got, Tensor) and got.numel() == 1 and torch.isnan(got).any() or got != got:
            raise Mismatch("the KL term is NaN: log_var is the log of the variance and is often negative, so "
                           "log(log_var) fails; the variance is log_var.exp() and its log is log_var itself" + where)
        value = as_number(got, "the KL term", torch.float64)
        m, lv = mu.detach(), log_var.detach()

        def kl(var, log, half=0.5):
            return half * (m ** 2 + var - 1 - log)
        reject_known(value, [
            ("you used log_var as if it were the variance: the variance is σ² = log_var.exp(), and log σ² is "
             "log_var itself", kl(lv, lv).sum(-1).mean()),
            ("you used exp(log_var / 2), the standard deviation σ, where the variance σ² = exp(log_var) belongs",
             kl((lv / 2).exp(), lv).sum(-1).mean()),
            ("you treated log_var as log σ (the variance would then be exp(2 log_var)); it is log σ²",
             kl((2 * lv).exp(), 2 * lv).sum(-1).mean()),
            ("the ½ is missing: KL = ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²)", kl(lv.exp(), lv, 1.0).sum(-1).mean()),
            (f"you summed over the batch instead of averaging ({B} times too large): sum over the latent "
             "dimensions, then average over the samples, so the loss does not grow with the batch size",
             kl(lv.exp(), lv).sum()),
            ("you averaged over the latent dimensions too: sum over them (the KL of independent coordinates adds "
             "up), then average over the batch", kl(lv.exp(), lv).mean()),
            ("the KL term has the wrong sign: KL ≥ 0, and ½ Σ (μ² + σ² − 1 − log σ²) is it; −½ Σ (1 + log σ² − "
             "μ² − σ²) is the same with the minus sign kept", -expected.detach()),
            ("the −1 is missing: KL = ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²) is 0 when μ = 0, σ = 1",
             (0.5 * (m ** 2 + lv.exp() - lv)).sum(-1).mean()),
        ], float(expected.detach()), where)
        compare(torch.as_tensor(value, dtype=torch.float64), expected.detach(), "the KL term", where)
        _check_gradients(got.reshape(()) if isinstance(got, Tensor) else got, expected, (mu, log_var), ("mu", "log_var"), "the KL term", where)
    return "KL = ½ Σ (μ² + σ² − 1 − log σ²), summed over latent dimensions, averaged over the batch: 0 at N(0, I)."


register("11.kl_divergence", "the VAE's KL term for diagonal Gaussians", kl_divergence, _check_kl)


def reparameterise(mu, log_var, eps):
    """z = mu + exp(½ log_var) ε: a sample of N(mu, diag exp(log_var)) that is a differentiable function of mu
    and log_var (Kingma & Welling 2014, sec. 2.4). mu, log_var, eps: (B, k); returns (B, k)."""
    return mu + (0.5 * log_var).exp() * eps


def _check_reparameterise(answer):
    """Domain: float64 mu, log_var, eps (B, k), B = 7, k = 2 then B = 5, k = 3, log_var in [-1.6, 1.2]; the
    answer uses the eps given and keeps its gradient path to mu and log_var."""
    for B, k, *_ in SIZES:
        mu, log_var = _gaussians(B, k, 120 + B)
        eps = torch.randn(B, k, generator=torch.Generator().manual_seed(k), dtype=torch.float64)
        where = f" (batch {B}, latent dimension {k})"
        got = call_untouched(answer, mu, log_var, eps, names=("mu", "log_var", "eps"))
        check_dtype(got, torch.float64, "z", where)
        expected = reparameterise(mu, log_var, eps)
        m, lv = mu.detach(), log_var.detach()
        std = (0.5 * lv).exp()
        if isinstance(got, Tensor) and got.shape == expected.shape and not torch.isfinite(got).all():
            raise Mismatch("z contains NaN: log_var is the log of the variance and often negative; σ = exp(½ "
                           "log_var), never log_var.sqrt()" + where)
        reject_known(got, [
            ("you used the variance σ² = exp(log_var) where the standard deviation σ = exp(½ log_var) belongs: "
             "z = μ + σ ε", m + lv.exp() * eps),
            ("you used log_var itself as the standard deviation: σ = exp(½ log_var)", m + lv * eps),
            ("exp(−½ log_var) is 1/σ: z = μ + exp(½ log_var) ε", m + (-0.5 * lv).exp() * eps),
            ("every sample got the noise eps[0]: the noise is shared across the batch; use eps, one row per sample",
             m + std * eps[:1]),
            ("you returned the mean μ: add the noise σ ε", m),
            ("you returned σ ε only: add the mean, z = μ + σ ε", std * eps),
            ("you added σ without the noise: z = μ + σ ε", m + std),
            ("you added ε without scaling it by σ = exp(½ log_var)", m + eps),
            ("z = μ + σ ε, not μ − σ ε (with ε given, the sign matters)", m - std * eps),
        ], expected.detach(), where)
        if isinstance(got, Tensor) and got.shape == expected.shape and not torch.allclose(got.detach(), expected):
            again = answer(mu, log_var, eps)
            if isinstance(again, Tensor) and not torch.equal(again.detach(), got.detach()):
                raise Mismatch("two calls with the same eps gave different z: you drew your own noise; use the eps "
                               "passed in (z = μ + σ ε)" + where)
        compare(got, expected.detach(), "z", where)
        _check_gradients(got, expected, (mu, log_var), ("mu", "log_var"), "z", where)
    return "z = μ + exp(½ log_var) ε: random through ε only, so gradients flow to μ and log_var."


register("11.reparameterise", "the reparameterisation with ε passed in", reparameterise, _check_reparameterise)


def latent_fm_target(encoder, x_1, x_0, t, scale):
    """Flow matching on scaled codes: z_1 = encoder(x_1) / scale, z_t = t z_1 + (1 − t) x_0, target u_t = z_1 − x_0
    (the linear path of Lipman et al. 2023 on the codes, as in Rombach et al. 2022 and Esser et al. 2024).
    x_1 images (B, 1, 8, 8); x_0 latent noise (B, k); t (B,); scale (k,); returns (z_t, u_t), each (B, k)."""
    z_1 = encoder(x_1) / scale
    t = t[:, None]
    return t * z_1 + (1 - t) * x_0, z_1 - x_0


def _pair(got, B: int, k: int, where: str):
    if isinstance(got, Tensor):
        raise Mismatch(f"return two tensors, (z_t, u_t), the point on the path and the target, not one tensor of "
                       f"shape {tuple(got.shape)}{where}")
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Mismatch(f"return the pair (z_t, u_t), each of shape ({B}, {k}){where}")
    return got


def _check_latent_fm_target(answer):
    """Domain: float64 images x_1 (B, 1, 8, 8), latent noise x_0 (B, k), t in [0, 1] (both ends, one per sample),
    scale (k,) from 0.4 to 2.6; B = 7, k = 2 then B = 5, k = 3; the stand-in encoder refuses anything but images."""
    for B, k, *_ in SIZES:
        g = torch.Generator().manual_seed(130 + B)
        x_1 = torch.rand(B, 1, 8, 8, generator=g, dtype=torch.float64) * 2 - 1
        x_0 = torch.randn(B, k, generator=g, dtype=torch.float64)
        t = domain_times(B, seed=k)
        encoder = StandInEncoder(k)
        scale = _scale(k)
        where = f" (batch {B}, latent dimension {k})"
        got = _pair(call_untouched(answer, encoder, x_1, x_0, t, scale,
                                   names=("encoder", "x_1", "x_0", "t", "scale")), B, k, where)
        z_t, u_t = latent_fm_target(encoder, x_1, x_0, t, scale)
        code, tt = encoder(x_1), t[:, None]
        for name, part, want in (("z_t", got[0], z_t), ("u_t", got[1], u_t)):
            bad = {"forgot": code, "twice": code / scale ** 2, "multiplied": code * scale}
            of = ((lambda z: tt * z + (1 - tt) * x_0) if name == "z_t" else (lambda z: z - x_0))
            reject_known(part, [
                (f"{name} forgot the scale: the flow runs on z_1 = encoder(x_1) / scale, the codes scaled to unit "
                 "spread", of(bad["forgot"])),
                (f"{name} applied the scale twice: z_1 = encoder(x_1) / scale, once", of(bad["twice"])),
                (f"{name} multiplied by the scale: z_1 = encoder(x_1) / scale (the decoder multiplies, the flow "
                 "divides)", of(bad["multiplied"])),
            ] + ([("z_t runs backwards: at t = 0 it is the noise x_0, at t = 1 the code z_1",
                   tt * x_0 + (1 - tt) * code / scale),
                  ("z_t is the point on the path, t z_1 + (1 − t) x_0, not the target z_1 − x_0", u_t)]
                 + one_time_variants(lambda s: s[:, None] * code / scale + (1 - s[:, None]) * x_0, t)
                 if name == "z_t" else
                 [("u_t has the wrong sign: the target runs from the noise to the code, z_1 − x_0", -u_t),
                  ("u_t is the velocity z_1 − x_0, not the code z_1 itself", code / scale),
                  ("u_t is the velocity z_1 − x_0, not the point z_t", z_t)]), want, where)
            compare(part, want, name, where, t=t)
    return "z_1 = encoder(x_1) / scale; then the course's linear path and target, unchanged, on the codes."


register("11.latent_fm_target", "the latent flow-matching target", latent_fm_target, _check_latent_fm_target)


def decode_samples(decoder, velocity, z_0, scale, steps):
    """Euler-integrate dz/dt = velocity(z, t) from t = 0 (z_0, noise (B, k)) to t = 1 in `steps` equal steps on the
    scaled codes, then decode once: decoder(z_1 · scale), images (B, 1, 8, 8). Each velocity call gets t of shape
    (B,). z_0 (B, k), scale (k,), steps >= 1 (Esser et al. 2024 sample SD3 so, with their time reversed)."""
    z, h = z_0, 1.0 / steps
    for i in range(steps):
        z = z + h * velocity(z, torch.full((z.shape[0],), i * h, dtype=z.dtype))
    return decoder(z * scale)


def _latent_field(k: int, times: list):
    def fn(z, t):
        times.append(t.detach().clone())
        return torch.sin(z.roll(1, dims=1) + 2 * t[:, None]) - 0.5 * z + 0.3 * (1 + torch.arange(k, dtype=z.dtype))

    field = StandInField(fn, dim=k, strict=True)

    def velocity(z, t):
        if isinstance(z, Tensor) and z.dim() == 4:
            raise Mismatch(f"velocity(z, t) got images of shape {tuple(z.shape)}: you decoded before integrating; "
                           f"the flow runs on the codes (B, {k}): integrate z from t = 0 to 1 first, then decode once")
        return field(z, t)
    return velocity


def _check_decode_samples(answer):
    """Domain: float64 latent noise z_0 (B, k), scale (k,) from 0.4 to 2.6, Euler; (B, k, steps) = (7, 2, 5)
    then (5, 3, 8); the stand-in velocity demands t of shape (B,), the decoder codes (B, k)."""
    for B, k, _, steps in SIZES:
        z_0 = torch.randn(B, k, generator=torch.Generator().manual_seed(140 + B), dtype=torch.float64)
        times, decoder, scale = [], StandInDecoder(k), _scale(k)
        where = f" (batch {B}, latent dimension {k}, {steps} steps)"
        got = call_untouched(answer, decoder, _latent_field(k, times), z_0, scale, steps,
                             names=("decoder", "velocity", "z_0", "scale"))
        decoded = decoder.calls
        if not times:
            raise Mismatch("you never called velocity: integrate the codes from t = 0 to 1 with `steps` Euler steps, "
                           "then decode the final codes" + where)
        if len(times) != steps:
            raise Mismatch(f"you called velocity {len(times)} times; Euler with steps = {steps} calls it once per "
                           f"step: use the argument steps, never a number written in{where}")
        h = 1.0 / steps
        starts = [float(s[0]) for s in times]
        if starts == [1 - i * h for i in range(steps)] or starts == [1 - (i + 1) * h for i in range(steps)]:
            raise Mismatch("you integrated from t = 1 to t = 0: noise is at t = 0 and data at t = 1, so step "
                           "forwards, t = 0, h, 2h, ..." + where)
        z, ref = z_0, _latent_field(k, [])
        for i in range(steps):
            z = z + h * ref(z, torch.full((B,), i * h, dtype=z.dtype))
        expected, plain = decode_samples(decoder, ref, z_0, scale, steps), StandInDecoder(k)
        reject_known(got, [
            ("you forgot the scale: the flow's codes are encoder(x) / scale, so decode decoder(z_1 · scale)",
             plain(z)),
            ("you applied the scale twice: decode decoder(z_1 · scale), multiplying once", plain(z * scale ** 2)),
            ("you divided by the scale: the flow's codes are encoder(x) / scale, so undo it, decoder(z_1 · scale)",
             plain(z / scale)),
            ("you decoded the noise z_0: integrate first, then decode the final codes", plain(z_0 * scale)),
        ], expected, where)
        compare(got, expected, "the decoded images", where)
        if decoded != 1:
            raise Mismatch(f"you called the decoder {decoded} times: decode once, after the last step{where}")
    return "Integrate the scaled codes from noise to data, then decode once, multiplying the scale back in."


register("11.decode_samples", "the decoding sampler", decode_samples, _check_decode_samples)
