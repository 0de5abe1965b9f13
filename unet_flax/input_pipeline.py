"""Input pipeline for person segmentation: TFDS datasets -> random-access splits -> numpy batches.

`config.data` keys (see configs/unet_person.py):
  name: 'person_composite' | 'person_folder' | 'coco_person'
  builder_config: str | None     e.g. 'default', 'tiny' (person_composite; ignored otherwise)
  data_dir: str | None           tfds data_dir (None -> tfds default, ~/tensorflow_datasets)
  manual_dir: str | None         person_folder: the folder with images/ and masks/
  train_split: str = 'train';  eval_split: str = 'validation'
  image_size: int                square side the model sees (evaluation; training too, unless
                                 train_image_sizes is set)
  train_image_sizes: tuple = ()  several sides: each training batch's side is one of them, drawn
                                 per step (scale augmentation; evaluation stays at image_size)
  augment: bool                  train-time random resized crop + horizontal flip + colour jitter
  crop_min_area: float = 0.6     the random resized crop keeps crop_min_area-1 of the image's area
  grayscale_prob: float = 0.0    share of training examples shown in grey (no colour cue)

Batches are pure functions of (seed, step), so a resumed run sees exactly the batches an
uninterrupted one would. All bad data raises `ValueError` with one line naming the file/key/value.
"""
from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import io
import os
import queue
import threading
from typing import Any, Callable, Iterator

import numpy as np
from PIL import Image

DATASET_NAMES = ("person_composite", "person_folder", "coco_person")


def _get(cfg, key, default=None):
  try:
    value = cfg.get(key, default)
  except AttributeError:
    value = getattr(cfg, key, default)
  return default if value is None else value


def _text(v) -> str:
  if isinstance(v, bytes):
    return v.decode("utf-8")
  if isinstance(v, np.ndarray):
    return _text(v.item())
  return str(v)


def _decode_png_example(serialized: bytes) -> dict:
  """A serialized tf.train.Example of our builders -> {'image', 'mask', 'label_source'}, decoding
  the PNGs with PIL (about twice as fast as TFDS's TensorFlow decoding for one example)."""
  from tensorflow.core.example import example_pb2  # pylint: disable=g-import-not-at-top
  feature = example_pb2.Example.FromString(serialized).features.feature
  image = np.asarray(Image.open(io.BytesIO(feature["image"].bytes_list.value[0])).convert("RGB"))
  with Image.open(io.BytesIO(feature["mask"].bytes_list.value[0])) as m:
    mask = np.asarray(m)
  if mask.ndim == 2:
    mask = mask[..., None]
  label_source = feature["label_source"].bytes_list.value
  return {"image": image, "mask": mask,
          "label_source": label_source[0].decode("utf-8") if label_source else "gt"}


class Split:
  """Random-access view of one split, backed by a `tfds` array_record data source.

  `split[i]` -> {'image': uint8[H,W,3], 'mask': uint8[H,W,1] in {0,1}, 'label_source': str}.
  Decoded examples are kept in memory up to `cache_bytes` (the embedded dataset fits easily), so
  from the second epoch on reading costs nothing.
  """

  def __init__(self, source, name: str, convert: Callable[[dict], dict] | None = None,
               raw_source=None, cache_bytes: int = 1 << 30):
    self._source = source          # decoded TFDS data source (all features)
    self._raw_source = raw_source  # optional RAW_BYTES data source of the same split
    self._convert = convert
    self._cache: dict[int, dict] = {}
    self._cache_left = cache_bytes
    self._lock = threading.Lock()
    self.name = name

  def __len__(self) -> int:
    return len(self._source)

  def __getitem__(self, i: int) -> dict:
    n = len(self)
    i = int(i)
    if not -n <= i < n:
      raise IndexError(f"index {i} out of range for split {self.name} of {n} examples")
    i %= n
    ex = self._cache.get(i)
    if ex is not None:
      return ex
    if self._raw_source is not None:
      ex = _decode_png_example(self._raw_source[i])
    elif self._convert is not None:
      ex = self._convert(self._source[i])
    else:
      raw = self._source[i]
      ex = {"image": np.asarray(raw["image"]), "mask": np.asarray(raw["mask"]),
            "label_source": _text(raw.get("label_source", "gt"))}
    nbytes = ex["image"].nbytes + ex["mask"].nbytes
    with self._lock:
      if nbytes <= self._cache_left and i not in self._cache:
        self._cache[i] = ex
        self._cache_left -= nbytes
    return ex

  def preload(self, background: bool = True) -> bool:
    """Decodes every example into the cache if the whole split fits (estimated from example 0);
    in a daemon thread by default. Returns whether preloading started."""
    n = len(self)
    if n == 0:
      return False
    first = self[0]
    if (first["image"].nbytes + first["mask"].nbytes) * n * 1.25 > self._cache_left:
      return False

    def run():
      for i in range(n):
        if self._cache_left <= 0:
          return
        self[i]

    if background:
      threading.Thread(target=run, name=f"preload:{self.name}", daemon=True).start()
    else:
      run()
    return True

  def raw(self, i: int) -> dict:
    """The underlying TFDS example (all features), e.g. `id`, `person_ids`, `background_id`."""
    return self._source[int(i)]

  def __repr__(self):
    return f"Split({self.name}, {len(self)} examples)"


