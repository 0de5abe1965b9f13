"""Side-by-side benchmark of one Gatys style-transfer step: JAX vs a PyTorch reference.

    python benchmarks/nst_step.py                       # 256 and 512 pixels, 10 Adam steps
    python benchmarks/nst_step.py --sizes 256 --steps 5

Same algorithm, same ImageNet VGG19 weights, same start (the content image), same losses and
Adam settings in both frameworks. Variants timed (seconds per step, after a warm-up):

  jax step (autodiff conv)   jitted single step called from Python, plain `lax.conv` autodiff
  jax step                   jitted single step, nst_flax's image-gradient conv (custom_vjp)
  jax loop (autodiff conv)   the N steps in one `lax.fori_loop`, plain autodiff (the slow case)
  jax loop                   nst_flax.stylize.run_optimisation: N steps in one jitted loop
  torch eager                NCHW
  torch channels_last        NHWC memory format
  torch compile              torch.compile (inductor) of the step's forward+backward

Prints s/step, JAX/torch ratios, GFLOP/s against a 4096x4096 f32 matmul peak measured in the
same process, and the final losses after the same number of Adam steps. Needs torch (CPU) for
the reference; this is not a test.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

from nst_flax import config as nst_config  # noqa: E402
from nst_flax import losses as L  # noqa: E402
from nst_flax import stylize as S  # noqa: E402
from nst_flax.image_io import resize_image  # noqa: E402
from nst_flax.vgg import LAYERS  # noqa: E402
from nst_flax.weights import CONV_LAYERS, VGG_MEAN_BGR, load_vgg19_params  # noqa: E402


def test_images(size):
    """A real photo (scikit-image astronaut) and a painting-like image at size x size."""
    import skimage.data
    content = resize_image(skimage.data.astronaut().astype(np.float32) / 255.0, (size, size))
    style_path = os.path.join(REPO, "docs", "starry_night.jpg")
    if os.path.exists(style_path):
        from nst_flax.image_io import load_image
        style = resize_image(load_image(style_path), (size, size))
    else:
        style = resize_image(skimage.data.chelsea().astype(np.float32) / 255.0, (size, size))
    return content, style


def conv_flops(spec, size):
    """Multiply-adds x2 of the convs a step runs: forward to the deepest layer + image grads."""
    deepest = max(LAYERS.index(n) for n in spec.layers)
    h = size
    cin = 3
    fwd = 0
    chans = dict(zip(CONV_LAYERS, (64, 64, 128, 128, 256, 256, 256, 256) + (512,) * 8))
    for name in LAYERS[: deepest + 1]:
        if name.endswith("pool"):
            h //= 2
            continue
        fwd += 2 * h * h * 9 * cin * chans[name]
        cin = chans[name]
    grams = sum(2 * (size >> (int(n[5]) - 1)) ** 2 * chans[n] ** 2 for n in spec.style_layers)
    return 2 * fwd + 2 * grams  # backward through the image ~ forward


def time_it(fn, reps):
    fn()  # warm-up / compile
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps


def matmul_peak_jax(n=4096, reps=5):
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    f = jax.jit(lambda a: a @ a)
    dt = time_it(lambda: f(a).block_until_ready(), reps)
    return 2 * n ** 3 / dt / 1e9


# ---------------------------------------------------------------------- JAX


def jax_variants(params, spec, content, style, steps, lr):
    jp, gk = S.prepare_params(params)
    c = jnp.asarray(content[None])
    tg = S.compute_targets(spec, jp, c, (jnp.asarray(style[None]),), jnp.ones((1,)))
    opt = optax.adam(lr)
    out = {}

    for label, kernels in (("jax step (autodiff conv)", None), ("jax step", gk)):
        def step(x, st, kernels=kernels):
            if kernels is None:
                loss_fn = _autodiff_loss(spec, jp, tg)
            else:
                loss_fn = S.make_loss_fn(spec, jp, kernels, tg)
            (_, terms), g = jax.value_and_grad(loss_fn, has_aux=True)(x)
            u, st = opt.update(g, st, x)
            return jnp.clip(optax.apply_updates(x, u), 0, 1), st, terms

        stepj = jax.jit(step)
        state = {"x": c, "st": opt.init(c)}

        def one():
            state["x"], state["st"], terms = stepj(state["x"], state["st"])
            terms.block_until_ready()
            state["terms"] = terms

        out[label] = (time_it(one, steps), None)

    # Loop with plain autodiff convs (to show the slowdown) and nst_flax's loop.
    def plain_loop(x0):
        loss_fn = _autodiff_loss(spec, jp, tg)

        def body(i, carry):
            x, st = carry
            (_, terms), g = jax.value_and_grad(loss_fn, has_aux=True)(x)
            u, st = opt.update(g, st, x)
            return jnp.clip(optax.apply_updates(x, u), 0, 1), st

        return jax.lax.fori_loop(0, steps, body, (x0, opt.init(x0)))[0]

    pl = jax.jit(plain_loop)
    pl(c).block_until_ready()
    t = time.perf_counter()
    pl(c).block_until_ready()
    out["jax loop (autodiff conv)"] = ((time.perf_counter() - t) / steps, None)

    run = lambda: S.run_optimisation(spec, jp, gk, c, tg, optimizer="adam", steps=steps, lr=lr)  # noqa
    x, hist = run()
    x.block_until_ready()
    t = time.perf_counter()
    x, hist = run()
    x.block_until_ready()
    dt = (time.perf_counter() - t) / steps
    final = S.make_loss_fn(spec, jp, gk, tg)(x)[1]
    out["jax loop"] = (dt, np.asarray(final))
    return out


def _autodiff_loss(spec, jp, tg):
    from nst_flax.vgg import VGG19
    from nst_flax.weights import preprocess
    model = VGG19(pooling=spec.pooling, exact_kernel_grads=True)
    c_w = dict(zip(spec.content_layers, spec.content_layer_weights))
    s_w = dict(zip(spec.style_layers, spec.style_layer_weights))

    def loss_fn(x):
        f = model.apply({"params": jp}, preprocess(x), layers=spec.layers)
        lc = spec.content_weight * L.content_loss(f, tg["content"], c_w)
        ls = spec.style_weight * L.style_loss(f, tg["grams"], s_w)
        lt = spec.tv_weight * L.tv_loss(x)
        return lc + ls + lt, jnp.stack([lc + ls + lt, lc, ls, lt])

    return loss_fn


# ---------------------------------------------------------------------- PyTorch reference


def torch_variants(params, spec, content, style, steps, lr, skip_compile=False):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", os.cpu_count() or 2)))

    class VGG(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = nn.ModuleDict()
            for name in CONV_LAYERS:
                k = np.asarray(params[name]["kernel"])  # HWIO
                conv = nn.Conv2d(k.shape[2], k.shape[3], 3, padding=1)
                conv.weight.data = torch.from_numpy(np.ascontiguousarray(k.transpose(3, 2, 0, 1)))
                conv.bias.data = torch.from_numpy(np.asarray(params[name]["bias"]).copy())
                conv.weight.requires_grad_(False)
                conv.bias.requires_grad_(False)
                self.convs[name] = conv

        def forward(self, x, layers):
            deepest = max(LAYERS.index(n) for n in layers)
            out = {}
            for name in LAYERS[: deepest + 1]:
                if name.endswith("pool"):
                    x = F.max_pool2d(x, 2) if spec.pooling == "max" else F.avg_pool2d(x, 2)
                else:
                    x = F.relu(self.convs[name](x))
                if name in layers:
                    out[name] = x
            return out

    mean = torch.tensor(VGG_MEAN_BGR).view(1, 3, 1, 1)

    def prep(x01):  # NCHW RGB [0,1] -> BGR caffe
        return x01.flip(1) * 255.0 - mean

    def gram(f):
        n, c, h, w = f.shape
        f = f.reshape(n, c, h * w)
        return torch.bmm(f, f.transpose(1, 2)) / (h * w * c)

    results = {}
    c_w = dict(zip(spec.content_layers, spec.content_layer_weights))
    s_w = dict(zip(spec.style_layers, spec.style_layer_weights))
    for variant in ("eager", "channels_last", "compile"):
        if variant == "compile" and skip_compile:
            continue
        fmt = torch.channels_last if variant == "channels_last" else torch.contiguous_format
        vgg = VGG().to(memory_format=fmt).eval()
        c = torch.from_numpy(content.transpose(2, 0, 1)[None].copy()).contiguous(memory_format=fmt)
        s = torch.from_numpy(style.transpose(2, 0, 1)[None].copy()).contiguous(memory_format=fmt)
        with torch.no_grad():
            cf = {k: v.detach() for k, v in vgg(prep(c), spec.content_layers).items()}
            sg = {k: gram(v).detach() for k, v in vgg(prep(s), spec.style_layers).items()}

        def loss_fn(x):
            f = vgg(prep(x), spec.layers)
            lc = sum(w * torch.mean((f[k] - cf[k]) ** 2) for k, w in c_w.items())
            ls = sum(w * torch.mean((gram(f[k]) - sg[k]) ** 2) for k, w in s_w.items())
            dy = x[:, :, 1:, :] - x[:, :, :-1, :]
            dx = x[:, :, :, 1:] - x[:, :, :, :-1]
            lt = torch.mean(dy ** 2) + torch.mean(dx ** 2)
            lc, ls, lt = spec.content_weight * lc, spec.style_weight * ls, spec.tv_weight * lt
            return lc + ls + lt, (lc, ls, lt)

        def fwd_bwd(x):
            total, _ = loss_fn(x)
            (g,) = torch.autograd.grad(total, x)
            return g

        grad_fn = fwd_bwd
        if variant == "compile":
            try:
                grad_fn = torch.compile(fwd_bwd)
                xt = c.clone().requires_grad_(True)
                grad_fn(xt)
            except Exception as e:  # pragma: no cover - inductor needs a C++ compiler
                results["torch compile"] = (float("nan"), None, f"failed: {e}".splitlines()[0])
                continue

        x = c.clone().requires_grad_(True)
        opt = torch.optim.Adam([x], lr=lr)

        def one():
            opt.zero_grad(set_to_none=True)
            x.grad = grad_fn(x)
            opt.step()
            with torch.no_grad():
                x.clamp_(0.0, 1.0)

        one()  # warm-up (compiles for torch.compile)
        x.data.copy_(c)
        opt = torch.optim.Adam([x], lr=lr)
        t = time.perf_counter()
        for _ in range(steps):
            one()
        dt = (time.perf_counter() - t) / steps
        with torch.no_grad():
            total, (lc, ls, lt) = loss_fn(x)
        results[f"torch {variant}"] = (dt, np.array([float(total), float(lc), float(ls),
                                                     float(lt)]), "")
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    args = ap.parse_args(argv)

    print(f"load average before: {os.getloadavg()}  (2 cores; others may share them)")
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} cores")
    params = load_vgg19_params()
    cfg = nst_config.get_default_config()
    spec = S.loss_spec_from_config(cfg)
    lr = float(cfg.lr)
    peak = matmul_peak_jax()
    tpeak = None
    if not args.no_torch:
        try:
            import torch
            torch.set_num_threads(os.cpu_count() or 2)
            a = torch.randn(4096, 4096)
            dt = time_it(lambda: a @ a, 5)
            tpeak = 2 * 4096 ** 3 / dt / 1e9
        except ImportError:
            print("torch is not installed: skipping the PyTorch reference")
            args.no_torch = True
    print(f"matmul peak (4096^2 f32): jax {peak:.0f} GFLOP/s"
          + (f", torch {tpeak:.0f} GFLOP/s" if tpeak else ""))

    rows = []
    for size in args.sizes:
        content, style = test_images(size)
        flops = conv_flops(spec, size)
        res = {k: (v[0], v[1], "") for k, v in
               jax_variants(params, spec, content, style, args.steps, lr).items()}
        if not args.no_torch:
            res.update(torch_variants(params, spec, content, style, args.steps, lr,
                                      skip_compile=args.no_compile))
        torch_times = {k: v[0] for k, v in res.items() if k.startswith("torch") and
                       np.isfinite(v[0])}
        fastest = min(torch_times, key=torch_times.get) if torch_times else None
        ref = res.get("torch eager", (None, None, ""))[1]
        print(f"\n== {size}x{size}, {args.steps} Adam steps, {flops / 1e9:.0f} GFLOP/step, "
              f"load {os.getloadavg()[0]:.2f} ==")
        print(f"{'variant':28s} {'s/step':>8s} {'GFLOP/s':>8s} {'%peak':>6s} "
              f"{'/fastest torch':>14s} {'final total loss':>17s} {'vs torch eager':>14s}")
        for name, (dt, final, note) in res.items():
            gfs = flops / dt / 1e9 if np.isfinite(dt) else float("nan")
            ratio = dt / torch_times[fastest] if fastest else float("nan")
            fl = f"{final[0]:.6g}" if final is not None else ""
            rel = (f"{100 * (final[0] / ref[0] - 1):+.2f}%" if final is not None and
                   ref is not None else "")
            print(f"{name:28s} {dt:8.3f} {gfs:8.1f} {100 * gfs / peak:5.0f}% {ratio:14.2f} "
                  f"{fl:>17s} {rel:>14s} {note}")
            rows.append((size, name, dt, gfs, ratio, fl))
        if fastest:
            print(f"fastest torch variant: {fastest}; jax loop / {fastest} = "
                  f"{res['jax loop'][0] / torch_times[fastest]:.2f} (target <= 0.8)")
            jl, te = res["jax loop"][1], ref
            if jl is not None and te is not None:
                print("final per-term losses (total, content, style, tv): jax loop "
                      + ", ".join(f"{v:.5g}" for v in jl) + " | torch eager "
                      + ", ".join(f"{v:.5g}" for v in te))
    print(f"\nload average after: {os.getloadavg()}")
    return rows


if __name__ == "__main__":
    main()
