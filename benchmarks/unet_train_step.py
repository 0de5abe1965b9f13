"""Images/s of the U-Net train step: JAX (the real jitted step) vs the same U-Net in PyTorch eager.

    python benchmarks/unet_train_step.py            # 128 and 256 px, batch 8, seed + default models
    python benchmarks/unet_train_step.py --quick    # fewer, shorter measurements (a smoke run)
    python benchmarks/unet_train_step.py --sizes 128 --models seed --seconds 20 --rounds 3
    python benchmarks/unet_train_step.py --torch-device cuda   # on a GPU: PyTorch on it too
    python benchmarks/unet_train_step.py --sizes 128 --models default --cores 1   # one CPU core

JAX side: nothing is re-implemented. The model comes from `unet_flax.models.create_model`, the
optimizer from `unet_flax.train.create_optimizer` (AdamW, warm-up + cosine, global-norm clipping,
as in `configs/unet_scratch.py`), the state from `create_train_state` and the step from
`make_train_step` (BCE + soft Dice from `unet_flax.metrics`), jitted with the state donated as in
`train.py`. Models: `seed` = `configs/unet_seed.py` (32 filters, depth 5, 8,639,745 parameters),
`default` = `configs/unet_scratch.py` (16 filters, depth 4, 538,113 parameters; the from-scratch
U-Net) and `main` = `configs/unet_person_vgg19.py` (the VGG19 recipe, the main job's model until
2026-12-02: frozen VGG19 encoder to block5_conv4, LayerNorm per level, 16-filter decoder; its
step has no backward pass through the encoder, as in train.py before `encoder_frozen_steps`; random weights, the speed does not depend on them).

PyTorch side (torch CPU, eager; `pip install torch==2.13.0`, benchmark-only): the same
architecture with torch.nn (Conv2d 3x3 padding 1 + ReLU twice per block, MaxPool2d(2),
ConvTranspose2d(k=3, stride=2, padding=1, output_padding=1), concatenated skips, Dropout in the
two deepest encoder blocks, head Conv 3x3 + ReLU then Conv 1x1; for `main`, the VGG19 blocks
with requires_grad off and a LayerNorm per level), BCEWithLogits + soft Dice,
`clip_grad_norm_` + AdamW with the same schedule; in NCHW ("eager") and in channels_last memory
format. The parameter counts of both frameworks are checked equal.

Both get the same data (random images, a random blob mask), batch 8. Each variant is warmed up,
then measurements of at least `--seconds` each are taken in turn (JAX, torch eager, torch
channels_last, JAX, ...) for `--rounds` rounds; the table reports the best round of each (the
least disturbed by other processes on the machine), the load average, and the JAX/eager ratio
within each round (median and range over the rounds: how far the machine's noise moves it). Also
printed: XLA's cost-analysis FLOPs of one step, the achieved GFLOP/s, and a 4096x4096 f32 matmul
in the same process for reference.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from configs import unet_person_vgg19, unet_scratch, unet_seed
from nst_flax import cli
from nst_flax import weights
from unet_flax import models
from unet_flax import train

CONFIGS = {'seed': unet_seed.get_config, 'default': unet_scratch.get_config,
           'main': unet_person_vgg19.get_config}


def load():
  return os.getloadavg()[0]


def use_cores(n: int) -> int:
  """Pins this process to the first `n` of its allowed CPU cores (0: all); returns the count.

  Must run before JAX starts its backend: XLA:CPU sizes its thread pool to the cores it may use
  when the backend starts, and the threads it then creates inherit the pinning.
  """
  allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else []
  if not n:
    return len(allowed) or os.cpu_count() or 1
  if not allowed:
    sys.exit(cli.report_error('--cores needs os.sched_setaffinity (Linux)'))
  if not 1 <= n <= len(allowed):
    sys.exit(cli.report_error(f'--cores {n}: this process may use {len(allowed)} cores'))
  os.sched_setaffinity(0, allowed[:n])
  return n


def make_data(batch: int, size: int, seed: int = 0):
  """Random images in [0, 1] and a random (smooth blob) {0, 1} mask, NHWC float32."""
  rng = np.random.default_rng(seed)
  images = rng.random((batch, size, size, 3), dtype=np.float32)
  coarse = rng.standard_normal((batch, size // 16, size // 16, 1)).astype(np.float32)
  masks = (np.repeat(np.repeat(coarse, 16, 1), 16, 2) > 0).astype(np.float32)
  return images, masks


def time_steps(step, seconds: float, est: float) -> tuple[float, int]:
  """Runs `step(n)` (n steps, synchronised at the end) for >= `seconds`; returns (s/step, n)."""
  n = max(2, math.ceil(seconds / max(est, 1e-4)))
  t = time.perf_counter()
  step(n)
  dt = time.perf_counter() - t
  return dt / n, n


# ---------------------------------------------------------------------------------------------
# JAX: the real train step.
# ---------------------------------------------------------------------------------------------

def flops_of(compiled) -> float | None:
  try:
    analysis = compiled.cost_analysis()
  except Exception:  # Some backends have none.
    return None
  if isinstance(analysis, (list, tuple)):
    analysis = analysis[0] if analysis else {}
  value = (analysis or {}).get('flops')
  return float(value) if value is not None else None


class JaxRunner:
  def __init__(self, config, images, masks):
    size = images.shape[1]
    self.model = models.create_model(config.model)
    tx = train.create_optimizer(config.optimizer, config.num_train_steps)
    init_key, dropout_key = jax.random.split(jax.random.key(config.seed))
    self.state = jax.jit(train.create_train_state, static_argnums=(0, 1, 3))(
        self.model, tx, init_key, size)
    self.num_params = models.param_count(self.state.params)
    self.batch = {'image': jnp.asarray(images), 'mask': jnp.asarray(masks)}
    # A pretrained encoder trains frozen for encoder_frozen_steps first, as in train.py (no
    # backward pass through it); the main job's MediaPipe network trains whole from step 0.
    frozen = config.model.encoder != 'unet' and config.optimizer.encoder_frozen_steps > 0
    step = jax.jit(train.make_train_step(self.model, config.loss, dropout_key, frozen),
                   donate_argnums=(0,))
    t = time.perf_counter()
    self.compiled = step.lower(self.state, self.batch).compile()
    self.compile_s = time.perf_counter() - t
    self.flops = flops_of(self.compiled)

  def run(self, n: int):
    state, batch, metrics = self.state, self.batch, None
    for _ in range(n):
      state, metrics = self.compiled(state, batch)
    jax.block_until_ready((state, metrics))
    self.state = state
    self.last_loss = float(metrics['loss'])


# ---------------------------------------------------------------------------------------------
# PyTorch reference: the same architecture, loss and optimizer, eager.
# ---------------------------------------------------------------------------------------------

def vgg19_blocks() -> list[tuple[int, int]]:
  """(channels, convs) per VGG19 block, from nst_flax's layer table."""
  blocks = {}
  for name, ch in zip(weights.CONV_LAYERS, weights.CONV_CHANNELS):
    block = name.split('_')[0]
    blocks[block] = (ch, blocks.get(block, (ch, 0))[1] + 1)
  return list(blocks.values())


