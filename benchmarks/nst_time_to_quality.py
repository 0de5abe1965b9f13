"""Time to quality: Gatys style transfer's total loss against wall time, JAX vs PyTorch.

    python benchmarks/nst_time_to_quality.py                         # 512 px, target at 500 its
    python benchmarks/nst_time_to_quality.py --size 256 --target-iters 200 \
        --methods torch-lbfgs jax-lbfgs jax-adam-ms
    python benchmarks/nst_time_to_quality.py --style /path/to/klimt_the_kiss.png

Same ImageNet VGG19 weights, photo (scikit-image's astronaut), painting and loss weights
(configs/nst_default.py) for every method. Methods:

  jax-adam-ms      nst_flax.transfer with Adam, multi-scale: `--adam-steps` at size/2, then
                   `--adam-refine` at size (300 + 100: configs/nst_default.py's default until
                   2026-12)
  jax-lbfgs        nst_flax.transfer, L-BFGS (nst_flax.lbfgs, optax.lbfgs's algorithm with the zoom
                   line search) in the compiled loop,
                   single scale, `--lbfgs-steps` iterations, with the config's range penalty
                   (its curve's loss includes the penalty, ~0.1% at the end) and frequency
                   preconditioner (nst_flax.precondition; `--lbfgs-precondition 0`: none)
  jax-lbfgs-ms     the same, multi-scale: `--lbfgs-ms-steps` at size/2, then at size
  jax-lbfgs-unit   the same single-scale loop with torch-lbfgs's algorithm: unit steps, no line
                   search (one evaluation per iteration), memory 100 (`--unit-steps` iterations)
  jax-lbfgs-unit-ms  jax-lbfgs-unit's algorithm, multi-scale: `--unit-ms-steps` at size/2, then
                   at size (a fresh L-BFGS memory at each scale)
  jax-adam         nst_flax.transfer, Adam, single scale, `--jax-adam-steps`
  torch-lbfgs      torch.optim.LBFGS(lr=1, history_size=100, no line search), as the classic
                   Gatys implementations run it (neural-style and its PyTorch ports): one closure
                   evaluation per iteration, no clamping while it runs
  torch-adam       torch.optim.Adam with the config's learning rate, clamped to [0, 1]

The target loss is what torch-lbfgs reaches after `--target-iters` iterations at `--size`
(500 at 512 px by default). Methods run in the order given (on a shared machine, put
torch-lbfgs between JAX methods so that a drifting load does not favour either side). Each
method's curve has one point per step (PyTorch: per closure evaluation). JAX runs its loop in spans
between reports (`--jax-report-every` steps; a report per step would cost ~0.06 s each): each
step's total comes from the run's history (the total only, so L-BFGS pays no extra forward pass
for it), its time from the report that ends its span, less the span's steps after it at the
span's own pace (a scale's first span at the pace of its other spans, so that the targets and
compiling stay before the first step). A method reaches the target at the first
step of its final (full-size) scale whose loss is at or below it. JAX times start at the
`transfer_style` call, so they include computing the targets and compiling (from the persistent
compilation cache when it holds the programs: `--no-cache` to measure cold compiles); the table
also gives the compile seconds (the first step of each scale minus a typical step), the time to
target without them, and the time to the loss of torch-lbfgs's final image clipped to [0, 1] (what
its user gets: its pixels leave [0, 1] while it runs, and clipping costs much of its gain). Prints
the load average per method (the machine may be shared), writes the curves to a PNG, the raw curves
to JSON (PREFIX.partial.json after each method, so a run stopped early keeps its finished methods)
and the final images to a sheet. PyTorch is needed for the torch methods only; this is not a test.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

METHODS = ('torch-lbfgs', 'jax-adam-ms', 'jax-lbfgs', 'jax-lbfgs-unit', 'jax-lbfgs-unit-ms',
           'jax-lbfgs-ms', 'jax-adam', 'torch-adam')


def load_images(size, style_path):
  """(content [size, size, 3], style at long side `size`) as `transfer_style` sees them."""
  import skimage.data
  from nst_flax.image_io import fit_max_side, load_image, resize_image
  photo = skimage.data.astronaut().astype(np.float32) / 255.0
  content = resize_image(photo, fit_max_side(*photo.shape[:2], size))
  style = load_image(style_path)
  style = resize_image(style, fit_max_side(*style.shape[:2], size))
  return content, style


class Curve:
  """(seconds since start, scale index, total loss) per step or evaluation."""

  def __init__(self, name, every=25):
    self.name, self.every = name, every
    self.t0 = time.perf_counter()
    self.points = []
    self.scale = 0
    self._last_step = -1

  def add(self, step, total, scale=None):
    if scale is None:  # nst_flax's steps restart at 0 on each scale
      if step <= self._last_step:
        self.scale += 1
      self._last_step = step
      scale = self.scale
    t = time.perf_counter() - self.t0
    self.points.append((t, scale, float(total)))
    if self.every and len(self.points) % self.every == 0:
      print(f'  {self.name}: step {len(self.points):4d}  scale {scale}  loss '
            f'{float(total):.5g}  {t:6.1f} s', flush=True)


def run_jax(name, params, content, style, args):
  """One `transfer_style` run; returns (Curve, final image, final loss at full size)."""
  from nst_flax import config as nst_config
  from nst_flax import transfer as T

  cfg = nst_config.get_default_config()
  cfg.update(size=args.size, log_every=args.jax_report_every, multiscale_min=args.size // 2,
             grad_dtype=args.grad_dtype)
  if name == 'jax-adam-ms':
    cfg.update(optimizer='adam', multiscale=True, steps=args.adam_steps,
               refine_steps=args.adam_refine)
  elif name == 'jax-adam':
    cfg.update(optimizer='adam', multiscale=False, steps=args.jax_adam_steps)
  elif name == 'jax-lbfgs':
    cfg.update(optimizer='lbfgs', multiscale=False, steps=args.lbfgs_steps)
  elif name == 'jax-lbfgs-unit':
    cfg.update(optimizer='lbfgs', multiscale=False, steps=args.unit_steps, lbfgs_memory=100,
               lbfgs_linesearch='none')
  elif name == 'jax-lbfgs-unit-ms':
    coarse, fine = args.unit_ms_steps
    cfg.update(optimizer='lbfgs', multiscale=True, steps=coarse, refine_steps=fine,
               lbfgs_memory=100, lbfgs_linesearch='none')
  elif name == 'jax-lbfgs-ms':
    coarse, fine = args.lbfgs_ms_steps
    cfg.update(optimizer='lbfgs', multiscale=True, steps=coarse, refine_steps=fine)
  if args.lbfgs_range_penalty is not None:
    cfg.lbfgs_range_penalty = args.lbfgs_range_penalty
  if args.lbfgs_precondition is not None:
    cfg.lbfgs_precondition = args.lbfgs_precondition
  t0, reports = time.perf_counter(), []
  image, hist = T.transfer_style(params, content, [style], config=cfg, verbose=False,
                          progress=lambda step, terms: reports.append(
                              (step, time.perf_counter() - t0)),
                          progress_terms=False)
  curve = Curve(name, args.print_every)
  curve.t0 = t0
  for t, scale, total in step_points(reports, hist['scale'], hist['total']):
    curve.points.append((t, scale, total))
  return curve, image, hist


def step_points(reports, scales, totals):
  """[(seconds, scale, total)] per step from the span-end reports [(step within its scale,
  seconds)] of a JAX run and its history's per-step scales and totals: a step's time is its
  span's report less the span's later steps at the span's pace (a scale's first span: at the
  median pace of its others)."""
  scales, totals = np.asarray(scales), np.asarray(totals)
  firsts = np.searchsorted(scales, np.unique(scales))
  spans = []  # (scale, first step, last step, seconds at its report, its pace in s/step)
  for step, t in reports:
    if spans and step <= spans[-1][2]:  # the steps restart on each scale
      spans.append((spans[-1][0] + 1, 0, step, t))
    else:
      scale, begin = (spans[-1][0], spans[-1][2] + 1) if spans else (0, 0)
      spans.append((scale, begin, step, t))
  spans = [(scale, begin, step, t, (t - (spans[k - 1][3] if k else 0.0)) / (step + 1 - begin))
           for k, (scale, begin, step, t) in enumerate(spans)]
  points = []
  for scale in range(len(firsts)):
    mine = [sp for sp in spans if sp[0] == scale]
    first_pace = float(np.median([sp[4] for sp in mine[1:]])) if len(mine) > 1 else mine[0][4]
    for k, (_, begin, step, t, pace) in enumerate(mine):
      pace = pace if k else first_pace
      for i in range(begin, step + 1):
        points.append((t - (step - i) * pace, scale, float(totals[firsts[scale] + i])))
  return points


def torch_final_loss(loss_fn, image):
  import torch
  x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))[None])
  with torch.no_grad():
    return float(loss_fn(x)[0])


def run_torch(name, params, spec, content, style, args, iters):
  """PyTorch L-BFGS or Adam for `iters` iterations; returns (Curve, final image)."""
  import torch
  from nst_step import torch_reference

  loss_fn, c = torch_reference(params, spec, content, style)
  curve = Curve(name, args.print_every)
  x = c.clone().requires_grad_(True)
  if name == 'torch-lbfgs':
    # max_iter=1 per .step() keeps the optimiser's state across calls, so this is the same
    # run as one .step() of max_iter=iters, with a curve point per closure evaluation.
    opt = torch.optim.LBFGS([x], lr=1.0, max_iter=1, history_size=100,
                            tolerance_grad=-1.0, tolerance_change=-1.0,
                            line_search_fn=args.torch_line_search)

    def closure():
      opt.zero_grad(set_to_none=True)
      total, _ = loss_fn(x)
      total.backward()
      curve.add(len(curve.points), total.item(), scale=0)
      return total

    for _ in range(iters):
      opt.step(closure)
    with torch.no_grad():  # the loss of the final iterate
      curve.add(len(curve.points), loss_fn(x)[0].item(), scale=0)
  else:
    opt = torch.optim.Adam([x], lr=args.lr)
    for _ in range(iters):
      opt.zero_grad(set_to_none=True)
      total, _ = loss_fn(x)
      total.backward()
      curve.add(len(curve.points), total.item(), scale=0)
      opt.step()
      with torch.no_grad():
        x.clamp_(0.0, 1.0)
    with torch.no_grad():
      curve.add(len(curve.points), loss_fn(x)[0].item(), scale=0)
  image = x.detach()[0].permute(1, 2, 0).numpy()
  return curve, image, loss_fn


def time_to_target(curve, target, final_scale):
  for t, s, v in curve.points:
    if s == final_scale and v <= target:
      return t
  return None


def compile_seconds(curve):
  """Per scale: the first point's delay after the previous one, minus the scale's median step
  (targets + compiling; 0 for PyTorch)."""
  pts = np.asarray(curve.points)
  total = 0.0
  for s in np.unique(pts[:, 1]):
    idx = np.nonzero(pts[:, 1] == s)[0]
    first = pts[idx[0], 0] - (pts[idx[0] - 1, 0] if idx[0] > 0 else 0.0)
    step = np.median(np.diff(pts[idx, 0])) if len(idx) > 2 else 0.0
    total += max(first - step, 0.0)
  return total


def plot(curves, target, path, title):
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
  for name, curve in curves.items():
    pts = np.asarray(curve.points)
    final = pts[:, 1] == pts[:, 1].max()
    line, = ax.plot(pts[final, 0], pts[final, 2], label=name, lw=1.4)
    if (~final).any():  # coarse scale: its loss is of the smaller image
      ax.plot(pts[~final, 0], pts[~final, 2], color=line.get_color(), lw=1.0, ls=':')
  ax.axhline(target, color='k', lw=0.8, ls='--', label='target (torch L-BFGS)')
  ax.set_yscale('log')
  ax.set_xlabel('wall seconds since start (JAX: including targets and compiling)')
  ax.set_ylabel('total loss (dotted: coarse scale, smaller image)')
  ax.set_title(title, fontsize=9)
  ax.grid(True, which='both', alpha=0.3)
  lo = min(np.asarray(c.points)[:, 2].min() for c in curves.values())
  ax.set_ylim(lo * 0.8, target * 30)
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  ap.add_argument('--size', type=int, default=512, help='long side of the image, pixels')
  ap.add_argument('--style', default=os.path.join(REPO, 'docs', 'starry_night.jpg'),
                  help='style image')
  ap.add_argument('--methods', nargs='+', default=list(METHODS), choices=METHODS)
  ap.add_argument('--target-iters', type=int, default=500,
                  help='torch L-BFGS iterations that define the target loss')
  ap.add_argument('--torch-line-search', default=None, choices=[None, 'strong_wolfe'],
                  help='line search of torch L-BFGS (classic runs: none)')
  ap.add_argument('--adam-steps', type=int, default=300, help='jax-adam-ms: steps at size/2')
  ap.add_argument('--adam-refine', type=int, default=100, help='jax-adam-ms: steps at size')
  ap.add_argument('--jax-adam-steps', type=int, default=400, help='jax-adam: steps')
  ap.add_argument('--lbfgs-steps', type=int, default=300, help='jax-lbfgs: iterations')
  ap.add_argument('--unit-steps', type=int, default=500, help='jax-lbfgs-unit: iterations')
  ap.add_argument('--unit-ms-steps', type=int, nargs=2, default=[200, 400],
                  metavar=('COARSE', 'FINE'), help='jax-lbfgs-unit-ms: iterations per scale')
  ap.add_argument('--lbfgs-ms-steps', type=int, nargs=2, default=[150, 150],
                  metavar=('COARSE', 'FINE'), help='jax-lbfgs-ms: iterations per scale')
  ap.add_argument('--lbfgs-range-penalty', type=float, default=None,
                  help="JAX L-BFGS: the penalty on pixels outside [0, 1] (default: the config's; "
                  '0: unconstrained, the objective torch-lbfgs minimises)')
  ap.add_argument('--lbfgs-precondition', type=float, default=None,
                  help="JAX L-BFGS: the frequency preconditioner's exponent (default: the "
                  "config's; 0: L-BFGS on the pixels, as torch-lbfgs runs)")
  ap.add_argument('--torch-adam-steps', type=int, default=400, help='torch-adam: steps')
  ap.add_argument('--lr', type=float, default=0.02, help='Adam learning rate (both)')
  ap.add_argument('--grad-dtype', default='auto', choices=['auto', 'float32', 'bfloat16'],
                  help="config.grad_dtype of the jax methods ('auto': bfloat16 on CPUs with AMX)")
  ap.add_argument('--no-cache', action='store_true',
                  help='no persistent compilation cache (cold compiles)')
  ap.add_argument('--jax-report-every', type=int, default=10,
                  help='JAX: steps per span of the compiled loop between reports')
  ap.add_argument('--print-every', type=int, default=25, help='progress line every K points')
  ap.add_argument('--out', default=os.path.join(REPO, 'benchmarks', 'results',
                                                'nst_time_to_quality'),
                  help='prefix of the outputs: PREFIX.png (curves), .json, _images.jpg')
  args = ap.parse_args(argv)
  if args.size < 64:
    ap.error(f'--size {args.size}: expected at least 64 pixels')
  if not os.path.exists(args.style):
    ap.error(f'--style {args.style}: no such file')

  import jax
  from nst_flax import compilation_cache
  from nst_flax import config as nst_config
  from nst_flax import transfer as T
  from nst_flax.image_io import save_image
  from nst_flax.weights import load_vgg19_params

  if not args.no_cache:
    compilation_cache.enable_compilation_cache()
  torch_version = None
  if any(m.startswith('torch') for m in args.methods):
    try:
      import torch
      torch_version = torch.__version__
    except ImportError:
      print('torch is not installed: skipping the PyTorch methods')
      args.methods = [m for m in args.methods if not m.startswith('torch')]
  if 'torch-lbfgs' not in args.methods:
    ap.error('the target needs torch-lbfgs among --methods')

  print(f'jax {jax.__version__} on {jax.devices()[0].platform}, torch {torch_version}, '
        f'{os.cpu_count()} cores; load average before {os.getloadavg()}; jax image gradient '
        f'{T.resolve_grad_dtype(args.grad_dtype)}', flush=True)
  params = load_vgg19_params()
  spec = T.loss_spec_from_config(nst_config.get_default_config())
  content, style = load_images(args.size, args.style)
  os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
  curves, images, loads, final_losses = {}, {}, {}, {}
  from nst_step import torch_reference
  torch_loss = torch_reference(params, spec, content, style)[0]  # scores every final image
  for name in args.methods:
    load0 = os.getloadavg()[0]
    print(f'== {name} ({content.shape[1]}x{content.shape[0]}) ...', flush=True)
    if name.startswith('torch'):
      iters = args.target_iters if name == 'torch-lbfgs' else args.torch_adam_steps
      curve, image, _ = run_torch(name, params, spec, content, style, args, iters)
    else:
      curve, image, _ = run_jax(name, params, content, style, args)
    loads[name] = (load0, os.getloadavg()[0])
    curves[name], images[name] = curve, np.clip(image, 0.0, 1.0)
    # Every final image scored by the same (PyTorch) loss, clipped to [0, 1].
    final_losses[name] = torch_final_loss(torch_loss, images[name])
    print(f'   {name}: {len(curve.points)} points, {curve.points[-1][0]:.1f} s, last loss '
          f'{curve.points[-1][2]:.5g}, final image (clipped) {final_losses[name]:.5g}; '
          f'load {loads[name][0]:.1f} -> {loads[name][1]:.1f}', flush=True)
    with open(args.out + '.partial.json', 'w') as f:
      json.dump(dict(args=vars(args), final_losses=final_losses, loads=loads,
                     curves={k: c.points for k, c in curves.items()}), f)

  target = curves['torch-lbfgs'].points[-1][2]
  ref_t = time_to_target(curves['torch-lbfgs'], target, 0)
  # What a user of torch-lbfgs gets: its final image clipped to [0, 1], scored by the same loss.
  image_target = final_losses['torch-lbfgs']
  rows = []
  for name, curve in curves.items():
    final_scale = max(s for _, s, _ in curve.points)
    t = time_to_target(curve, target, final_scale)
    # The other methods' iterates stay in [0, 1] (Adam clips or clamps, JAX L-BFGS's range
    # penalty), so their curve is their image's loss; torch-lbfgs's leave [0, 1], so its image
    # is the one at the end.
    t_image = (curve.points[-1][0] if name == 'torch-lbfgs' else
               time_to_target(curve, image_target, final_scale))
    comp = compile_seconds(curve) if name.startswith('jax') else 0.0
    best = min(v for _, s, v in curve.points if s == final_scale)
    rows.append(dict(method=name, seconds_to_target=t, seconds_to_torch_image=t_image,
                     compile_seconds=comp,
                     seconds=curve.points[-1][0], steps=len(curve.points),
                     best_loss=best, final_image_loss=final_losses[name],
                     load=loads[name]))
  print(f'\n== time to the target loss {target:.5g} (torch L-BFGS after {args.target_iters} '
        f'iterations) at {content.shape[1]}x{content.shape[0]}, style '
        f'{os.path.basename(args.style)} ==')
  print(f"{'method':14s} {'s to target':>11s} {'/torch lbfgs':>12s} {'w/o compile':>11s} "
        f"{'compile s':>9s} {'run s':>7s} {'points':>6s} {'best loss':>10s} "
        f"{'final img':>10s} {'s to img':>9s} {'load':>9s}")
  for r in rows:
    t = r['seconds_to_target']
    ts = f'{t:11.1f}' if t is not None else f"{'not reached':>11s}"
    ratio = f'{t / ref_t:12.2f}' if t is not None and ref_t else f"{'-':>12s}"
    wo = f"{t - r['compile_seconds']:11.1f}" if t is not None else f"{'-':>11s}"
    ti = (f"{r['seconds_to_torch_image']:9.1f}" if r['seconds_to_torch_image'] is not None
          else f"{'-':>9s}")
    print(f"{r['method']:14s} {ts} {ratio} {wo} {r['compile_seconds']:9.1f} "
          f"{r['seconds']:7.1f} {r['steps']:6d} {r['best_loss']:10.5g} "
          f"{r['final_image_loss']:10.5g} {ti} {r['load'][0]:4.1f}-{r['load'][1]:<4.1f}")
  print(f"'final img': the final image's loss, clipped to [0, 1]; 's to img': seconds to the "
        f"loss of torch-lbfgs's final image, {image_target:.5g} (torch-lbfgs: its run time)")
  print(f'load average after: {os.getloadavg()}')

  title = (f'Gatys NST, astronaut {content.shape[1]}x{content.shape[0]}, '
           f'{os.path.basename(args.style)}; jax {jax.__version__}, torch {torch_version}, '
           f'{os.cpu_count()} CPU cores')
  plot(curves, target, args.out + '.png', title)
  with open(args.out + '.json', 'w') as f:
    json.dump(dict(args=vars(args), target=target, rows=rows, jax=jax.__version__,
                   torch=torch_version,
                   curves={k: c.points for k, c in curves.items()}), f)
  tiles = [images[n] for n in curves]
  gap = np.ones((tiles[0].shape[0], 8, 3), np.float32)
  save_image(args.out + '_images.jpg',
             np.concatenate(sum(([t, gap] for t in tiles), [])[:-1], axis=1))
  print(f'wrote {args.out}.png, {args.out}.json, {args.out}_images.jpg (left to right: '
        f"{', '.join(curves)})")
  return rows


if __name__ == '__main__':
  main()