def _prepare_builder(builder, manual_dir=None):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  download_config = tfds.download.DownloadConfig(manual_dir=manual_dir) if manual_dir else None
  builder.download_and_prepare(download_config=download_config)


def _splits_from_builder(builder, train_split, eval_split, label):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  out = []
  for split in (train_split, eval_split):
    available = sorted(builder.info.splits.keys())
    if split not in builder.info.splits:
      raise ValueError(f"{label}: split {split!r} not found; expected one of {available}")
    source = builder.as_data_source(split=split)
    if len(source) == 0:
      raise ValueError(f"{label}: split {split!r} is empty; expected at least one example")
    raw_source = builder.as_data_source(
        split=split, deserialize_method=tfds.decode.DeserializeMethod.RAW_BYTES)
    out.append(Split(source, f"{label}:{split}", raw_source=raw_source))
  # Small datasets (the embedded one: ~120 MB decoded) are decoded once, in the background, so
  # that even the first epoch reads from memory.
  out[0].preload()
  return tuple(out)


def get_splits(data_config) -> tuple[Split, Split]:
  """Builds/prepares the TFDS dataset if needed (offline for person_composite): (train, eval)."""
  name = _get(data_config, "name", "person_composite")
  data_dir = _get(data_config, "data_dir")
  if data_dir is not None:
    data_dir = os.path.expanduser(data_dir)
  train_split = _get(data_config, "train_split", "train")
  eval_split = _get(data_config, "eval_split", "validation")

  if name == "person_composite":
    from unet_flax.datasets import person_composite  # pylint: disable=g-import-not-at-top
    config = _get(data_config, "builder_config", "default")
    known = [c.name for c in person_composite.PersonComposite.BUILDER_CONFIGS]
    if config not in known:
      raise ValueError(f"data.builder_config {config!r} is not a person_composite config; "
                       f"expected one of {known}")
    builder = person_composite.PersonComposite(config=config, data_dir=data_dir)
    _prepare_builder(builder)
    return _splits_from_builder(builder, train_split, eval_split, f"person_composite/{config}")

  if name == "person_folder":
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    from unet_flax.datasets import person_folder  # pylint: disable=g-import-not-at-top
    manual_dir = _get(data_config, "manual_dir")
    if not manual_dir:
      raise ValueError("data.manual_dir is not set; expected the path of a folder with images/ "
                       "and masks/ for data.name='person_folder'")
    manual_dir = os.path.abspath(os.path.expanduser(manual_dir))
    # Cheap checks first (missing folder, empty folder, unmatched files) with clear messages.
    person_folder.split_pairs(manual_dir)
    # One builder config per folder content, so a changed folder is rebuilt, not reused.
    config = tfds.core.BuilderConfig(
        name=f"folder_{person_folder.folder_fingerprint(manual_dir)}",
        description=f"Images and masks from {manual_dir}")
    builder = person_folder.PersonFolder(config=config, data_dir=data_dir)
    _prepare_builder(builder, manual_dir=manual_dir)
    return _splits_from_builder(builder, train_split, eval_split, f"person_folder({manual_dir})")

  if name == "coco_person":
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    from unet_flax.datasets import coco_person  # pylint: disable=g-import-not-at-top
    out = []
    for split in (train_split, eval_split):
      source = tfds.data_source(coco_person.COCO_NAME, split=split, data_dir=data_dir)
      if len(source) == 0:
        raise ValueError(f"{coco_person.COCO_NAME}: split {split!r} is empty; expected at least "
                         "one example")
      out.append(Split(source, f"{coco_person.COCO_NAME}:{split}", coco_person.to_example))
    return tuple(out)

  raise ValueError(f"unknown data.name {name!r}; expected one of {', '.join(DATASET_NAMES)}")