def torch_unet(cfg):
  """The U-Net of `unet_flax.models.UNet` in torch.nn: 'unet' or (frozen) 'vgg19' encoder."""
  import torch
  import torch.nn as nn
  import torch.nn.functional as F

  encoder = cfg.get('encoder', 'unet')
  if encoder not in ('unet', 'vgg19'):
    raise ValueError(f'the PyTorch reference has no {encoder!r} encoder')

  def block(cin, f):
    return nn.Sequential(nn.Conv2d(cin, f, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(f, f, 3, padding=1), nn.ReLU(inplace=True))

  class VGGEncoder(nn.Module):
    """VGG19 blocks 1..depth (frozen), a LayerNorm over channels on each level's output."""

    def __init__(self, depth):
      super().__init__()
      self.input_scale = nn.Parameter(torch.ones(3), requires_grad=False)
      self.input_offset = nn.Parameter(torch.zeros(3), requires_grad=False)
      self.register_buffer('mean', torch.from_numpy(weights.VGG_MEAN_BGR).view(1, 3, 1, 1))
      self.blocks, self.norms, cin = nn.ModuleList(), nn.ModuleList(), 3
      blocks = vgg19_blocks()[:depth]
      for ch, convs in blocks:
        layers = []
        for _ in range(convs):
          layers += [nn.Conv2d(cin, ch, 3, padding=1), nn.ReLU(inplace=True)]
          cin = ch
        self.blocks.append(nn.Sequential(*layers))
        self.norms.append(nn.LayerNorm(ch))
      for p in self.blocks.parameters():
        p.requires_grad_(False)
      self.channels = [ch for ch, _ in blocks]

    def forward(self, x):
      x = x.flip(1) * 255.0 - self.mean  # RGB [0, 1] -> Caffe BGR, as nst_flax.weights
      x = x * self.input_scale.view(1, 3, 1, 1) + self.input_offset.view(1, 3, 1, 1)
      feats = []
      for level, (blk, norm) in enumerate(zip(self.blocks, self.norms)):
        if level:
          x = F.max_pool2d(x, 2)
        x = blk(x)
        feats.append(norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))
      return feats

  class UNet(nn.Module):
    def __init__(self):
      super().__init__()
      base, depth = cfg.base_filters, cfg.depth
      self.depth = depth
      if encoder == 'vgg19':
        self.vgg = VGGEncoder(depth)
        skip_channels, cin = self.vgg.channels[:-1], self.vgg.channels[-1]
      else:
        self.enc, self.drop = nn.ModuleList(), nn.ModuleList()
        cin = 3
        for level in range(depth):
          f = base * 2**level
          self.enc.append(block(cin, f))
          use = cfg.dropout > 0 and level >= depth - cfg.dropout_levels
          self.drop.append(nn.Dropout(cfg.dropout) if use else nn.Identity())
          cin = f
        skip_channels = [base * 2**level for level in range(depth - 1)]
        self.pool = nn.MaxPool2d(2)
      self.up, self.dec = nn.ModuleList(), nn.ModuleList()
      for level in reversed(range(depth - 1)):
        f = base * 2**level
        self.up.append(nn.ConvTranspose2d(cin, f, cfg.up_kernel_size, stride=2, padding=1,
                                          output_padding=1))
        self.dec.append(block(f + skip_channels[level], f))
        cin = f
      layers = []
      if cfg.head_filters:
        layers = [nn.Conv2d(cin, cfg.head_filters, 3, padding=1), nn.ReLU(inplace=True)]
        cin = cfg.head_filters
      self.head = nn.Sequential(*layers, nn.Conv2d(cin, cfg.num_classes, 1))

    def forward(self, x):
      if encoder == 'vgg19':
        skips = self.vgg(x)
        x = skips.pop()
      else:
        skips = []
        for level in range(self.depth):
          x = self.drop[level](self.enc[level](x))
          if level < self.depth - 1:
            skips.append(x)
            x = self.pool(x)
      for up, dec in zip(self.up, self.dec):
        x = torch.cat([up(x), skips.pop()], dim=1)
        x = dec(x)
      return self.head(x)

  return UNet()


