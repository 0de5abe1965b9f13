"""The project's image I/O: read any common image as float32 RGB in [0, 1], write one back.

`load_image` accepts what users actually have on disk: JPEG with an EXIF rotation, grayscale,
grayscale+alpha, RGBA (composited on white), palette images (with or without transparency),
16-bit and 32-bit-integer PNG/TIFF, float TIFF, CMYK. Anything it cannot use raises a
`FileNotFoundError` or `ValueError` whose message is one line that names the file and what was
expected, so a CLI can print it as is.
"""
from __future__ import annotations

import os
from typing import Optional, Tuple

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ['load_image', 'save_image', 'to_uint8', 'resize_image', 'fit_max_side']

# PIL refuses images above ~179 MP by default ("decompression bomb"); we check our own limit.
Image.MAX_IMAGE_PIXELS = None


def _to_float_rgb(img: Image.Image, path: str, background: Tuple[float, float, float]):
  """Converts a PIL image of any mode to float32 [H, W, 3] in [0, 1]."""
  mode = img.mode
  if mode == 'P':
    # Palette: expand; keeps transparency if the palette has it.
    img = img.convert('RGBA' if 'transparency' in img.info else 'RGB')
    mode = img.mode
  if mode in ('1', 'L', 'RGB', 'RGBA', 'LA', 'CMYK', 'YCbCr', 'LAB', 'HSV', 'La', 'RGBa', 'RGBX'):
    if mode in ('LA', 'La'):
      img = img.convert('RGBA')
    elif mode in ('CMYK', 'YCbCr', 'LAB', 'HSV', '1', 'L', 'RGBX'):
      img = img.convert('RGB')
    elif mode == 'RGBa':
      img = img.convert('RGBA')
    arr = np.asarray(img).astype(np.float32) / 255.0
  elif mode in ('I;16', 'I;16B', 'I;16L', 'I;16N'):
    arr = np.asarray(img).astype(np.float32) / 65535.0
    arr = np.repeat(arr[..., None], 3, axis=-1)
  elif mode == 'I':
    raw = np.asarray(img).astype(np.float64)
    # PIL opens 16-bit grayscale PNGs as mode "I": decide the range by the values.
    peak = 65535.0 if raw.max(initial=0) > 255 else 255.0
    if raw.max(initial=0) > 65535:
      peak = float(raw.max())
    arr = (np.clip(raw, 0, None) / peak).astype(np.float32)
    arr = np.repeat(arr[..., None], 3, axis=-1)
  elif mode == 'F':
    raw = np.asarray(img).astype(np.float32)
    lo, hi = float(np.nanmin(raw)), float(np.nanmax(raw))
    if lo < 0.0 or hi > 1.0:
      raw = (raw - lo) / max(hi - lo, 1e-12)
    arr = np.repeat(np.nan_to_num(raw)[..., None], 3, axis=-1)
  elif mode.startswith('I;16') or mode.startswith('I;'):
    arr = np.asarray(img.convert('I')).astype(np.float32) / 65535.0
    arr = np.repeat(arr[..., None], 3, axis=-1)
  else:
    try:
      arr = np.asarray(img.convert('RGB')).astype(np.float32) / 255.0
    except Exception as e:  # pragma: no cover - exotic modes
      raise ValueError(f'{path}: unsupported image mode {mode!r}; expected an RGB, '
                       f'grayscale, palette or RGBA image') from e
  if arr.ndim == 3 and arr.shape[-1] == 4:
    rgb, alpha = arr[..., :3], arr[..., 3:4]
    bg = np.asarray(background, np.float32).reshape(1, 1, 3)
    arr = rgb * alpha + bg * (1.0 - alpha)
  if arr.ndim != 3 or arr.shape[-1] != 3:
    raise ValueError(f'{path}: could not convert image of mode {mode!r} to RGB')
  return np.clip(arr, 0.0, 1.0).astype(np.float32)


