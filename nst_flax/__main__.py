"""Command line: `python -m nst_flax --content photo.jpg --style painting.jpg --out out.png`.

Options: `--style` may repeat (several styles, blended by `--style_weights`); `--mask` gives a
person mask for `--config.guided_style=True`; `--snapshots_dir` with
`--config.snapshot_every=K` writes the image every K steps; `--config` (default
configs/nst_default.py) with `--config.x=y` overrides. Errors print one `error: ...` line and
exit with status 1.
"""
from __future__ import annotations

import os
import sys
import time

from nst_flax import cli
from nst_flax import compilation_cache


def run(FLAGS) -> int:
  import numpy as np

  from nst_flax import image_io, transfer, weights

  cfg = FLAGS.config
  if not FLAGS.content:
    raise ValueError('--content is required (the photo to stylise)')
  if not FLAGS.style:
    raise ValueError('--style is required (one or more paintings)')
  if cfg.compilation_cache:
    compilation_cache.enable_compilation_cache()
  # Validate the config (layer names, presets, ...) before any slow work.
  transfer.loss_spec_from_config(cfg)
  limit = int(cfg.max_input_pixels) if cfg.max_input_pixels else None
  content = image_io.load_image(FLAGS.content, max_pixels=limit)
  styles = [image_io.load_image(p, max_pixels=limit) for p in FLAGS.style]
  sw = cli.parse_style_weights(FLAGS.style_weights, len(styles))
  mask = image_io.load_mask(FLAGS.mask, content.shape[:2]) if FLAGS.mask else None
  out_ext = os.path.splitext(FLAGS.out)[1].lower()
  if out_ext not in ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp'):
    raise ValueError(f'{FLAGS.out}: output must end in .png or .jpg')
  params = weights.load_vgg19_params(cfg.weights)
  snap = None
  if FLAGS.snapshots_dir and cfg.snapshot_every > 0:
    os.makedirs(FLAGS.snapshots_dir, exist_ok=True)

    def snap(step, img):
      image_io.save_image(os.path.join(FLAGS.snapshots_dir, f'step_{step:05d}.png'), img)
  t0 = time.perf_counter()
  image, hist = transfer.transfer_style(params, content, styles, sw, cfg, content_mask=mask,
                                        snapshot=snap)
  image_io.save_image(FLAGS.out, image)
  last = {n: float(hist[n][-1]) for n in transfer.TERM_NAMES if len(hist[n])}
  print(f'wrote {FLAGS.out} ({image.shape[1]}x{image.shape[0]}) in '
        f'{time.perf_counter() - t0:.0f} s; final losses '
        + ' '.join(f'{k} {v:.4g}' for k, v in last.items() if np.isfinite(v)), flush=True)
  return 0


def main(argv=None) -> int:
  return cli.run_command(argv, cli.define_flags, run, __doc__)


if __name__ == '__main__':
  sys.exit(main())
