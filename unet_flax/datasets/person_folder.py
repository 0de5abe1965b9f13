"""`person_folder`: a user's own folder of photos and person masks (e.g. Kaggle's Supervisely set).

Layout (`manual_dir`):

    my_people/                     or    my_people/
      images/  a.jpg b.png ...             train/images/ ...  train/masks/ ...
      masks/   a.png b.png ...             val/images/   ...  val/masks/   ...   (or validation/)

Images and masks are matched by file stem (`images/a.jpg` <-> `masks/a.png`; `masks/a_mask.png`
is accepted too). Masks are single-channel PNGs (or equal-channel RGB) with values 0/1 or 0/255, or
palette PNGs whose indices are 0/1 (0 = background, 1 = person); the encoding is detected per file
and validated. Without `train/` + `val/` subfolders, each pair goes to validation iff
sha1(image file name) mod 10 == 0 (a deterministic ~90/10 split by file name).

Every problem (corrupt image, mask size != image size, unexpected mask values, image without mask,
mask without image, empty folder) raises a `ValueError` with one line naming the file and what was
expected.
"""
from __future__ import annotations

import hashlib
import os
from typing import Iterator

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image, ImageOps

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')
MASK_EXTENSIONS = ('.png', '.bmp', '.tif', '.tiff', '.gif')
VALIDATION_DIR_NAMES = ('val', 'validation')

MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put your data in one folder and pass it as `manual_dir` (config.data.manual_dir):
  <folder>/images/<name>.jpg|png  and  <folder>/masks/<name>.png   (matched by file stem)
or, to choose the split yourself:
  <folder>/train/images, <folder>/train/masks, <folder>/val/images, <folder>/val/masks.
Masks: 0/1 or 0/255 single-channel PNG, or a palette PNG with indices 0 (background) / 1 (person).
"""


def _list_files(folder: str, extensions) -> dict[str, str]:
  """{stem: path} of the files in `folder` with one of `extensions` (case-insensitive)."""
  out = {}
  for name in sorted(os.listdir(folder)):
    stem, ext = os.path.splitext(name)
    if name.startswith('.') or ext.lower() not in extensions:
      continue
    path = os.path.join(folder, name)
    if stem in out:
      raise ValueError(f'{path}: two files with the stem {stem!r} ({os.path.basename(out[stem])} '
                       f'and {name}); expected one file per name')
    out[stem] = path
  return out


def pair_files(root: str) -> list[tuple[str, str]]:
  """[(image_path, mask_path)] of `root/images` and `root/masks`, matched by stem."""
  images_dir, masks_dir = os.path.join(root, 'images'), os.path.join(root, 'masks')
  for d in (images_dir, masks_dir):
    if not os.path.isdir(d):
      raise ValueError(f'{d}: folder not found; expected {root} to hold images/ and masks/')
  images = _list_files(images_dir, IMAGE_EXTENSIONS)
  masks = _list_files(masks_dir, MASK_EXTENSIONS)
  if not images:
    raise ValueError(f'{images_dir}: no images found; expected files ending in '
                     f"{', '.join(IMAGE_EXTENSIONS)}")
  pairs, used = [], set()
  for stem, image_path in images.items():
    mask_stem = stem if stem in masks else (f'{stem}_mask' if f'{stem}_mask' in masks else None)
    if mask_stem is None:
      raise ValueError(f'{image_path}: image has no mask; expected {masks_dir}/{stem}.png')
    used.add(mask_stem)
    pairs.append((image_path, masks[mask_stem]))
  for stem in sorted(set(masks) - used):
    raise ValueError(f'{masks[stem]}: mask has no image; expected {images_dir}/{stem}.jpg or .png')
  return pairs


def load_image(path: str, exif_transpose: bool = False) -> np.ndarray:
  """uint8[H,W,3] RGB; ValueError naming the file if it cannot be decoded."""
  try:
    with Image.open(path) as im:
      im.load()
      if exif_transpose:
        im = ImageOps.exif_transpose(im)
      im = im.convert('RGB')
      return np.asarray(im, np.uint8)
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(f'{path}: cannot decode image ({type(e).__name__}: {e}); '
                     'expected a readable JPEG/PNG/BMP/WebP/TIFF file') from None


def load_mask(path: str, expected_hw: tuple[int, int] | None = None) -> np.ndarray:
  """uint8[H,W,1] in {0,1}. Accepts 0/1 or 0/255 grey, equal-channel RGB, or palette indices 0/1."""
  try:
    with Image.open(path) as im:
      im.load()
      mode = im.mode
      arr = np.asarray(im)
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(f'{path}: cannot decode mask ({type(e).__name__}: {e}); '
                     'expected a readable PNG mask') from None
  if arr.ndim == 3:
    if mode in ('LA', 'RGBA'):
      arr = arr[..., :-1]
    if not all(np.array_equal(arr[..., 0], arr[..., c]) for c in range(1, arr.shape[-1])):
      raise ValueError(f'{path}: colour mask (mode {mode}) with differing channels; expected a '
                       'single-channel 0/1 or 0/255 mask or a palette PNG with indices 0/1')
    arr = arr[..., 0]
  if expected_hw is not None and tuple(arr.shape[:2]) != tuple(expected_hw):
    raise ValueError(f'{path}: mask is {arr.shape[1]}x{arr.shape[0]} (WxH); expected '
                     f'{expected_hw[1]}x{expected_hw[0]} like its image')
  if arr.dtype == bool:
    return arr.astype(np.uint8)[..., None]
  values = np.unique(arr)
  vals = set(values.tolist())
  if mode == 'P':
    if vals <= {0, 1}:
      return arr.astype(np.uint8)[..., None]
    expected = 'palette indices 0 (background) and 1 (person)'
  elif vals <= {0, 1}:
    return arr.astype(np.uint8)[..., None]
  elif vals <= {0, 255}:
    return (arr == 255).astype(np.uint8)[..., None]
  else:
    expected = '0/1 or 0/255 (or a palette PNG with indices 0/1)'
  shown = ', '.join(str(v) for v in values[:8]) + (', ...' if len(values) > 8 else '')
  raise ValueError(f'{path}: mask has values {{{shown}}}; expected {expected}')


def is_validation(name: str) -> bool:
  """Deterministic ~10% hash split by file name."""
  return int(hashlib.sha1(name.encode('utf-8')).hexdigest(), 16) % 10 == 0


def split_pairs(root: str) -> dict[str, list[tuple[str, str]]]:
  """{'train': pairs, 'validation': pairs} for a user folder (see module docstring)."""
  root = os.fspath(root)
  if not os.path.isdir(root):
    raise ValueError(f'{root}: folder not found; expected a folder with images/ and masks/')
  val_dirs = [d for d in VALIDATION_DIR_NAMES if os.path.isdir(os.path.join(root, d))]
  if os.path.isdir(os.path.join(root, 'train')) and val_dirs:
    return {'train': pair_files(os.path.join(root, 'train')),
            'validation': pair_files(os.path.join(root, val_dirs[0]))}
  pairs = pair_files(root)
  splits = {'train': [], 'validation': []}
  for p in pairs:
    splits['validation' if is_validation(os.path.basename(p[0])) else 'train'].append(p)
  if not splits['validation'] and len(pairs) >= 2:
    # Tiny folders: move the pair with the smallest hash so validation is never empty.
    first = min(pairs, key=lambda p: hashlib.sha1(os.path.basename(p[0]).encode()).hexdigest())
    splits['train'].remove(first)
    splits['validation'].append(first)
  return splits


def folder_fingerprint(root: str) -> str:
  """Short hash of the folder's path, file names, sizes and mtimes (to rebuild when it changes)."""
  h = hashlib.sha1(os.path.abspath(root).encode())
  for dirpath, dirnames, filenames in sorted(os.walk(root)):
    dirnames.sort()
    for f in sorted(filenames):
      st = os.stat(os.path.join(dirpath, f))
      h.update(f'{os.path.relpath(os.path.join(dirpath, f), root)}|{st.st_size}|{st.st_mtime_ns}'
               .encode())
  return h.hexdigest()[:12]


