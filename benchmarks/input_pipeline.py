"""Images/s of the training loader (Grain) by worker count and size, beside the train step's.

    python benchmarks/input_pipeline.py                      # 128, 256, 512 px; 0, 1, 2 workers
    python benchmarks/input_pipeline.py --sizes 256 --workers 0,2 --seconds 10
    python benchmarks/input_pipeline.py --quick              # a smoke run (seconds)

The loader is the real one: `unet_flax.input_pipeline.train_batches` (Grain, with
`worker_count` worker processes; 0 = threads of this process), augmentation on, batch 32.
Two kinds of examples:
  memory  decoded 320x240 uint8 images and masks held in memory (as a small dataset would be
          after decoding): the loader crops, resizes, flips and jitters them.
  coco    COCO-like: 640x480 JPEG photos (and PNG masks) held as bytes, decoded for every read
          (COCO's 118k photos do not fit in memory), then the same random resized crop, flip
          and colour jitter.
For each (kind, size, workers): startup (first batch, incl. worker start) and images/s over at
least --seconds of steady state (after two more batches per worker). The train step
(`benchmarks/unet_train_step.py`'s JaxRunner: the real jitted step of the main job's model,
configs/unet_person.py, the whole MediaPipe selfie network trained, random weights) is timed at
each size in the same run, batch --step-batch. The table says which of the
two bounds training at each size on this machine, and how many loader cores it would take to
keep up with the VGG19 recipe's train-step rates on one H200 (benchmarks/README.md).
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import time

import numpy as np
from PIL import Image

from nst_flax import cli

# Train step img/s on one H200 (benchmarks/README.md, 2026-11-30) of the VGG19 recipe
# (unet_train_step.py's `main`; the MediaPipe model has not been timed on a GPU): measured at
# 128 px; 256 px scaled from 128 px by the from-scratch model's measured 256/128 ratio
# (1832 / 2860), since the 256 px cell was cut by that script's time limit. 512 px was not
# measured: a quarter of the 256 px rate (4x the pixels) is assumed.
H200_STEP_IMG_S = {128: 2618.0, 256: 2618.0 * 1832 / 2860, 512: 2618.0 * 1832 / 2860 / 4}


class MemoryExamples:
  """Decoded examples held in memory (a random-access split)."""
  name = 'memory'

  def __init__(self, n: int = 64, h: int = 240, w: int = 320, seed: int = 0):
    rng = np.random.default_rng(seed)
    self._examples = []
    for _ in range(n):
      image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
      mask = np.zeros((h, w, 1), np.uint8)
      mask[h // 4:3 * h // 4, w // 3:2 * w // 3] = 1
      self._examples.append({'image': image, 'mask': mask, 'label_source': 'gt'})

  def __len__(self):
    return len(self._examples)

  def __getitem__(self, i):
    return self._examples[i]


class CocoLikeExamples:
  """640x480 JPEG photos and PNG masks as bytes, decoded on every read (like COCO's)."""
  name = 'coco'

  def __init__(self, n: int = 64, h: int = 480, w: int = 640, seed: int = 0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    self._records = []
    for k in range(n):
      # A smooth photo-like image (random noise would JPEG-decode unrealistically slowly).
      image = np.stack([(xx * (1 + k % 5) // 5 + yy) % 256, (yy * 2 + k * 7) % 256,
                        (xx + yy * (k % 3)) % 256], -1).astype(np.uint8)
      image = np.clip(image + rng.integers(0, 12, image.shape), 0, 255).astype(np.uint8)
      mask = ((yy - h / 2)**2 / (h / 3)**2 + (xx - w / 2)**2 / (w / 5)**2 < 1).astype(np.uint8)
      jpeg, png = io.BytesIO(), io.BytesIO()
      Image.fromarray(image).save(jpeg, format='JPEG', quality=90)
      Image.fromarray(mask).save(png, format='PNG')
      self._records.append((jpeg.getvalue(), png.getvalue()))

  def __len__(self):
    return len(self._records)

  def __getitem__(self, i):
    jpeg, png = self._records[i]
    image = np.asarray(Image.open(io.BytesIO(jpeg)).convert('RGB'))
    mask = np.asarray(Image.open(io.BytesIO(png)))[..., None]
    return {'image': image, 'mask': mask, 'label_source': 'gt'}


def loader_rate(split, size: int, workers: int, batch: int, seconds: float):
  """(startup s, images/s) of the real training loader on `split`."""
  from unet_flax import input_pipeline  # pylint: disable=g-import-not-at-top
  t = time.perf_counter()
  batches = input_pipeline.train_batches(split, 0, batch, size, 0, True, worker_count=workers)
  next(batches)
  startup = time.perf_counter() - t
  # Steady state: every worker has started (spawned workers import for seconds, and the first
  # batches come from the first worker while the others still start) and filled its buffer.
  for _ in range(2 * max(workers, 1)):
    next(batches)
  n, t = 0, time.perf_counter()
  while n < 3 or time.perf_counter() - t < seconds:
    next(batches)
    n += 1
  rate = n * batch / (time.perf_counter() - t)
  batches.close()
  return startup, rate


def step_rate(size: int, batch: int, seconds: float) -> float:
  """Images/s of the main job's jitted train step at `size` (after compiling)."""
  import unet_train_step  # pylint: disable=g-import-not-at-top
  from configs import unet_person  # pylint: disable=g-import-not-at-top
  images, masks = unet_train_step.make_data(batch, size)
  runner = unet_train_step.JaxRunner(unet_person.get_config(), images, masks)
  runner.run(1)
  s_per_step, _ = unet_train_step.time_steps(runner.run, seconds, est=1.0)
  return batch / s_per_step


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  parser.add_argument('--sizes', default='128,256,512', help='Image sides, comma-separated.')
  parser.add_argument('--workers', default='0,1,2', help='Worker counts, comma-separated.')
  parser.add_argument('--kinds', default='memory,coco', help='Example kinds: memory, coco.')
  parser.add_argument('--batch', type=int, default=32, help='Loader batch size.')
  parser.add_argument('--step-batch', type=int, default=8, help='Train-step batch size.')
  parser.add_argument('--seconds', type=float, default=6.0,
                      help='Minimum seconds per measurement.')
  parser.add_argument('--no-step', action='store_true', help='Skip timing the train step.')
  parser.add_argument('--quick', action='store_true',
                      help='128 px, 0 and 1 workers, 1 s each, no train step (a smoke run).')
  args = parser.parse_args(argv)
  try:
    sizes = [int(s) for s in args.sizes.split(',')]
    workers = [int(w) for w in args.workers.split(',')]
  except ValueError:
    sys.exit(cli.report_error(f'--sizes {args.sizes!r} / --workers {args.workers!r}: expected '
                              'comma-separated integers'))
  kinds = args.kinds.split(',')
  unknown = sorted(set(kinds) - {'memory', 'coco'})
  if unknown:
    sys.exit(cli.report_error(f'--kinds: unknown kind {unknown[0]!r}; expected memory, coco'))
  if args.quick:
    sizes, workers, args.seconds, args.no_step = [128], [0, 1], 1.0, True

  splits = {'memory': MemoryExamples, 'coco': CocoLikeExamples}
  print(f'cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f}, batch {args.batch}')
  print('| kind | size | workers | startup s | img/s | vs 1 worker |')
  print('| --- | ---: | ---: | ---: | ---: | ---: |')
  rates = {}
  for kind in kinds:
    split = splits[kind]()
    for size in sizes:
      for w in workers:
        startup, rate = loader_rate(split, size, w, args.batch, args.seconds)
        rates[kind, size, w] = rate
        one = rates.get((kind, size, 1))
        ratio = f'{rate / one:.2f}x' if one and w > 1 else ''
        print(f'| {kind} | {size} | {w} | {startup:.1f} | {rate:.0f} | {ratio} |', flush=True)

  if args.no_step:
    return
  print(f'\n| size | train step img/s (batch {args.step_batch}) | best loader img/s (coco) | '
        'bound here | loader cores for the H200 step |')
  print('| ---: | ---: | ---: | --- | ---: |')
  for size in sizes:
    step = step_rate(size, args.step_batch, args.seconds)
    kind = 'coco' if 'coco' in kinds else kinds[0]
    best = max(rates[kind, size, w] for w in workers)
    one_core = rates.get((kind, size, 1)) or rates.get((kind, size, 0))
    cores = H200_STEP_IMG_S.get(size, float('nan')) / one_core
    bound = 'train step' if step < best else 'loader'
    print(f'| {size} | {step:.1f} | {best:.0f} | {bound} | {cores:.0f} |', flush=True)


if __name__ == '__main__':
  main()