# ----------------------------------------------------------------------------------------------
# Per-example processing.


def _resize_pair(image: np.ndarray, mask: np.ndarray, size: int, box=None, flip: bool = False):
  """Crop `box` (x0, y0, x1, y1 in float pixels; None = whole image), resize to size x size
  (bilinear image, nearest mask) and optionally flip horizontally. Returns uint8 arrays."""
  if box is None and not flip and image.shape[0] == size and image.shape[1] == size:
    return image, mask
  img = Image.fromarray(image).resize((size, size), Image.BILINEAR, box=box)
  m = Image.fromarray(mask[..., 0]).resize((size, size), Image.NEAREST, box=box)
  if flip:
    img = img.transpose(Image.FLIP_LEFT_RIGHT)
    m = m.transpose(Image.FLIP_LEFT_RIGHT)
  return np.asarray(img), np.asarray(m)[..., None]


def _check_example(ex: dict, where: str):
  image, mask = ex["image"], ex["mask"]
  if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
    raise ValueError(f"{where}: image has shape {image.shape} dtype {image.dtype}; expected "
                     "uint8[H,W,3]")
  if mask.shape != image.shape[:2] + (1,):
    raise ValueError(f"{where}: mask has shape {mask.shape}; expected {image.shape[:2] + (1,)} "
                     "like its image")


_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclasses.dataclass(frozen=True)
class Augmentation:
  """Train-time augmentation: a random resized crop keeping `crop_min_area`-1 of the image's area
  (aspect 3/4-4/3), a horizontal flip half the time, brightness/contrast/saturation jitter, and
  with probability `grayscale_prob` the example in grey (saturation 0), so that colour alone
  (an orange suit, a red jacket) does not say "person"."""
  crop_min_area: float = 0.6
  grayscale_prob: float = 0.0

  def __post_init__(self):
    if not 0.0 < self.crop_min_area <= 1.0:
      raise ValueError(f"data.crop_min_area={self.crop_min_area}; expected a fraction in (0, 1]")
    if not 0.0 <= self.grayscale_prob <= 1.0:
      raise ValueError(f"data.grayscale_prob={self.grayscale_prob}; expected a probability in "
                       "[0, 1]")

  @classmethod
  def from_config(cls, data_config) -> "Augmentation | None":
    """The augmentation `config.data` asks for (None when data.augment is off)."""
    if not _get(data_config, "augment", False):
      return None
    return cls(crop_min_area=_get(data_config, "crop_min_area", cls.crop_min_area),
               grayscale_prob=_get(data_config, "grayscale_prob", cls.grayscale_prob))


def _augment_params(h: int, w: int, rng: np.random.Generator, augmentation: Augmentation):
  """Random resized crop box, flip, and colour factors (brightness, contrast, saturation)."""
  area = rng.uniform(augmentation.crop_min_area, 1.0) * h * w
  ratio = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
  cw = min(float(w), np.sqrt(area * ratio))
  ch = min(float(h), np.sqrt(area / ratio))
  x0 = rng.uniform(0, w - cw)
  y0 = rng.uniform(0, h - ch)
  flip = bool(rng.random() < 0.5)
  bcs = rng.uniform(0.9, 1.1, size=3)  # brightness, contrast, saturation factors
  if augmentation.grayscale_prob and rng.random() < augmentation.grayscale_prob:
    bcs[2] = 0.0
  return (x0, y0, x0 + cw, y0 + ch), flip, bcs


