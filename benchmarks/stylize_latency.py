"""First-image and next-image latency of `stylize.py`, cold and warm compilation cache.

    python benchmarks/stylize_latency.py                       # on a GPU: the defaults (512 px)
    python benchmarks/stylize_latency.py --unet workdirs/unet_person
    python benchmarks/stylize_latency.py --size 128 --set steps=5 --set refine_steps=3   # CPU smoke
    python benchmarks/stylize_latency.py --runs cold warm      # the first image only

Runs `stylize.py` in fresh processes, as a user does, on four real photos (scikit-image's
astronaut 512x512, coffee cropped to 600x390, rocket 640x427, matplotlib's grace_hopper
512x600), with a new, empty persistent compilation cache:

  1. cold:  the astronaut alone, empty cache: seconds from process start to the image written;
  2. warm:  the astronaut alone again, a new process on the now-filled cache;
  3. folder: all four photos in one process (warm cache): the seconds from start to each photo
     written and between photos. Coffee (512x333 at 512 px) and rocket (512x342) differ in size
     but pad to one size bucket (config.size_bucket: 512x384), so the second of them compiles
     no style-transfer program (its mask's views, at the photo's own size, do compile).

Without `--unet` the person mask is a given ellipse (`--mask`), so the U-Net's one-shot,
non-autotuned compile is not in the figures; with `--unet` (a `train.py` workdir) it is.
Targets on a GPU (one H200): first image under 45 s cold and under 20 s on a warm cache.
Writes the per-photo seconds to `--out` (JSON) and prints a table. Not a test.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_photos(folder):
  """The four photos as PNGs in `folder`; returns their paths, astronaut first."""
  import matplotlib.cbook
  import skimage.data
  from PIL import Image
  photos = {
      'astronaut': skimage.data.astronaut(),
      'coffee': skimage.data.coffee()[:390],  # 512x333 at 512 px: rocket's bucket (342)
      'rocket': skimage.data.rocket(),
      'grace_hopper': np.asarray(Image.open(matplotlib.cbook.get_sample_data(
          'grace_hopper.jpg', asfileobj=False)).convert('RGB')),
  }
  os.makedirs(folder, exist_ok=True)
  paths = []
  for i, (name, array) in enumerate(photos.items()):
    path = os.path.join(folder, f'{i}_{name}.png')  # sorted: the order stylize.py takes
    Image.fromarray(array).save(path)
    paths.append(path)
  return paths


def ellipse_mask(path, like):
  from PIL import Image
  w, h = Image.open(like).size
  yy, xx = np.mgrid[:h, :w]
  inside = ((yy - 0.6 * h) / (0.4 * h)) ** 2 + ((xx - 0.5 * w) / (0.25 * w)) ** 2 <= 1.0
  Image.fromarray((inside * 255).astype(np.uint8)).save(path)


def run_stylize(args, content, out, cache_dir, extra):
  """Runs stylize.py; returns (seconds to start, [(photo, seconds since start)], output)."""
  env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=cache_dir)
  cmd = [sys.executable, os.path.join(REPO, 'stylize.py'), f'--content={content}',
         f'--style={args.style}', f'--out={out}', f'--config.size={args.size}',
         *[f'--config.{kv}' for kv in args.set], *extra]
  t0 = time.perf_counter()
  proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env, cwd=REPO)
  written, lines = [], []
  for line in proc.stdout:
    lines.append(line)
    if args.verbose:
      print('   | ' + line.rstrip(), flush=True)
    if line.startswith('wrote '):
      written.append((line.split()[1].rstrip(','), time.perf_counter() - t0))
      print(f'   {written[-1][0]}: {written[-1][1]:.1f} s after start', flush=True)
  if proc.wait() != 0:
    raise SystemExit(f"stylize.py failed (exit {proc.returncode}):\n{''.join(lines[-20:])}")
  return written, ''.join(lines)


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  ap.add_argument('--style', default=os.path.join(REPO, 'docs', 'starry_night.jpg'),
                  help='style image')
  ap.add_argument('--size', type=int, default=512, help='--config.size of stylize.py')
  ap.add_argument('--unet', default=None,
                  help='train.py workdir for the person mask (default: a given ellipse mask)')
  ap.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                  help='more --config.KEY=VALUE overrides for stylize.py (repeat)')
  ap.add_argument('--out', default=os.path.join(REPO, 'benchmarks', 'results',
                                                'stylize_latency.json'),
                  help='per-photo seconds (JSON)')
  ap.add_argument('--work', default=None,
                  help='folder for the photos, cache and stylized images (default: a new temp '
                  'folder); must not exist yet, so that the cache starts empty')
  ap.add_argument('--runs', nargs='+', default=['cold', 'warm', 'folder'],
                  choices=['cold', 'warm', 'folder'],
                  help='which runs, in this order (cold always comes first)')
  ap.add_argument('--verbose', action='store_true', help="echo stylize.py's output")
  args = ap.parse_args(argv)
  if not os.path.exists(args.style):
    ap.error(f'--style {args.style}: no such file')
  if args.unet and not os.path.isdir(args.unet):
    ap.error(f'--unet {args.unet}: not a folder')
  if args.work and os.path.exists(args.work):
    ap.error(f'--work {args.work}: already exists; give a new folder')

  if args.work:
    os.makedirs(args.work)
  work = args.work or tempfile.mkdtemp(prefix='stylize_latency_')
  cache = os.path.join(work, 'jax_cache')  # new and empty: the first run compiles everything
  photos = write_photos(os.path.join(work, 'photos'))
  single = os.path.join(work, 'single')
  os.makedirs(single)
  shutil.copy(photos[0], single)
  extra = [f'--unet={args.unet}'] if args.unet else []
  if not args.unet:  # one mask file for every photo: stylize.py resizes it to each
    mask = os.path.join(work, 'mask.png')
    ellipse_mask(mask, photos[0])
    extra.append(f'--mask={mask}')
  import jax
  print(f'jax {jax.__version__}, devices {jax.devices()}; work folder {work}', flush=True)
  results = {}
  contents = dict(cold=single, warm=single, folder=os.path.dirname(photos[0]))
  runs = ['cold'] + [r for r in args.runs if r != 'cold']
  for label in runs:
    content = contents[label]
    print(f'== {label}: stylize.py on {content} ...', flush=True)
    written, _ = run_stylize(args, content, os.path.join(work, f'out_{label}'), cache, extra)
    results[label] = written
  first_cold = results['cold'][0][1]
  first_warm = results['warm'][0][1] if 'warm' in results else None
  folder = results.get('folder', [])
  print(f'\n== stylize.py latency, --config.size={args.size} '
        f"{' '.join(args.set)} ({'U-Net mask' if args.unet else 'given mask'}) ==")
  print(f'first image, cold cache (process start to image written): {first_cold:7.1f} s '
        f'(target < 45 s on a GPU)')
  if first_warm is not None:
    print(f'first image, warm cache:                                  {first_warm:7.1f} s '
          f'(target < 20 s on a GPU)')
  prev = 0.0
  for path, t in folder:
    print(f'folder, {os.path.basename(path):22s} at {t:7.1f} s (+{t - prev:6.1f} s)')
    prev = t
  os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
  with open(args.out, 'w') as f:
    json.dump(dict(size=args.size, set=args.set, unet=bool(args.unet),
                   devices=str(jax.devices()), first_cold=first_cold,
                   first_warm=first_warm, folder=folder), f, indent=1)
  print(f'wrote {args.out}')


if __name__ == '__main__':
  main()
