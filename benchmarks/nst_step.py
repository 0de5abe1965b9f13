"""Side-by-side benchmark of one Gatys style-transfer step: JAX vs a PyTorch reference.

    python benchmarks/nst_step.py                       # 256 and 512 pixels, 5 Adam steps per run
    python benchmarks/nst_step.py --sizes 256 --steps 5
    python benchmarks/nst_step.py --steps 20 --torch-device cuda   # on a GPU: PyTorch on it too

Same algorithm, same ImageNet VGG19 weights, same start (the content image), same losses and
Adam settings in both frameworks. Variants timed (seconds per step, after a warm-up):

  jax step (autodiff conv)   jitted single step called from Python, plain `lax.conv` autodiff
  jax step                   jitted single step, nst_flax's image-gradient conv (custom_vjp)
  jax loop (autodiff conv)   the N steps in one `lax.fori_loop`, plain autodiff (the slow case)
  jax loop (direct conv)     nst_flax.transfer.run_optimisation with every conv direct
                             (`grad_kernels(params, winograd=False)`)
  jax loop                   nst_flax.transfer.run_optimisation: N steps in one jitted loop, the
                             wide layers' convs by Winograd F(4x4, 3x3) (nst_flax.winograd)
  torch eager                NCHW
  torch channels_last        NHWC memory format
  torch compile              torch.compile (inductor) of the step's forward+backward

Prints s/step, JAX/torch ratios, GFLOP/s against a 4096x4096 f32 matmul peak measured in the
same process (counted as direct-conv FLOPs for every variant, so Winograd's effective rate can
pass the peak), and the final losses after the same number of Adam steps. Needs torch for the
reference (CPU, or CUDA with `--torch-device cuda`); this is not a test.
"""
from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nst_flax import config as nst_config
from nst_flax import losses as L
from nst_flax import transfer as T
from nst_flax.image_io import resize_image
from nst_flax.vgg import LAYERS, grad_kernels
from nst_flax.weights import CONV_LAYERS, VGG_MEAN_BGR, load_vgg19_params

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_images(size):
  """A real photo (scikit-image astronaut) and a painting-like image at size x size."""
  import skimage.data
  content = resize_image(skimage.data.astronaut().astype(np.float32) / 255.0, (size, size))
  style_path = os.path.join(REPO, 'docs', 'starry_night.jpg')
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
    if name.endswith('pool'):
      h //= 2
      continue
    fwd += 2 * h * h * 9 * cin * chans[name]
    cin = chans[name]
  grams = sum(2 * (size >> (int(n[5]) - 1)) ** 2 * chans[n] ** 2 for n in spec.style_layers)
  return 2 * fwd + 2 * grams  # backward through the image ~ forward


def time_it(fn, reps):
  """Best of `reps` timed calls after a warm-up call (robust to other jobs on the cores)."""
  fn()  # warm-up / compile
  best = float('inf')
  for _ in range(reps):
    t = time.perf_counter()
    fn()
    best = min(best, time.perf_counter() - t)
  return best


def matmul_peak_jax(n=4096, reps=5):
  a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
  f = jax.jit(lambda a: a @ a)
  dt = time_it(lambda: f(a).block_until_ready(), reps)
  return 2 * n ** 3 / dt / 1e9


# ---------------------------------------------------------------------- JAX