def load_image(path, max_pixels: Optional[int] = None,
               background: Tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
  """Loads an image file as float32 RGB [H, W, 3] in [0, 1].

  Args:
    path: file path (str or os.PathLike).
    max_pixels: if given, an image with more than this many pixels (H*W) raises ValueError.
    background: RGB in [0, 1] that transparent pixels are composited onto (default white).

  Raises:
    FileNotFoundError: no such file.
    ValueError: not a readable image, too small (under 2x2), or above `max_pixels`.
  """
  path = os.fspath(path)
  if not os.path.exists(path):
    raise FileNotFoundError(f'{path}: no such file (expected an image file: PNG, JPEG, ...)')
  if os.path.isdir(path):
    raise ValueError(f'{path}: is a directory, expected an image file')
  try:
    with Image.open(path) as img:
      img.load()
      w, h = img.size
      if max_pixels is not None and w * h > max_pixels:
        raise ValueError(f'{path}: image is {w}x{h} = {w * h} pixels, above the limit of '
                         f'{max_pixels} pixels (raise the limit or downscale the image)')
      try:
        img = ImageOps.exif_transpose(img)
      except Exception:  # broken EXIF: keep the stored orientation
        pass
      arr = _to_float_rgb(img, path, background)
  except (UnidentifiedImageError, SyntaxError) as e:
    raise ValueError(f'{path}: not a readable image file (expected PNG, JPEG, BMP, TIFF, '
                     f'WebP or GIF)') from e
  except OSError as e:
    raise ValueError(f'{path}: could not read image ({e}); expected a valid image file') from e
  if arr.shape[0] < 2 or arr.shape[1] < 2:
    raise ValueError(f'{path}: image is {arr.shape[1]}x{arr.shape[0]} pixels; expected at '
                     f'least 2x2 (ideally 64x64 or more)')
  return arr


def to_uint8(array01) -> np.ndarray:
  """float [0, 1] (any shape) -> uint8 with rounding; NaNs become 0."""
  a = np.nan_to_num(np.asarray(array01, np.float32), nan=0.0)
  return (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def save_image(path, array01, quality: int = 95) -> None:
  """Writes float RGB [H, W, 3] (or [H, W] / [H, W, 1]) in [0, 1] to `path`.

  The format follows the extension (PNG, JPEG, ...); parent directories are created.
  """
  path = os.fspath(path)
  a = np.asarray(array01)
  if a.ndim == 4 and a.shape[0] == 1:
    a = a[0]
  if a.ndim == 3 and a.shape[-1] == 1:
    a = a[..., 0]
  if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)):
    raise ValueError(f'{path}: cannot save array of shape {a.shape}; expected [H, W, 3]')
  parent = os.path.dirname(os.path.abspath(path))
  os.makedirs(parent, exist_ok=True)
  img = Image.fromarray(to_uint8(a))
  ext = os.path.splitext(path)[1].lower()
  kwargs = {}
  if ext in ('.jpg', '.jpeg'):
    if img.mode == 'RGBA':
      img = img.convert('RGB')
    kwargs = {'quality': quality}
  try:
    img.save(path, **kwargs)
  except (KeyError, ValueError) as e:
    raise ValueError(f'{path}: cannot write this file type ({e}); use .png or .jpg') from e


def fit_max_side(h: int, w: int, max_side: int) -> Tuple[int, int]:
  """(h, w) scaled so that the longer side is `max_side` (never below 1), aspect kept."""
  s = max_side / max(h, w)
  return max(1, int(round(h * s))), max(1, int(round(w * s)))


def resize_image(array01, size_hw: Tuple[int, int]) -> np.ndarray:
  """Resizes float RGB [H, W, 3] to (h, w) with a good filter (Lanczos down, bicubic up)."""
  a = np.asarray(array01, np.float32)
  h, w = int(size_hw[0]), int(size_hw[1])
  if a.shape[:2] == (h, w):
    return a
  out = np.empty((h, w, a.shape[2]), np.float32)
  down = h * w < a.shape[0] * a.shape[1]
  resample = Image.LANCZOS if down else Image.BICUBIC
  for c in range(a.shape[2]):
    ch = Image.fromarray(a[..., c].astype(np.float32), mode='F')
    out[..., c] = np.asarray(ch.resize((w, h), resample=resample))
  return np.clip(out, 0.0, 1.0)


def load_mask(path, size_hw: Tuple[int, int]) -> np.ndarray:
  """A mask image (white = 1) as float32 [h, w, 1] in [0, 1], resized to `size_hw`."""
  return resize_image(load_image(path), size_hw).mean(-1, keepdims=True)
