"""Side-by-side sheet and end-to-end `stylize.py` time of the style-transfer schedules.

    python benchmarks/nst_presets_sheet.py                         # astronaut, 512 px, 5 schedules
    python benchmarks/nst_presets_sheet.py --schedules final draft --style docs/starry_night.jpg

Runs `stylize.py` (a fresh process each, as a user does; the person mask given as an ellipse, so
no U-Net is needed) on scikit-image's astronaut at 512 px for each schedule:

  adam-ms    300 Adam steps at 256 px, then 100 at 512 px (the default until 2026-12)
  final      configs/nst_default.py (60 L-BFGS iterations at 512 px, frequency-preconditioned)
  final-80-pixels  80 L-BFGS iterations at 512 px on the pixels (the `final` preset until
             2026-12-05)
  lbfgs-ms   100 L-BFGS iterations at 256 px, then 50 at 512 px
  draft      configs/nst_default.py:draft (50 L-BFGS iterations at 256 px)

and prints each run's wall time from process start to the image written, with the final loss
of each stylized image scored at 512 px by the same loss. Writes the stylized images side by side,
with their schedule and seconds, to `--out` (a JPEG). Not a test.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCHEDULES = {
    'adam-ms': ['--config.optimizer=adam', '--config.multiscale=True', '--config.steps=300',
                '--config.refine_steps=100'],
    'final': [],
    'final-80-pixels': ['--config.steps=80', '--config.lbfgs_precondition=0'],
    'lbfgs-ms': ['--config.multiscale=True', '--config.steps=100', '--config.refine_steps=50'],
    'draft': [f"--config={os.path.join(REPO, 'configs', 'nst_default.py')}:draft"],
}


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  ap.add_argument('--style', default=os.path.join(REPO, 'docs', 'starry_night.jpg'),
                  help='style image')
  ap.add_argument('--schedules', nargs='+', default=list(SCHEDULES), choices=list(SCHEDULES),
                  help='schedules to run, left to right on the sheet')
  ap.add_argument('--out', default=os.path.join(REPO, 'docs', 'nst_schedules_astronaut.jpg'),
                  help='the sheet (JPEG)')
  args = ap.parse_args(argv)
  if not os.path.exists(args.style):
    ap.error(f'--style {args.style}: no such file')

  import skimage.data
  from PIL import Image, ImageDraw
  from nst_flax import config as nst_config
  from nst_flax import image_io
  from nst_flax import transfer as T
  from nst_flax.weights import load_vgg19_params

  work = tempfile.mkdtemp(prefix='nst_schedules_')
  photo = os.path.join(work, 'astronaut.png')
  image_io.save_image(photo, skimage.data.astronaut() / 255.0)
  h = w = 512
  yy, xx = np.mgrid[:h, :w]
  mask = os.path.join(work, 'mask.png')
  inside = ((yy - 0.62 * h) / (0.42 * h)) ** 2 + ((xx - 0.45 * w) / (0.22 * w)) ** 2 <= 1.0
  Image.fromarray((inside * 255).astype(np.uint8)).save(mask)

  results = []
  for name in args.schedules:
    out = os.path.join(work, f'{name}.png')
    # --config (the draft preset) must come before any --config.KEY override.
    cmd = [sys.executable, os.path.join(REPO, 'stylize.py'), *SCHEDULES[name],
           f'--content={photo}', f'--style={args.style}', f'--mask={mask}', f'--out={out}',
           '--config.log_every=50']
    print(f"== {name}: {' '.join(cmd[2:])}", flush=True)
    t0 = time.perf_counter()
    load0 = os.getloadavg()[0]
    done = subprocess.run(cmd, cwd=REPO)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
      raise SystemExit(f'stylize.py failed for {name} (exit {done.returncode})')
    print(f'   {name}: {seconds:.1f} s end to end; load {load0:.1f} -> '
          f'{os.getloadavg()[0]:.1f}', flush=True)
    stem = os.path.splitext(out)[0]
    # The sheet is photo | mask | stylized | result; the stylized image is the third tile.
    results.append((name, seconds, image_io.load_image(out),
                    image_io.load_image(stem + '_sheet.png')))

  # Every stylized image scored by the same loss (guided, as stylize.py ran it) at 512 px.
  cfg = nst_config.get_default_config()
  cfg.guided_style = True
  spec = T.loss_spec_from_config(cfg)
  jp, gk = T.prepare_params(load_vgg19_params())
  content = image_io.load_image(photo)
  style = image_io.load_image(args.style)
  style = image_io.resize_image(style, image_io.fit_max_side(*style.shape[:2], 512))
  m = image_io.load_mask(mask, (h, w))[None]
  targets = T.compute_targets(spec, jp, content[None], (style[None],), np.ones(1, np.float32),
                              m)
  loss_fn = T.make_loss_fn(spec, jp, gk, targets)
  tiles = []
  for name, seconds, result, sheet in results:
    stylized = sheet[:, 2 * (w + 8): 2 * (w + 8) + w]
    loss = float(loss_fn(stylized[None])[0])
    print(f'{name:15s} {seconds:7.1f} s end to end, loss of the stylized image {loss:.4f}')
    tile = Image.fromarray(image_io.to_uint8(np.concatenate([stylized, result], 0)))
    ImageDraw.Draw(tile).text((6, 6), f'{name}: {seconds:.0f} s, loss {loss:.3f}',
                              fill=(255, 255, 255))
    tiles.append(np.asarray(tile, np.float32) / 255.0)
  gap = np.ones((tiles[0].shape[0], 8, 3), np.float32)
  image_io.save_image(args.out, np.concatenate(sum(([t, gap] for t in tiles), [])[:-1], 1),
                      quality=88)
  print(f'wrote {args.out} (top: stylized, bottom: composed with the mask; left to right: '
        f"{', '.join(r[0] for r in results)})")


if __name__ == '__main__':
  main()