class TorchRunner:
  def __init__(self, config, images, masks, channels_last: bool, device: str = 'cpu'):
    import torch
    import torch.nn.functional as F
    self.torch = torch
    torch.manual_seed(config.seed)
    cfg = config.model
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    self.net = torch_unet(cfg).to(device).to(memory_format=fmt).train()
    self.num_params = sum(p.numel() for p in self.net.parameters())
    self.x = torch.from_numpy(images.transpose(0, 3, 1, 2).copy()).to(device).contiguous(
        memory_format=fmt)
    self.y = torch.from_numpy(masks.transpose(0, 3, 1, 2).copy()).to(device).contiguous(
        memory_format=fmt)
    opt = config.optimizer
    schedule = train.create_schedule(opt, config.num_train_steps)
    # The same warm-up + cosine values as optax (precomputed: no JAX call inside the torch loop).
    self.lrs = np.asarray(jax.device_get(jax.vmap(schedule)(
        jnp.arange(config.num_train_steps + 1))), np.float64)
    self.trainable = [p for p in self.net.parameters() if p.requires_grad]
    self.opt = torch.optim.AdamW(self.trainable, lr=float(self.lrs[0]),
                                 betas=(opt.b1, opt.b2), eps=1e-8, weight_decay=opt.weight_decay)
    self.clip = opt.grad_clip_norm
    self.bce_w, self.dice_w = config.loss.bce_weight, config.loss.dice_weight
    self.count = 0

    def loss_fn(logits, y):
      bce = F.binary_cross_entropy_with_logits(logits, y)
      probs = torch.sigmoid(logits)
      inter = (probs * y).sum(dim=(1, 2, 3))
      total = probs.sum(dim=(1, 2, 3)) + y.sum(dim=(1, 2, 3))
      dice = (1.0 - (2.0 * inter + 1.0) / (total + 1.0)).mean()
      return self.bce_w * bce + self.dice_w * dice

    self.loss_fn = loss_fn

  def step(self):
    torch = self.torch
    for g in self.opt.param_groups:
      g['lr'] = float(self.lrs[min(self.count, len(self.lrs) - 1)])
    self.opt.zero_grad(set_to_none=True)
    loss = self.loss_fn(self.net(self.x), self.y)
    loss.backward()
    if self.clip:
      torch.nn.utils.clip_grad_norm_(self.trainable, self.clip)
    self.opt.step()
    self.count += 1
    return loss

  def run(self, n: int):
    for _ in range(n):
      loss = self.step()
    self.last_loss = float(loss.item())


