r"""Person-preserving style transfer: paint the background of a photo, keep the people as they are.

  python stylize.py --content photo.jpg --style painting.jpg --unet workdirs/unet_person \
      --out out.png

Loads the best U-Net checkpoint of a `train.py` workdir, predicts the person mask at the photo's
own resolution, runs the VGG19 style transfer (by default with guided Gram matrices, so the people
neither receive nor distort the style statistics: Gatys et al. 2017), composes
`m * photo + (1 - m) * stylized`, and writes OUT, OUT_mask.png and OUT_sheet.png
(photo | mask | stylized | result). `--content` may be a folder: then `--out` is a folder and every
image in it is processed, several at once where there are several devices (a TPU's cores: one
photo per core; `--devices` caps them). Style-transfer settings come from `--config`
(configs/nst_default.py) with `--config.x=y` overrides; `--mode=post` stylizes the whole photo
and pastes the people back.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import os
import queue
import sys
import threading
import time

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def _define_flags():
  from absl import flags
  from nst_flax import __main__ as nst_cli
  FLAGS = nst_cli.define_flags()  # --content --style --style_weights --out --mask --config ...
  flags.DEFINE_string('unet', None, 'Workdir of a `train.py` run; its best checkpoint predicts '
                      'the person mask (not needed when --mask is given).')
  flags.DEFINE_enum('mode', 'guided', ['guided', 'post'],
                    'guided: style loss over the background only, then compose; post: stylize '
                    'the whole photo, then compose.')
  flags.DEFINE_float('feather', 3.0, 'Soft edge of the mask, in pixels (0: none).')
  flags.DEFINE_float('threshold', None, 'Binarise the mask at this probability first.')
  flags.DEFINE_integer('devices', 0, 'With a folder of photos: style this many at once, one per '
                       'device (0: as many as there are local devices and photos).')
  flags.DEFINE_list('mask_side', ['0'], 'Long side(s) in pixels at which the U-Net sees the '
                    'photo; several are averaged (0: the default, predict.Segmenter.photo_sides: '
                    '384 for the MediaPipe encoder, 160 and 224 for an ImageNet encoder, else the '
                    'training image size).')
  return FLAGS


def _content_paths(content: str, out: str) -> list[tuple[str, str]]:
  """[(input image, output path)] for a file or a folder of images."""
  if os.path.isdir(content):
    names = sorted(n for n in os.listdir(content) if n.lower().endswith(IMAGE_EXTENSIONS))
    if not names:
      raise ValueError(f'{content}: folder has no images ({", ".join(IMAGE_EXTENSIONS)})')
    if os.path.splitext(out)[1]:
      raise ValueError(f'--out {out}: expected a folder when --content is a folder')
    return [(os.path.join(content, n), os.path.join(out, os.path.splitext(n)[0] + '.png'))
            for n in names]
  if not os.path.exists(content):
    raise FileNotFoundError(f'{content}: no such file or folder (--content)')
  return [(content, out)]


def sheet(columns) -> 'np.ndarray':
  import numpy as np
  tiles = [np.repeat(c, 3, -1) if c.shape[-1] == 1 else c for c in columns]
  gap = np.ones((tiles[0].shape[0], 8, 3), np.float32)
  return np.concatenate(sum(([t, gap] for t in tiles), [])[:-1], axis=1)


def _devices(requested: int, num_photos: int) -> list:
  """The devices that style photos at once: --devices of them (0: all local ones), at most one
  per photo."""
  import jax
  available = jax.local_devices()
  if requested < 0 or requested > len(available):
    raise ValueError(f'--devices={requested}: expected 0 (all) to {len(available)}, the number '
                     f'of local devices ({available[0].platform})')
  return available[:min(requested or len(available), num_photos)]


def run(FLAGS) -> None:
  import jax
  from nst_flax import image_io, transfer, weights
  from nst_flax import __main__ as nst_cli
  from unet_flax import predict

  cfg = FLAGS.config
  if not FLAGS.content or not FLAGS.style:
    raise ValueError('--content and --style are required')
  if not FLAGS.unet and not FLAGS.mask:
    raise ValueError('--unet <train.py workdir> is required (or --mask <mask image>)')
  jobs = _content_paths(FLAGS.content, FLAGS.out)
  devices = _devices(FLAGS.devices, len(jobs))
  mask_sides = predict.parse_sides(FLAGS.mask_side)
  cfg.guided_style = FLAGS.mode == 'guided'
  transfer.loss_spec_from_config(cfg)  # Bad layer names etc. fail before any slow work.
  nst_cli.enable_compilation_cache(cfg)
  limit = int(cfg.max_input_pixels) if cfg.max_input_pixels else None
  styles = [image_io.load_image(p, max_pixels=limit) for p in FLAGS.style]
  style_weights = nst_cli.parse_style_weights(FLAGS.style_weights, len(styles))
  # One mask per photo: compiled without GPU autotuning (seconds instead of most of a minute).
  segmenter = predict.Segmenter.from_workdir(FLAGS.unet, autotune=False) if FLAGS.unet else None
  params = weights.load_vgg19_params(cfg.weights)
  style_job = functools.partial(_style_photo, FLAGS, styles, style_weights, params, mask_sides,
                                limit)

  if len(devices) == 1:
    for content_path, out_path in jobs:
      style_job(segmenter, content_path, out_path)
    return

  # Several devices (a TPU's cores, several GPUs): one thread per device takes the next photo.
  # Everything a thread computes goes to its device (`jax.default_device` is per thread), and
  # JAX releases the GIL while a device runs, so the photos are styled at once.
  print(f'{len(jobs)} photos on {len(devices)} devices ({devices[0].platform}), one at a time '
        'each', flush=True)
  pending = queue.SimpleQueue()
  for job in jobs:
    pending.put(job)
  failed = threading.Event()

  def worker(device):
    with jax.default_device(device):
      own_segmenter = None
      if segmenter is not None:  # its variables on this device, so the U-Net runs here too
        own_segmenter = dataclasses.replace(
            segmenter, variables=jax.device_put(segmenter.variables, device))
      while not failed.is_set():
        try:
          content_path, out_path = pending.get_nowait()
        except queue.Empty:
          return
        try:
          style_job(own_segmenter, content_path, out_path, device=device)
        except BaseException:
          failed.set()  # the other threads finish their photo and stop
          raise

  with concurrent.futures.ThreadPoolExecutor(len(devices)) as pool:
    futures = [pool.submit(worker, d) for d in devices]
    try:
      for future in futures:
        future.result()  # re-raises the first error
    except KeyboardInterrupt:
      print('interrupted: finishing the photos in progress, starting no more', flush=True)
      failed.set()
      raise


def _style_photo(FLAGS, styles, style_weights, params, mask_sides, limit, segmenter,
                 content_path, out_path, device=None) -> None:
  """Mask, style transfer and composition of one photo (read at most `limit` pixels); writes
  OUT, OUT_mask, OUT_sheet."""
  import numpy as np
  from nst_flax import compose, image_io, transfer

  cfg = FLAGS.config
  name = content_path if device is None else f'{content_path} [{device}]'
  content = image_io.load_image(content_path, max_pixels=limit)
  t0 = time.perf_counter()
  if FLAGS.mask:
    mask = image_io.load_mask(FLAGS.mask, content.shape[:2])
  else:
    # The first photo compiles the U-Net for each side: seconds on a CPU, up to a minute on a
    # GPU (XLA autotunes its convolutions), so say what is happening.
    print(f'{name}: predicting the person mask (long side '
          f'{", ".join(map(str, segmenter.resolve_sides(mask_sides)))} px) ...', flush=True)
    mask = np.asarray(segmenter.photo_probability(content, mask_sides))
  t_mask = time.perf_counter() - t0
  print(f'{name}: person mask covers {100 * float((mask > 0.5).mean()):.1f}% of the '
        f'photo ({t_mask:.1f} s)', flush=True)

  t0 = time.perf_counter()
  stylized, _ = transfer.transfer_style(params, content, styles, style_weights, cfg,
                                        content_mask=mask if cfg.guided_style else None,
                                        log_prefix='' if device is None else f'{content_path} ')
  t_nst = time.perf_counter() - t0
  if stylized.shape[:2] != content.shape[:2]:  # config.size smaller than the photo
    stylized = image_io.resize_image(stylized, content.shape[:2])

  t0 = time.perf_counter()
  result = np.asarray(compose.compose(content, stylized, mask, feather=FLAGS.feather,
                                      threshold=FLAGS.threshold))
  t_compose = time.perf_counter() - t0

  os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
  stem = os.path.splitext(out_path)[0]
  image_io.save_image(out_path, result)
  image_io.save_image(stem + '_mask.png', np.repeat(mask, 3, -1))
  image_io.save_image(stem + '_sheet.png', sheet([content, mask, stylized, result]))
  print(f'wrote {out_path}, {stem}_mask.png, {stem}_sheet.png; seconds: mask {t_mask:.1f}, '
        f'style transfer {t_nst:.1f}, composition {t_compose:.2f}', flush=True)


def main(argv=None) -> int:
  from absl import flags
  from nst_flax import __main__ as nst_cli
  argv = sys.argv if argv is None else argv
  try:
    FLAGS = _define_flags()
    if nst_cli.help_requested(argv):
      return nst_cli.print_help(FLAGS, __doc__)
    FLAGS(argv)
  except Exception as e:  # Flag and --config errors: one line.
    return nst_cli.report_error(e, config_error=not isinstance(e, flags.Error))
  try:
    run(FLAGS)
  except (ValueError, OSError) as e:
    return nst_cli.report_error(e)
  except KeyboardInterrupt:
    print('interrupted (the photos written so far are complete)', file=sys.stderr)
    return 130
  return 0


if __name__ == '__main__':
  sys.exit(main())