def load_pair(image_path: str, mask_path: str) -> tuple[np.ndarray, np.ndarray]:
  """(uint8[H,W,3], uint8[H,W,1] in {0,1}). Photos with an EXIF rotation are used as stored, or as
  displayed if (only) that matches the mask's size."""
  image = load_image(image_path)
  try:
    with Image.open(mask_path) as m:
      mask_hw = (m.height, m.width)
  except Exception:  # pylint: disable=broad-except
    mask_hw = image.shape[:2]  # load_mask reports the unreadable mask
  if mask_hw != image.shape[:2]:
    rotated = load_image(image_path, exif_transpose=True)
    if rotated.shape[:2] == mask_hw:
      image = rotated
  return image, load_mask(mask_path, image.shape[:2])


class PersonFolder(tfds.core.GeneratorBasedBuilder):
  """A user's folder of images and binary person masks."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release: images/ + masks/ folders, 0/1, 0/255 or palette masks.'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS

  def __init__(self, *, file_format=None, **kwargs):
    super().__init__(file_format=file_format or 'array_record', **kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        description=__doc__,
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(shape=(None, None, 3), dtype=np.uint8,
                                         encoding_format='png'),
            'mask': tfds.features.Image(shape=(None, None, 1), dtype=np.uint8,
                                        encoding_format='png'),
            'label_source': tfds.features.Text(),
            'id': tfds.features.Text(),
        }),
        supervised_keys=('image', 'mask'),
    )

  def _split_generators(self, dl_manager):
    splits = split_pairs(dl_manager.manual_dir)
    # Validate everything before writing anything, so a bad file fails fast with its name.
    for pairs in splits.values():
      for image_path, mask_path in pairs:
        load_pair(image_path, mask_path)
    return {name: self._generate_examples(pairs) for name, pairs in splits.items()}

  def _generate_examples(self, pairs) -> Iterator[tuple[str, dict]]:
    for image_path, mask_path in pairs:
      image, mask = load_pair(image_path, mask_path)
      key = os.path.splitext(os.path.basename(image_path))[0]
      yield key, {'image': image, 'mask': mask, 'label_source': 'gt', 'id': key}