def _to_float(images: np.ndarray, jitter: np.ndarray | None) -> np.ndarray:
  """uint8[B,S,S,3] -> float32 in [0,1], with per-example colour jitter (B,3: brightness,
  contrast, saturation). brightness -> contrast (around the image's mean grey) -> saturation
  (towards each pixel's grey) is affine in RGB: out = x @ (k S^T) + o, S = s*I + (1-s) 1 luma^T."""
  bsz = images.shape[0]
  x = images.reshape(bsz, -1, 3).astype(np.float32)
  if jitter is None:
    x *= np.float32(1.0 / 255.0)
    return x.reshape(images.shape)
  b, c, s = (jitter[:, i].astype(np.float32) for i in range(3))
  mean_grey = (x @ _LUMA).mean(axis=1) / 255.0                                   # [B]
  eye = np.eye(3, dtype=np.float32)[None]
  sat = s[:, None, None] * eye + (1.0 - s)[:, None, None] * np.ones((1, 3, 1), np.float32) * _LUMA
  mats = (b * c / 255.0)[:, None, None] * np.swapaxes(sat, 1, 2)                 # [B,3,3]
  offset = ((1.0 - c) * b * mean_grey).astype(np.float32)[:, None, None]
  out = np.matmul(x, mats.astype(np.float32))
  out += offset
  np.clip(out, 0.0, 1.0, out=out)
  return out.reshape(images.shape)


def _load_resized(split, idx: int, size: int, rng: np.random.Generator | None,
                  augmentation: Augmentation | None = None):
  """(uint8 image [S,S,3], uint8 mask [S,S,1], jitter factors or None) for one example;
  augmented (with `rng`) when `augmentation` is given."""
  where = f"{getattr(split, 'name', 'split')}[{idx}]"
  ex = split[int(idx)]
  _check_example(ex, where)
  if augmentation is None:
    image, mask = _resize_pair(ex["image"], ex["mask"], size)
    return image, mask, None
  box, flip, bcs = _augment_params(ex["image"].shape[0], ex["image"].shape[1], rng, augmentation)
  image, mask = _resize_pair(ex["image"], ex["mask"], size, box=box, flip=flip)
  return image, mask, bcs


_POOL = None
_POOL_LOCK = threading.Lock()


def _pool():
  """Small thread pool for per-example decoding/resizing (PIL and numpy release the GIL)."""
  global _POOL
  with _POOL_LOCK:
    if _POOL is None:
      _POOL = concurrent.futures.ThreadPoolExecutor(
          max_workers=max(1, min(4, os.cpu_count() or 1)), thread_name_prefix="input_pipeline")
  return _POOL


def _make_batch(split, indices, size: int, rngs,
                augmentation: Augmentation | None = None) -> tuple[np.ndarray, np.ndarray]:
  bsz = len(indices)
  images = np.zeros((bsz, size, size, 3), np.uint8)
  masks = np.zeros((bsz, size, size, 1), np.uint8)
  results = list(_pool().map(lambda a: _load_resized(split, a[0], size, a[1], augmentation),
                             zip(indices, rngs)))
  for j, (image, mask, _) in enumerate(results):
    images[j], masks[j] = image, mask
  jitter = None
  if any(r[2] is not None for r in results):
    jitter = np.stack([r[2] if r[2] is not None else np.ones(3) for r in results])
  return _to_float(images, jitter), masks.astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Batches.

_PERM_CACHE: "collections.OrderedDict[tuple, np.ndarray]" = collections.OrderedDict()
_PERM_LOCK = threading.Lock()


def _epoch_permutation(seed: int, epoch: int, n: int) -> np.ndarray:
  key = (seed, epoch, n)
  with _PERM_LOCK:
    perm = _PERM_CACHE.get(key)
    if perm is None:
      perm = np.random.default_rng([seed, epoch]).permutation(n)
      _PERM_CACHE[key] = perm
      while len(_PERM_CACHE) > 4:
        _PERM_CACHE.popitem(last=False)
  return perm


def train_indices(n: int, step: int, batch_size: int, seed: int) -> np.ndarray:
  """Dataset indices of the batch at global step `step` (epoch-wise permutations, seeded by
  (seed, epoch)); batches may straddle an epoch boundary."""
  positions = step * batch_size + np.arange(batch_size)
  epochs, offsets = np.divmod(positions, n)
  return np.array([_epoch_permutation(seed, int(e), n)[o] for e, o in zip(epochs, offsets)])


