"""Person-preserving style transfer of photos: person mask, style transfer, composition, files.

    styling = pipeline.Styling.from_files(config, ['painting.jpg'])
    masks = predict.Segmenter.from_workdir(workdir, autotune=False).photo_masks()  # unet_flax
    jobs = pipeline.photo_jobs('photos/', 'out/')
    pipeline.style_photos(styling, jobs, masks, pipeline.select_devices(0, len(jobs)))

For each photo `style_photo` predicts the person mask at the photo's own resolution (or reads
`Styling.mask_file`), runs the VGG19 style transfer (`transfer.transfer_style`; with
`config.guided_style` the people neither receive nor distort the style statistics), composes
`m * photo + (1 - m) * stylized` and writes OUT, OUT_mask.png and OUT_sheet.png
(photo | mask | stylized | result). `style_photos` styles several photos at once where there are
several devices (a TPU's cores, several GPUs): one thread per device, each taking the next photo.

The mask predictor is passed in (a `MaskPredictor`, e.g. `unet_flax.predict.PhotoMasks`), so
that this package does not depend on the segmentation one.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import queue
import threading
import time
from typing import Optional, Protocol, Sequence

import jax
import ml_collections
import numpy as np

from nst_flax import compilation_cache
from nst_flax import compose
from nst_flax import image_io
from nst_flax import transfer
from nst_flax import weights

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


class MaskPredictor(Protocol):
  """Person masks of whole photos (what `style_photo` needs of a segmenter)."""

  description: str  # for the progress line: 'long side 160, 224 px'

  def __call__(self, photo: np.ndarray) -> np.ndarray:
    """Person probability [H, W, 1] in [0, 1] of a photo [H, W, 3] in [0, 1]."""

  def on_device(self, device) -> 'MaskPredictor':
    """The same predictor, computing on `device`."""


@dataclasses.dataclass(frozen=True)
class Styling:
  """What every photo of a run shares: the style transfer and the composition settings."""
  config: ml_collections.ConfigDict  # nst_flax.config; `guided_style` picks guided or post
  params: dict  # VGG19 params (`weights.load_vgg19_params`)
  styles: Sequence[np.ndarray]  # RGB [h, w, 3] in [0, 1]
  style_weights: Optional[Sequence[float]] = None  # blend of the styles (None: equal)
  feather: float = 3.0  # soft edge of the mask, in pixels
  threshold: Optional[float] = None  # binarise the mask at this probability first
  mask_file: Optional[str] = None  # one mask image for every photo instead of predicted ones

  @classmethod
  def from_files(cls, config: ml_collections.ConfigDict, style_paths: Sequence[str],
                 style_weights: Optional[Sequence[float]] = None, *, feather: float = 3.0,
                 threshold: Optional[float] = None,
                 mask_file: Optional[str] = None) -> 'Styling':
    """Checks `config` (bad layer names etc. fail before any slow work), turns on JAX's
    compilation cache (if `config.compilation_cache`), reads the style images and loads the
    VGG19 weights `config.weights`."""
    transfer.loss_spec_from_config(config)
    if config.compilation_cache:
      compilation_cache.enable_compilation_cache()
    styles = [image_io.load_image(p, max_pixels=max_pixels(config)) for p in style_paths]
    return cls(config, weights.load_vgg19_params(config.weights), styles, style_weights,
               feather, threshold, mask_file)


def max_pixels(config: ml_collections.ConfigDict) -> Optional[int]:
  """The most pixels an input image is read at (`config.max_input_pixels`; None: any)."""
  return int(config.max_input_pixels) if config.max_input_pixels else None


def photo_jobs(content: str, out: str) -> list[tuple[str, str]]:
  """[(input image, output path)] for a file or a folder of images (then `out` is a folder)."""
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


def select_devices(requested: int, num_photos: int) -> list:
  """The devices that style photos at once: `requested` of them (0: all local ones), at most one
  per photo."""
  available = jax.local_devices()
  if requested < 0 or requested > len(available):
    raise ValueError(f'--devices={requested}: expected 0 (all) to {len(available)}, the number '
                     f'of local devices ({available[0].platform})')
  return available[:min(requested or len(available), num_photos)]


def sheet(columns) -> np.ndarray:
  """Images side by side (masks [H, W, 1] as grey), 8 white pixels apart."""
  tiles = [np.repeat(c, 3, -1) if c.shape[-1] == 1 else c for c in columns]
  gap = np.ones((tiles[0].shape[0], 8, 3), np.float32)
  return np.concatenate(sum(([t, gap] for t in tiles), [])[:-1], axis=1)


def style_photo(styling: Styling, masks: Optional[MaskPredictor], content_path: str,
                out_path: str, device=None) -> None:
  """Mask, style transfer and composition of one photo; writes OUT, OUT_mask, OUT_sheet.

  `masks` predicts the person mask unless `styling.mask_file` gives it; `device` (where several
  photos are styled at once) names the photo's device in the progress lines.
  """
  cfg = styling.config
  name = content_path if device is None else f'{content_path} [{device}]'
  content = image_io.load_image(content_path, max_pixels=max_pixels(cfg))
  t0 = time.perf_counter()
  if styling.mask_file:
    mask = image_io.load_mask(styling.mask_file, content.shape[:2])
  elif masks is None:
    raise ValueError('no person mask: give a mask predictor or a mask file')
  else:
    # The first photo compiles the U-Net for each side: seconds on a CPU, up to a minute on a
    # GPU (XLA autotunes its convolutions), so say what is happening.
    print(f'{name}: predicting the person mask ({masks.description}) ...', flush=True)
    mask = np.asarray(masks(content))
  t_mask = time.perf_counter() - t0
  print(f'{name}: person mask covers {100 * float((mask > 0.5).mean()):.1f}% of the '
        f'photo ({t_mask:.1f} s)', flush=True)

  t0 = time.perf_counter()
  stylized, _ = transfer.transfer_style(styling.params, content, styling.styles,
                                        styling.style_weights, cfg,
                                        content_mask=mask if cfg.guided_style else None,
                                        log_prefix='' if device is None else f'{content_path} ')
  t_nst = time.perf_counter() - t0
  if stylized.shape[:2] != content.shape[:2]:  # config.size smaller than the photo
    stylized = image_io.resize_image(stylized, content.shape[:2])

  t0 = time.perf_counter()
  result = np.asarray(compose.compose(content, stylized, mask, feather=styling.feather,
                                      threshold=styling.threshold))
  t_compose = time.perf_counter() - t0

  os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
  stem = os.path.splitext(out_path)[0]
  image_io.save_image(out_path, result)
  image_io.save_image(stem + '_mask.png', np.repeat(mask, 3, -1))
  image_io.save_image(stem + '_sheet.png', sheet([content, mask, stylized, result]))
  print(f'wrote {out_path}, {stem}_mask.png, {stem}_sheet.png; seconds: mask {t_mask:.1f}, '
        f'style transfer {t_nst:.1f}, composition {t_compose:.2f}', flush=True)


def style_photos(styling: Styling, jobs: Sequence[tuple[str, str]],
                 masks: Optional[MaskPredictor] = None, devices: Optional[Sequence] = None) -> None:
  """`style_photo` for every (photo, output path) of `jobs`: one after the other on one device
  (default: the default device), else one thread per device, each taking the next photo.

  The first error stops the run: the other threads finish their photo and start no more, and
  the error is raised again here.
  """
  if not devices or len(devices) == 1:
    for content_path, out_path in jobs:
      style_photo(styling, masks, content_path, out_path)
    return

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
      # The predictor's variables on this device, so that it runs here too.
      own_masks = None if masks is None else masks.on_device(device)
      while not failed.is_set():
        try:
          content_path, out_path = pending.get_nowait()
        except queue.Empty:
          return
        try:
          style_photo(styling, own_masks, content_path, out_path, device=device)
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