# ---------------------------------------------------------------------------------------------
# Reference peak.
# ---------------------------------------------------------------------------------------------

def matmul_peak(torch_mod=None, n: int = 4096, reps: int = 4, torch_device: str = 'cpu'):
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  f = jax.jit(lambda a: a @ a)
  f(a).block_until_ready()
  t = time.perf_counter()
  for _ in range(reps):
    f(a).block_until_ready()
  jax_peak = 2 * n**3 * reps / (time.perf_counter() - t) / 1e9
  torch_peak = None
  if torch_mod is not None:
    b = torch_mod.randn(n, n, device=torch_device)
    (b @ b).sum().item()
    t = time.perf_counter()
    for _ in range(reps):
      c = b @ b
    c.sum().item()  # waits for the device
    torch_peak = 2 * n**3 * reps / (time.perf_counter() - t) / 1e9
  return jax_peak, torch_peak


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  ap.add_argument('--sizes', type=int, nargs='+', default=[128, 256], help='image sides')
  ap.add_argument('--models', nargs='+', default=['seed', 'default', 'main'],
                  choices=sorted(CONFIGS), help='U-Net configs to time')
  ap.add_argument('--batch', type=int, default=8, help='images per step')
  ap.add_argument('--seconds', type=float, default=10.0, help='minimum seconds per measurement')
  ap.add_argument('--rounds', type=int, default=2, help='interleaved measurements per variant')
  ap.add_argument('--quick', action='store_true', help='1 round of ~2 s per variant')
  ap.add_argument('--no-torch', action='store_true', help='JAX only')
  ap.add_argument('--cores', type=int, default=0,
                  help='run both frameworks on the first N CPU cores this process may use (0: all; '
                  'XLA:CPU and torch size their thread pools to it), to compare how they scale')
  ap.add_argument('--torch-device', default='cpu',
                  help='device of the PyTorch reference: cpu (default) or cuda (against JAX on a '
                  'GPU)')
  args = ap.parse_args(argv)
  if args.quick:
    args.seconds, args.rounds = 2.0, 1

  cores = use_cores(args.cores)
  torch = None
  if not args.no_torch:
    try:
      import torch
      torch.set_num_threads(cores)
    except ImportError:
      print('torch is not installed (pip install torch==2.13.0): JAX only')
  print(f'jax {jax.__version__} ({jax.devices()[0].platform}), '
        + (f'torch {torch.__version__} ({args.torch_device}, {torch.get_num_threads()} threads'
           + (f', cudnn.allow_tf32={torch.backends.cudnn.allow_tf32}, cuda.matmul.allow_tf32='
              f'{torch.backends.cuda.matmul.allow_tf32}; jax_default_matmul_precision='
              f'{jax.config.jax_default_matmul_precision}' if args.torch_device != 'cpu' else '')
           + '), ' if torch else '')
        + f'{cores} cores, batch {args.batch}, >= {args.seconds:g} s x {args.rounds} rounds '
        f'per variant; load average at start {load():.2f}')
  jpeak, tpeak = matmul_peak(torch, torch_device=args.torch_device)
  print(f'4096x4096 f32 matmul: jax {jpeak:.0f} GFLOP/s'
        + (f', torch {tpeak:.0f} GFLOP/s' if tpeak else '') + f' (load {load():.2f})')

  rows = []
  for size in args.sizes:
    images, masks = make_data(args.batch, size)
    for name in args.models:
      config = CONFIGS[name]()
      config.batch_size = args.batch
      config.data.image_size = size
      runners = {'jax': JaxRunner(config, images, masks)}
      if torch is not None:
        for key, channels_last in (('torch eager', False), ('torch channels_last', True)):
          runners[key] = TorchRunner(config, images, masks, channels_last, args.torch_device)
        counts = {k: r.num_params for k, r in runners.items()}
        assert len(set(counts.values())) == 1, f'parameter counts differ: {counts}'
      # Warm-up (and a per-step estimate to size the measurements).
      est = {}
      for key, r in runners.items():
        r.run(1)
        t = time.perf_counter()
        r.run(1)
        est[key] = time.perf_counter() - t
      times = {k: [] for k in runners}  # seconds per step, one entry per round
      loads = []
      for _ in range(args.rounds):
        for key, r in runners.items():
          dt, _ = time_steps(r.run, args.seconds, est[key])
          times[key].append(dt)
          est[key] = dt
          loads.append(load())
      best = {k: min(v) for k, v in times.items()}
      jr = runners['jax']
      row = dict(size=size, model=name, params=jr.num_params, flops=jr.flops,
                 jax=args.batch / best['jax'],
                 eager=args.batch / best.get('torch eager', float('nan')),
                 cl=args.batch / best.get('torch channels_last', float('nan')),
                 gflops=(jr.flops / best['jax'] / 1e9) if jr.flops else float('nan'),
                 load=max(loads), compile_s=jr.compile_s)
      row['ratio'] = row['jax'] / row['eager']
      # JAX/eager within each round (the two measured back to back): its spread over the rounds
      # shows how much of a ratio is the machine's noise rather than the frameworks.
      paired = np.array(times.get('torch eager', [np.nan] * args.rounds)) / np.array(times['jax'])
      row['ratio_median'], row['ratio_min'], row['ratio_max'] = (
          float(np.median(paired)), float(paired.min()), float(paired.max()))
      rows.append(row)
      print(f'  {size}px {name}: jax {row["jax"]:.1f} img/s, torch eager {row["eager"]:.1f}, '
            f'channels_last {row["cl"]:.1f} (compile {jr.compile_s:.1f} s, losses '
            + ', '.join(f'{k} {r.last_loss:.3f}' for k, r in runners.items())
            + f'; load {row["load"]:.2f})', flush=True)
      del runners

  print(f'\nbatch {args.batch}, images/s (higher is better), best of {args.rounds} interleaved '
        f'rounds of >= {args.seconds:g} s; matmul peak jax {jpeak:.0f} GFLOP/s')
  header = (f'{"size":>5s} {"model":8s} {"params":>10s} {"JAX":>8s} {"torch eager":>12s} '
            f'{"torch ch_last":>14s} {"JAX/eager":>10s} {"GFLOP/step":>11s} {"JAX GFLOP/s":>12s} '
            f'{"% peak":>7s} {"max load":>9s}   JAX/eager per round: median (min-max)')
  print(header)
  for r in rows:
    print(f'{r["size"]:5d} {r["model"]:8s} {r["params"]:10,d} {r["jax"]:8.1f} {r["eager"]:12.1f} '
          f'{r["cl"]:14.1f} {r["ratio"]:10.2f} {(r["flops"] or float("nan")) / 1e9:11.1f} '
          f'{r["gflops"]:12.1f} {100 * r["gflops"] / jpeak:6.0f}% {r["load"]:9.2f}   '
          f'{r["ratio_median"]:.2f} ({r["ratio_min"]:.2f}-{r["ratio_max"]:.2f})')
  print(f'load average at end {load():.2f}')
  return rows


if __name__ == '__main__':
  main()