def train_sides(data_config) -> tuple[int, ...]:
  """The sides training batches are drawn at: `train_image_sizes`, or (`image_size`,)."""
  sides = tuple(_get(data_config, "train_image_sizes", ()) or ()) or (data_config.image_size,)
  if not all(isinstance(s, int) and s > 0 for s in sides):
    raise ValueError(f"data.train_image_sizes={sides}; expected positive integer sides")
  return tuple(sorted(set(sides)))


def batch_side(image_size: int | tuple[int, ...], step: int, seed: int) -> int:
  """The side of the training batch at `step`: `image_size`, or one of several sides drawn
  uniformly as a pure function of (seed, step)."""
  if isinstance(image_size, (int, np.integer)):
    return int(image_size)
  sides = tuple(image_size)
  return int(sides[np.random.default_rng([seed, step]).integers(len(sides))])


def train_batch(split, step: int, batch_size: int, image_size: int | tuple[int, ...], seed: int,
                augment: bool | Augmentation | None) -> dict:
  """The batch for global training step `step`, a pure function of (seed, step). `augment`:
  an Augmentation, True (the default Augmentation) or False / None (none). `image_size`: the
  side S, or several sides, one of which is drawn for this step (`batch_side`).

  Returns {'image': float32[B,S,S,3] in [0,1], 'mask': float32[B,S,S,1] in {0,1}}.
  """
  n = len(split)
  if n == 0:
    raise ValueError(f"{getattr(split, 'name', 'split')}: split is empty; expected at least one "
                     "example")
  if step < 0 or seed < 0:
    raise ValueError(f"step={step}, seed={seed}; expected non-negative integers")
  indices = train_indices(n, step, batch_size, seed)
  augmentation = Augmentation() if augment is True else augment or None
  rngs = [np.random.default_rng([seed, step, j]) if augmentation else None
          for j in range(batch_size)]
  images, masks = _make_batch(split, indices, batch_side(image_size, step, seed), rngs,
                              augmentation)
  return {"image": images, "mask": masks}


def train_batches(split, start_step: int, batch_size: int, image_size: int | tuple[int, ...],
                  seed: int, augment: bool | Augmentation | None,
                  prefetch: int = 2) -> Iterator[dict]:
  """Yields train_batch(split, s, ...) for s = start_step, start_step + 1, ... (prefetched in a
  background thread; errors there are re-raised here)."""
  if prefetch <= 0:
    step = start_step
    while True:
      yield train_batch(split, step, batch_size, image_size, seed, augment)
      step += 1

  q: queue.Queue = queue.Queue(maxsize=prefetch)
  stop = threading.Event()

  def producer():
    step = start_step
    while not stop.is_set():
      try:
        item: Any = train_batch(split, step, batch_size, image_size, seed, augment)
      except BaseException as e:  # pylint: disable=broad-except
        item = e
      while not stop.is_set():
        try:
          q.put(item, timeout=0.1)
          break
        except queue.Full:
          continue
      if isinstance(item, BaseException):
        return
      step += 1

  thread = threading.Thread(target=producer, name="train_batches", daemon=True)
  thread.start()
  try:
    while True:
      item = q.get()
      if isinstance(item, BaseException):
        raise item
      yield item
  finally:
    stop.set()


def eval_batches(split, batch_size: int, image_size: int) -> Iterator[dict]:
  """One pass over the split in order. The last batch is padded to `batch_size` with zeros and
  'valid' (bool[B]) marks the real examples; 'label_source' (str[B], '' for padding) says whose
  labels each example has ('gt' or 'pseudo'), for the host only."""
  n = len(split)
  if n == 0:
    raise ValueError(f"{getattr(split, 'name', 'split')}: split is empty; expected at least one "
                     "example")
  for start in range(0, n, batch_size):
    indices = list(range(start, min(n, start + batch_size)))
    real_images, real_masks = _make_batch(split, indices, image_size, [None] * len(indices))
    images = np.zeros((batch_size, image_size, image_size, 3), np.float32)
    masks = np.zeros((batch_size, image_size, image_size, 1), np.float32)
    valid = np.zeros((batch_size,), bool)
    images[:len(indices)], masks[:len(indices)], valid[:len(indices)] = real_images, real_masks, True
    label_source = np.array([split[i]["label_source"] for i in indices]
                            + [""] * (batch_size - len(indices)))
    yield {"image": images, "mask": masks, "valid": valid, "label_source": label_source}