def jax_variants(params, spec, content, style, steps, lr):
  """{name: run()} where run() does `steps` Adam steps from the content and returns the
  final image as NHWC numpy; plus a loss function to evaluate final images."""
  jp, gk = T.prepare_params(params)
  gk_direct = jax.jit(lambda p: grad_kernels(p, winograd=False))(jp)
  c = jnp.asarray(content[None])
  tg = T.compute_targets(spec, jp, c, (jnp.asarray(style[None]),), jnp.ones((1,)))
  opt = optax.adam(lr)
  out = {}

  for label, kernels in (('jax step (autodiff conv)', None), ('jax step', gk)):
    def step(x, st, kernels=kernels):
      if kernels is None:
        loss_fn = _autodiff_loss(spec, jp, tg)
      else:
        loss_fn = T.make_loss_fn(spec, jp, kernels, tg)
      (_, terms), g = jax.value_and_grad(loss_fn, has_aux=True)(x)
      u, st = opt.update(g, st, x)
      return jnp.clip(optax.apply_updates(x, u), 0, 1), st, terms

    stepj = jax.jit(step)

    def run(stepj=stepj):
      x, st = c, opt.init(c)
      for _ in range(steps):
        x, st, terms = stepj(x, st)
      return np.asarray(x)

    out[label] = run

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
  out['jax loop (autodiff conv)'] = lambda: np.asarray(pl(c))
  for label, kernels in (('jax loop (direct conv)', gk_direct), ('jax loop', gk)):
    out[label] = lambda kernels=kernels: np.asarray(T.run_optimisation(
        spec, jp, kernels, c, tg, optimizer='adam', steps=steps, lr=lr)[0])
  # Final losses are scored with direct convs for every variant.
  loss_eval = jax.jit(lambda x: T.make_loss_fn(spec, jp, gk_direct, tg)(x)[1])
  return out, lambda x_nhwc: np.asarray(loss_eval(jnp.asarray(x_nhwc)))


def _autodiff_loss(spec, jp, tg):
  from nst_flax.vgg import VGG19
  from nst_flax.weights import preprocess
  model = VGG19(pooling=spec.pooling, exact_kernel_grads=True, winograd=False)
  c_w = dict(zip(spec.content_layers, spec.content_layer_weights))
  s_w = dict(zip(spec.style_layers, spec.style_layer_weights))

  def loss_fn(x):
    f = model.apply({'params': jp}, preprocess(x), layers=spec.layers)
    lc = spec.content_weight * L.content_loss(f, tg['content'], c_w)
    ls = spec.style_weight * L.style_loss(f, tg['grams'], s_w)
    lt = spec.tv_weight * L.tv_loss(x)
    return lc + ls + lt, jnp.stack([lc + ls + lt, lc, ls, lt])

  return loss_fn


# ---------------------------------------------------------------------- PyTorch reference


def torch_reference(params, spec, content, style, device='cpu', channels_last=False):
  """The PyTorch reference of nst_flax's loss: (loss_fn, start) where loss_fn(x) takes an
  NCHW image tensor in [0, 1] and returns (total, [total, content, style, tv]) as tensors
  (weighted as in nst_flax), and start is the content image as that tensor."""
  import torch
  import torch.nn as nn
  import torch.nn.functional as F

  torch.set_num_threads(int(os.environ.get('TORCH_THREADS', os.cpu_count() or 2)))

  class VGG(nn.Module):
    def __init__(self):
      super().__init__()
      self.convs = nn.ModuleDict()
      for name in CONV_LAYERS:
        k = np.asarray(params[name]['kernel'])  # HWIO
        conv = nn.Conv2d(k.shape[2], k.shape[3], 3, padding=1)
        conv.weight.data = torch.from_numpy(np.ascontiguousarray(k.transpose(3, 2, 0, 1)))
        conv.bias.data = torch.from_numpy(np.asarray(params[name]['bias']).copy())
        conv.weight.requires_grad_(False)
        conv.bias.requires_grad_(False)
        self.convs[name] = conv

    def forward(self, x, layers):
      deepest = max(LAYERS.index(n) for n in layers)
      out = {}
      for name in LAYERS[: deepest + 1]:
        if name.endswith('pool'):
          x = F.max_pool2d(x, 2) if spec.pooling == 'max' else F.avg_pool2d(x, 2)
        else:
          x = F.relu(self.convs[name](x))
        if name in layers:
          out[name] = x
      return out

  mean = torch.tensor(VGG_MEAN_BGR).view(1, 3, 1, 1).to(device)

  def prep(x01):  # NCHW RGB [0,1] -> BGR caffe
    return x01.flip(1) * 255.0 - mean

  def gram(f):
    n, c, h, w = f.shape
    f = f.reshape(n, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / (h * w * c)

  c_w = dict(zip(spec.content_layers, spec.content_layer_weights))
  s_w = dict(zip(spec.style_layers, spec.style_layer_weights))
  fmt = torch.channels_last if channels_last else torch.contiguous_format
  vgg = VGG().to(device).to(memory_format=fmt).eval()
  c = torch.from_numpy(content.transpose(2, 0, 1)[None].copy()).to(device)
  c = c.contiguous(memory_format=fmt)
  s = torch.from_numpy(style.transpose(2, 0, 1)[None].copy()).to(device)
  s = s.contiguous(memory_format=fmt)
  with torch.no_grad():
    cf = {k: v.detach() for k, v in vgg(prep(c), spec.content_layers).items()}
    sg = {k: gram(v).detach() for k, v in vgg(prep(s), spec.style_layers).items()}

  def loss_fn(x):
    f = vgg(prep(x), spec.layers)
    lc = spec.content_weight * sum(w * torch.mean((f[k] - cf[k]) ** 2)
                                   for k, w in c_w.items())
    ls = spec.style_weight * sum(w * torch.mean((gram(f[k]) - sg[k]) ** 2)
                                 for k, w in s_w.items())
    dy = x[:, :, 1:, :] - x[:, :, :-1, :]
    dx = x[:, :, :, 1:] - x[:, :, :, :-1]
    lt = spec.tv_weight * (torch.mean(dy ** 2) + torch.mean(dx ** 2))
    total = lc + ls + lt
    return total, torch.stack([total, lc, ls, lt])

  return loss_fn, c


def torch_variants(params, spec, content, style, steps, lr, skip_compile=False, device='cpu'):
  """{name: run()} for the PyTorch reference on `device` ('cpu' or 'cuda'); run() returns the
  final image (NHWC numpy, which also waits for the device)."""
  import torch

  runs = {}
  for variant in ('eager', 'channels_last', 'compile'):
    if variant == 'compile' and skip_compile:
      continue
    loss_fn, c = torch_reference(params, spec, content, style, device,
                                 channels_last=variant == 'channels_last')

    def fwd_bwd(x, loss_fn=loss_fn):
      (g,) = torch.autograd.grad(loss_fn(x)[0], x)
      return g

    grad_fn = fwd_bwd
    if variant == 'compile':
      try:
        grad_fn = torch.compile(fwd_bwd)
        grad_fn(c.clone().requires_grad_(True))
      except Exception as e:  # pragma: no cover - inductor needs a C++ compiler
        print(f'torch.compile failed: {str(e).splitlines()[0]}')
        continue

    def run(c=c, grad_fn=grad_fn):
      x = c.clone().requires_grad_(True)
      opt = torch.optim.Adam([x], lr=lr)
      for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        x.grad = grad_fn(x)
        opt.step()
        with torch.no_grad():
          x.clamp_(0.0, 1.0)
      return x.detach().permute(0, 2, 3, 1).contiguous().cpu().numpy()

    runs[f'torch {variant}'] = run
  return runs


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  ap.add_argument('--sizes', type=int, nargs='+', default=[256, 512], help='image sides')
  ap.add_argument('--steps', type=int, default=5, help='Adam steps per timed run')
  ap.add_argument('--rounds', type=int, default=3, help='interleaved timing rounds')
  ap.add_argument('--no-torch', action='store_true', help='JAX only')
  ap.add_argument('--no-compile', action='store_true', help='skip torch.compile')
  ap.add_argument('--torch-device', default='cpu',
                  help='device of the PyTorch reference: cpu (default) or cuda (compare with '
                       'JAX on a GPU)')
  args = ap.parse_args(argv)

  print(f'load average before: {os.getloadavg()}  (2 cores; others may share them)')
  print(f'jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} cores')
  params = load_vgg19_params()
  cfg = nst_config.get_default_config()
  spec = T.loss_spec_from_config(cfg)
  lr = float(cfg.lr)
  peak = matmul_peak_jax()
  tpeak = None
  if not args.no_torch:
    try:
      import torch
      torch.set_num_threads(os.cpu_count() or 2)
      a = torch.randn(4096, 4096, device=args.torch_device)
      dt = time_it(lambda: (a @ a).sum().item(), 5)
      tpeak = 2 * 4096 ** 3 / dt / 1e9
      if args.torch_device != 'cpu':  # TF32 decides fp32 speed on GPUs; say what ran
        print(f'torch {torch.__version__} on {args.torch_device}: cudnn.allow_tf32='
              f'{torch.backends.cudnn.allow_tf32}, cuda.matmul.allow_tf32='
              f'{torch.backends.cuda.matmul.allow_tf32}; jax_default_matmul_precision='
              f'{jax.config.jax_default_matmul_precision}')
    except ImportError:
      print('torch is not installed: skipping the PyTorch reference')
      args.no_torch = True
  print(f'matmul peak (4096^2 f32): jax {peak:.0f} GFLOP/s'
        + (f', torch {tpeak:.0f} GFLOP/s' if tpeak else ''))

  rows = []
  for size in args.sizes:
    content, style = test_images(size)
    flops = conv_flops(spec, size)
    runs, loss_eval = jax_variants(params, spec, content, style, args.steps, lr)
    if not args.no_torch:
      runs.update(torch_variants(params, spec, content, style, args.steps, lr,
                                 skip_compile=args.no_compile,
                                 device=args.torch_device))
    for fn in runs.values():  # warm-up: compile everything first
      fn()
    times = {k: [] for k in runs}
    finals = {}
    loads = []
    for r in range(args.rounds):  # interleaved rounds; the minimum is robust to other jobs
      for name, fn in runs.items():
        t = time.perf_counter()
        x = fn()
        times[name].append((time.perf_counter() - t) / args.steps)
        finals[name] = loss_eval(x)
      loads.append(os.getloadavg()[0])
    best = {k: min(v) for k, v in times.items()}
    torch_times = {k: v for k, v in best.items() if k.startswith('torch')}
    fastest = min(torch_times, key=torch_times.get) if torch_times else None
    ref = finals.get('torch eager')
    print(f'\n== {size}x{size}: {args.steps} Adam steps per run, best of {args.rounds} '
          f'interleaved rounds, {flops / 1e9:.0f} GFLOP/step, load average during '
          f'{min(loads):.1f}-{max(loads):.1f} ==')
    print(f"{'variant':26s} {'s/step':>7s} {'median':>7s} {'GFLOP/s':>8s} {'%peak':>6s} "
          f"{'/fastest torch':>14s} {'final total loss':>17s} {'vs torch eager':>14s}")
    for name in runs:
      dt = best[name]
      gfs = flops / dt / 1e9
      ratio = dt / torch_times[fastest] if fastest else float('nan')
      fl = finals[name]
      rel = f'{100 * (fl[0] / ref[0] - 1):+.3f}%' if ref is not None else ''
      print(f'{name:26s} {dt:7.4f} {float(np.median(times[name])):7.4f} {gfs:8.1f} '
            f'{100 * gfs / peak:5.0f}% {ratio:14.2f} {fl[0]:17.6g} {rel:>14s}')
      rows.append((size, name, dt, gfs, ratio, fl))
    print(f"jax loop / jax step = {best['jax loop'] / best['jax step']:.2f}; "
          f'Winograd loop / direct-conv loop = '
          f"{best['jax loop'] / best['jax loop (direct conv)']:.2f}; "
          f'autodiff loop / autodiff step = '
          f"{best['jax loop (autodiff conv)'] / best['jax step (autodiff conv)']:.2f}")
    if fastest:
      print(f'fastest torch variant: {fastest}; jax loop / {fastest} = '
            f"{best['jax loop'] / torch_times[fastest]:.2f} (target <= 0.8)")
      print('final per-term losses (total, content, style, tv): jax loop '
            + ', '.join(f'{v:.5g}' for v in finals['jax loop']) + ' | torch eager '
            + ', '.join(f'{v:.5g}' for v in ref))
  peak2 = matmul_peak_jax()
  print(f'\nmatmul peak again at the end: jax {peak2:.0f} GFLOP/s (the table used '
        f'{peak:.0f}); load average after: {os.getloadavg()}')
  return rows


if __name__ == '__main__':
  main()
