"""Input pipeline for person segmentation: TFDS array_record data sources -> Grain -> numpy batches.

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
  crop_max_aspect: float = 4/3   its aspect ratio is drawn from 1/crop_max_aspect-crop_max_aspect,
                                 and it is resized to a square (so shapes are stretched that much)
  grayscale_prob: float = 0.0    share of training examples shown in grey (no colour cue)
  worker_count: int = 0          Grain worker processes decoding and augmenting training batches
                                 (0: threads of the training process)
  keep_without_people: float = 1 coco_person: share of the images without people kept (both
                                 splits; all images with people are kept)

Batches are pure functions of (seed, step), so a resumed run sees exactly the batches an
uninterrupted one would; the loader's iterator state is saved with every train checkpoint
(`TrainBatches`). With several JAX processes each reads only its rows of every global batch.
All bad data raises `ValueError` with one line naming the file/key/value.
"""
from __future__ import annotations

import dataclasses
import io
import json
import os
import threading
import time
from typing import Any, Callable, Iterator

import numpy as np
from PIL import Image

DATASET_NAMES = ('person_composite', 'person_folder', 'coco_person')
# Whose labels an example has ('' for evaluation padding), sorted.
LABEL_SOURCES = ('', 'gt', 'pseudo')


def _get(cfg, key, default=None):
  try:
    value = cfg.get(key, default)
  except AttributeError:
    value = getattr(cfg, key, default)
  return default if value is None else value


def _text(v) -> str:
  if isinstance(v, bytes):
    return v.decode('utf-8')
  if isinstance(v, np.ndarray):
    return _text(v.item())
  return str(v)


def _decode_png_example(serialized: bytes) -> dict:
  """A serialized tf.train.Example of our builders -> {'image', 'mask', 'label_source'}, decoding
  the PNGs with PIL (about twice as fast as TFDS's TensorFlow decoding for one example)."""
  from tensorflow.core.example import example_pb2  # pylint: disable=g-import-not-at-top
  feature = example_pb2.Example.FromString(serialized).features.feature
  image = np.asarray(Image.open(io.BytesIO(feature['image'].bytes_list.value[0])).convert('RGB'))
  with Image.open(io.BytesIO(feature['mask'].bytes_list.value[0])) as m:
    mask = np.asarray(m)
  if mask.ndim == 2:
    mask = mask[..., None]
  label_source = feature['label_source'].bytes_list.value
  return {'image': image, 'mask': mask,
          'label_source': label_source[0].decode('utf-8') if label_source else 'gt'}


class Split:
  """Random-access view of one split, backed by a `tfds` array_record data source.

  `split[i]` -> {'image': uint8[H,W,3], 'mask': uint8[H,W,1] in {0,1}, 'label_source': str}.
  Nothing is cached: every read decodes the example again, so memory stays bounded by the
  loader's buffers however large the split (COCO's 118k JPEGs). Picklable, for Grain's worker
  processes.
  """

  def __init__(self, source, name: str, convert: Callable[[dict], dict] | None = None,
               raw_source=None, indices: np.ndarray | None = None):
    self._source = source          # decoded TFDS data source (all features)
    self._raw_source = raw_source  # optional RAW_BYTES data source of the same split
    self._convert = convert
    self._indices = indices        # the source's examples this split keeps (None: all)
    self.name = name

  def __len__(self) -> int:
    return len(self._source) if self._indices is None else len(self._indices)

  def __getitem__(self, i: int) -> dict:
    n = len(self)
    i = int(i)
    if not -n <= i < n:
      raise IndexError(f'index {i} out of range for split {self.name} of {n} examples')
    i %= n
    if self._indices is not None:
      i = int(self._indices[i])
    if self._raw_source is not None:
      return _decode_png_example(self._raw_source[i])
    if self._convert is not None:
      return self._convert(self._source[i])
    raw = self._source[i]
    return {'image': np.asarray(raw['image']), 'mask': np.asarray(raw['mask']),
            'label_source': _text(raw.get('label_source', 'gt'))}

  def raw(self, i: int) -> dict:
    """The underlying TFDS example (all features), e.g. `id`, `person_ids`, `background_id`."""
    return self._source[int(i) if self._indices is None else int(self._indices[int(i)])]

  def __repr__(self):
    return f'Split({self.name}, {len(self)} examples)'


def _prepare_builder(builder, manual_dir=None):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  download_config = tfds.download.DownloadConfig(manual_dir=manual_dir) if manual_dir else None
  builder.download_and_prepare(download_config=download_config)


def _indices_repeating_negatives(labels, repeat: int) -> np.ndarray:
  """Every example once, then the examples without people (`labels[i]['person_ids']` empty)
  `repeat - 1` more times."""
  negatives = [i for i in range(len(labels)) if len(labels[i]['person_ids']) == 0]
  return np.asarray(list(range(len(labels))) + negatives * (repeat - 1), np.int64)


def _splits_from_builder(builder, train_split, eval_split, label, negative_repeat: int = 1):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  out = []
  for split in (train_split, eval_split):
    available = sorted(builder.info.splits.keys())
    if split not in builder.info.splits:
      raise ValueError(f'{label}: split {split!r} not found; expected one of {available}')
    source = builder.as_data_source(split=split)
    if len(source) == 0:
      raise ValueError(f'{label}: split {split!r} is empty; expected at least one example')
    raw_source = builder.as_data_source(
        split=split, deserialize_method=tfds.decode.DeserializeMethod.RAW_BYTES)
    indices = None
    if split == train_split and negative_repeat > 1:
      # The labels alone, without decoding the images.
      indices = _indices_repeating_negatives(builder.as_data_source(split=split, decoders={
          'image': tfds.decode.SkipDecoding(), 'mask': tfds.decode.SkipDecoding()}),
                                             negative_repeat)
    out.append(Split(source, f'{label}:{split}', raw_source=raw_source, indices=indices))
  return tuple(out)


def get_splits(data_config) -> tuple[Split, Split]:
  """Builds/prepares the TFDS dataset if needed (offline for person_composite): (train, eval)."""
  name = _get(data_config, 'name', 'person_composite')
  data_dir = _get(data_config, 'data_dir')
  if data_dir is not None:
    data_dir = os.path.expanduser(data_dir)
  train_split = _get(data_config, 'train_split', 'train')
  eval_split = _get(data_config, 'eval_split', 'validation')

  if name == 'person_composite':
    from unet_flax.datasets import person_composite  # pylint: disable=g-import-not-at-top
    config = _get(data_config, 'builder_config', 'default')
    known = [c.name for c in person_composite.PersonComposite.BUILDER_CONFIGS]
    if config not in known:
      raise ValueError(f'data.builder_config {config!r} is not a person_composite config; '
                       f'expected one of {known}')
    repeat = _get(data_config, 'negative_repeat', 1)
    if not isinstance(repeat, int) or repeat < 1:
      raise ValueError(f'data.negative_repeat={repeat!r}; expected an integer >= 1 (how many '
                       'times each training example without people is seen per epoch)')
    builder = person_composite.PersonComposite(config=config, data_dir=data_dir)
    _prepare_builder(builder)
    return _splits_from_builder(builder, train_split, eval_split, f'person_composite/{config}',
                                repeat)

  if name == 'person_folder':
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    from unet_flax.datasets import person_folder  # pylint: disable=g-import-not-at-top
    manual_dir = _get(data_config, 'manual_dir')
    if not manual_dir:
      raise ValueError('data.manual_dir is not set; expected the path of a folder with images/ '
                       "and masks/ for data.name='person_folder'")
    manual_dir = os.path.abspath(os.path.expanduser(manual_dir))
    # Cheap checks first (missing folder, empty folder, unmatched files) with clear messages.
    person_folder.split_pairs(manual_dir)
    # One builder config per folder content, so a changed folder is rebuilt, not reused.
    config = tfds.core.BuilderConfig(
        name=f'folder_{person_folder.folder_fingerprint(manual_dir)}',
        description=f'Images and masks from {manual_dir}')
    builder = person_folder.PersonFolder(config=config, data_dir=data_dir)
    _prepare_builder(builder, manual_dir=manual_dir)
    return _splits_from_builder(builder, train_split, eval_split, f'person_folder({manual_dir})')

  if name == 'coco_person':
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    from unet_flax.datasets import coco_person  # pylint: disable=g-import-not-at-top
    share = float(_get(data_config, 'keep_without_people', 1.0))
    if not 0.0 <= share <= 1.0:
      raise ValueError(f'data.keep_without_people={share}; expected a share in [0, 1] of the '
                       'images without people to keep')
    # array_record: the random-access format (tfds.data_source would prepare TFRecord files,
    # which it then cannot read by index).
    builder = tfds.builder(coco_person.COCO_NAME, data_dir=data_dir, file_format='array_record')
    _prepare_builder(builder)
    out = []
    for split in (train_split, eval_split):
      source = builder.as_data_source(split=split)
      if len(source) == 0:
        raise ValueError(f'{coco_person.COCO_NAME}: split {split!r} is empty; expected at least '
                         'one example')
      indices = None
      if share < 1.0:
        # The labels alone, without decoding the images (one pass over the split's records).
        labels = builder.as_data_source(split=split, decoders={
            'image': tfds.decode.SkipDecoding(), 'panoptic_image': tfds.decode.SkipDecoding()})
        indices = coco_person.kept_indices(
            [labels[i]['panoptic_objects']['label'] for i in range(len(labels))], share)
      out.append(Split(source, f'{coco_person.COCO_NAME}:{split}', coco_person.to_example,
                       indices=indices))
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
  image, mask = ex['image'], ex['mask']
  if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
    raise ValueError(f'{where}: image has shape {image.shape} dtype {image.dtype}; expected '
                     'uint8[H,W,3]')
  if mask.shape != image.shape[:2] + (1,):
    raise ValueError(f'{where}: mask has shape {mask.shape}; expected {image.shape[:2] + (1,)} '
                     'like its image')


_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_PIXEL_CHUNK = 1 << 15


@dataclasses.dataclass(frozen=True)
class Augmentation:
  """Train-time augmentation: a random resized crop keeping `crop_min_area`-1 of the image's area
  (aspect 1/crop_max_aspect-crop_max_aspect, log-uniform), a horizontal flip half the time,
  brightness/contrast/saturation jitter, and with probability `grayscale_prob` the example in grey
  (saturation 0), so that colour alone (an orange suit, a red jacket) does not say "person"."""
  crop_min_area: float = 0.6
  crop_max_aspect: float = 4 / 3
  grayscale_prob: float = 0.0

  def __post_init__(self):
    if not 0.0 < self.crop_min_area <= 1.0:
      raise ValueError(f'data.crop_min_area={self.crop_min_area}; expected a fraction in (0, 1]')
    if not self.crop_max_aspect >= 1.0:
      raise ValueError(f'data.crop_max_aspect={self.crop_max_aspect}; expected a ratio >= 1')
    if not 0.0 <= self.grayscale_prob <= 1.0:
      raise ValueError(f'data.grayscale_prob={self.grayscale_prob}; expected a probability in '
                       '[0, 1]')

  @classmethod
  def from_config(cls, data_config) -> 'Augmentation | None':
    """The augmentation `config.data` asks for (None when data.augment is off)."""
    if not _get(data_config, 'augment', False):
      return None
    return cls(crop_min_area=_get(data_config, 'crop_min_area', cls.crop_min_area),
               crop_max_aspect=_get(data_config, 'crop_max_aspect', cls.crop_max_aspect),
               grayscale_prob=_get(data_config, 'grayscale_prob', cls.grayscale_prob))


def _augment_params(h: int, w: int, rng: np.random.Generator, augmentation: Augmentation):
  """Random resized crop box, flip, and colour factors (brightness, contrast, saturation)."""
  area = rng.uniform(augmentation.crop_min_area, 1.0) * h * w
  log_aspect = np.log(augmentation.crop_max_aspect)
  ratio = np.exp(rng.uniform(-log_aspect, log_aspect))
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
  # Channel means through contiguous reductions (rows, then columns): x.mean(axis=1) over the
  # pixels reduces a strided axis, 30x slower.
  bsz, h, w = images.shape[:3]
  channel_means = images.reshape(bsz, h, w * 3).sum(axis=1, dtype=np.float64).reshape(
      bsz, w, 3).sum(axis=1) / (h * w)
  mean_grey = (channel_means @ _LUMA / 255.0).astype(np.float32)                 # [B]
  eye = np.eye(3, dtype=np.float32)[None]
  sat = s[:, None, None] * eye + (1.0 - s)[:, None, None] * np.ones((1, 3, 1), np.float32) * _LUMA
  mats = (b * c / 255.0)[:, None, None] * np.swapaxes(sat, 1, 2)                 # [B,3,3]
  out = np.empty_like(x)
  # 2-D products on contiguous matrices, in chunks of pixels: numpy's batched matmul takes a
  # ~100x slower strided path for the transposed matrices, and above ~100k pixels the BLAS
  # starts threads that, beside the loader's own, made a 512x512 image take 65 ms, not 0.7.
  for i in range(bsz):
    m = np.ascontiguousarray(mats[i], np.float32)
    for start in range(0, x.shape[1], _PIXEL_CHUNK):
      np.matmul(x[i, start:start + _PIXEL_CHUNK], m, out=out[i, start:start + _PIXEL_CHUNK])
  out += ((1.0 - c) * b * mean_grey).astype(np.float32)[:, None, None]          # offset
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
    image, mask = _resize_pair(ex['image'], ex['mask'], size)
    return image, mask, None
  box, flip, bcs = _augment_params(ex['image'].shape[0], ex['image'].shape[1], rng, augmentation)
  image, mask = _resize_pair(ex['image'], ex['mask'], size, box=box, flip=flip)
  return image, mask, bcs


# ----------------------------------------------------------------------------------------------
# Batches: Grain datasets. The training stream is a sequence of global positions
# g = step * batch_size + j; position g holds example order[g], where `order` is Grain's
# epoch-wise shuffle of the split (a new permutation each epoch, seeded by `seed`), augmented
# with a generator seeded by (seed, step, j). Sub-batches of batch_size / P consecutive positions
# are dealt round-robin to the P processes (Grain's sharding by JAX process), so process p holds
# rows [p*B/P, (p+1)*B/P) of every global batch, reads only those examples, and the global batch
# is the same for any process count.


def _check_split(split):
  if len(split) == 0:
    raise ValueError(f"{getattr(split, 'name', 'split')}: split is empty; expected at least one "
                     'example')


def _check_shard(batch_size: int, shard_index: int, shard_count: int, key: str):
  if shard_count < 1 or not 0 <= shard_index < shard_count or batch_size % shard_count:
    raise ValueError(f'{key}={batch_size} over {shard_count} processes (this is process '
                     f'{shard_index}); expected a positive multiple of the process count')


def _read_options(worker_count: int):
  import grain  # pylint: disable=g-import-not-at-top
  # Threads of the reading process (each worker, or this one): batches in flight at once. The
  # buffer (in batches) bounds the memory the loader holds, whatever the split's size.
  threads = 1 if worker_count else max(1, min(4, os.cpu_count() or 1))
  return grain.ReadOptions(num_threads=threads, prefetch_buffer_size=max(2, threads))


@dataclasses.dataclass(frozen=True)
class _TrainExample:
  """(global position, example index) -> the processed training example (picklable, for Grain's
  worker processes)."""
  split: Any
  batch_size: int
  sides: tuple[int, ...]
  seed: int
  augmentation: Augmentation | None

  def __call__(self, position: int, index: int) -> dict:
    step, j = divmod(int(position), self.batch_size)
    rng = np.random.default_rng([self.seed, step, j]) if self.augmentation else None
    image, mask, jitter = _load_resized(self.split, index, batch_side(self.sides, step, self.seed),
                                        rng, self.augmentation)
    return {'image': _to_float(image[None], None if jitter is None else jitter[None])[0],
            'mask': mask.astype(np.float32)}


def train_dataset(split, batch_size: int, image_size: int | tuple[int, ...], seed: int,
                  augment: bool | Augmentation | None, shard_index: int = 0,
                  shard_count: int = 1):
  """A `grain.MapDataset` whose element `step` is process `shard_index`'s part (of `shard_count`)
  of the global training batch at `step`: a pure function of (seed, step).

  `augment`: an Augmentation, True (the default Augmentation) or False / None (none).
  `image_size`: the side S, or several sides, one of which is drawn per step (`batch_side`).
  Elements: {'image': float32[B/P,S,S,3] in [0,1], 'mask': float32[B/P,S,S,1] in {0,1}}.
  """
  import grain  # pylint: disable=g-import-not-at-top
  _check_split(split)
  if not 0 <= seed < 2**32:
    raise ValueError(f'seed={seed}; expected an integer in [0, 2**32)')
  _check_shard(batch_size, shard_index, shard_count, 'config.batch_size')
  augmentation = Augmentation() if augment is True else augment or None
  sides = (int(image_size),) if isinstance(image_size, (int, np.integer)) else tuple(image_size)
  ds = grain.MapDataset.range(len(split)).shuffle(seed=seed).repeat()
  ds = ds.map_with_index(_TrainExample(split, batch_size, sides, seed, augmentation))
  return ds.batch(batch_size // shard_count)[shard_index::shard_count]


def train_batch(split, step: int, batch_size: int, image_size: int | tuple[int, ...], seed: int,
                augment: bool | Augmentation | None) -> dict:
  """The (whole) batch for global training step `step`, a pure function of (seed, step):
  {'image': float32[B,S,S,3] in [0,1], 'mask': float32[B,S,S,1] in {0,1}}."""
  if step < 0:
    raise ValueError(f'step={step}; expected a non-negative integer')
  return train_dataset(split, batch_size, image_size, seed, augment)[step]


def _exit_with_parent(worker_index: int, worker_count: int) -> None:
  """Runs in each Grain worker: exits when the training process is gone. A SIGKILLed trainer
  runs no cleanup, and its workers, blocked on a full queue, would live on (holding its pipes
  and memory)."""
  del worker_index, worker_count
  parent = os.getppid()

  def watch():
    while os.getppid() == parent:
      time.sleep(0.5)
    os._exit(1)  # pylint: disable=protected-access

  threading.Thread(target=watch, name='exit_with_parent', daemon=True).start()


class TrainBatches:
  """This process's training batches at steps start_step, start_step + 1, ..., read by Grain
  from `train_dataset(...)` with `worker_count` worker processes (0: threads of this process).

  The iterator's state, `get_state()` (JSON bytes: the next step, and Grain's own iterator state
  with the worker count it belongs to), is saved into orbax checkpoints with
  `grain.checkpoint.CheckpointSave(batches)` and restored with `CheckpointRestore(batches)`.
  Grain's state splits the stream by worker, so when the worker count changed between save and
  restore the stream restarts at the saved step instead: the same batches, since every batch is a
  pure function of (seed, step).
  """

  def __init__(self, dataset, start_step: int = 0, worker_count: int = 0):
    if worker_count < 0:
      raise ValueError(f'config.data.worker_count={worker_count}; expected 0 (read in this '
                       'process) or a number of worker processes')
    self._dataset = dataset
    self._worker_count = int(worker_count)
    self.step = int(start_step)          # the step of the next batch
    self._offset = self.step             # the step Grain's iterator counts from
    self._grain_state = None             # Grain's iterator state to restore when opened
    self._iterator = None

  def __iter__(self):
    return self

  def __next__(self) -> dict:
    if self._iterator is None:
      self.start_prefetch()
    batch = next(self._iterator)
    self.step += 1
    return batch

  def start_prefetch(self) -> None:
    """Opens Grain's iterator (starting its threads or worker processes)."""
    import grain  # pylint: disable=g-import-not-at-top
    if self._iterator is not None:
      return
    ds = self._dataset[self._offset:].to_iter_dataset(_read_options(self._worker_count))
    if self._worker_count:
      from absl import flags  # pylint: disable=g-import-not-at-top
      if not flags.FLAGS.is_parsed():  # Grain's worker start reads its absl flags.
        flags.FLAGS.mark_as_parsed()
      ds = ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=self._worker_count,
                                                       per_worker_buffer_size=2),
                          worker_init_fn=_exit_with_parent)
    self._iterator = iter(ds)
    if self._grain_state is not None:
      self._iterator.set_state(self._grain_state)

  def get_state(self) -> bytes:
    grain_state = (self._iterator.get_state() if self._iterator is not None
                   else self._grain_state)
    return json.dumps({'step': self.step, 'offset': self._offset,
                       'worker_count': self._worker_count, 'grain': grain_state}).encode()

  def set_state(self, state: bytes) -> None:
    state = json.loads(state)
    self.close()
    self.step = int(state['step'])
    if state['worker_count'] == self._worker_count and state['grain'] is not None:
      self._offset, self._grain_state = int(state['offset']), state['grain']
    else:
      self._offset, self._grain_state = self.step, None

  def close(self) -> None:
    """Stops Grain's threads and worker processes (reopened by the next `next`)."""
    if self._iterator is not None:
      self._grain_state = self._iterator.get_state()
      if hasattr(self._iterator, 'close'):
        self._iterator.close()
      self._iterator = None


def train_batches(split, start_step: int, batch_size: int, image_size: int | tuple[int, ...],
                  seed: int, augment: bool | Augmentation | None, worker_count: int = 0,
                  shard_index: int = 0, shard_count: int = 1) -> TrainBatches:
  """This process's part of train_batch(split, s, ...) for s = start_step, start_step + 1, ..."""
  return TrainBatches(train_dataset(split, batch_size, image_size, seed, augment, shard_index,
                                    shard_count), start_step, worker_count)


def train_sides(data_config) -> tuple[int, ...]:
  """The sides training batches are drawn at: `train_image_sizes`, or (`image_size`,)."""
  sides = tuple(_get(data_config, 'train_image_sizes', ()) or ()) or (data_config.image_size,)
  if not all(isinstance(s, int) and s > 0 for s in sides):
    raise ValueError(f'data.train_image_sizes={sides}; expected positive integer sides')
  return tuple(sorted(set(sides)))


def batch_side(image_size: int | tuple[int, ...], step: int, seed: int) -> int:
  """The side of the training batch at `step`: `image_size`, or one of several sides drawn
  uniformly as a pure function of (seed, step)."""
  if isinstance(image_size, (int, np.integer)):
    return int(image_size)
  sides = tuple(image_size)
  return int(sides[np.random.default_rng([seed, step]).integers(len(sides))])


@dataclasses.dataclass(frozen=True)
class _EvalExample:
  """Position i of the evaluation pass -> example i resized, or zero padding past the end."""
  split: Any
  image_size: int

  def __call__(self, i: int) -> dict:
    s = self.image_size
    if i >= len(self.split):
      return {'image': np.zeros((s, s, 3), np.float32), 'mask': np.zeros((s, s, 1), np.float32),
              'valid': False, 'label_source': ''}
    image, mask, _ = _load_resized(self.split, i, s, None)
    return {'image': _to_float(image[None], None)[0], 'mask': mask.astype(np.float32),
            'valid': True, 'label_source': self.split[i]['label_source']}


def eval_batches(split, batch_size: int, image_size: int, shard_index: int = 0,
                 shard_count: int = 1) -> Iterator[dict]:
  """One pass over the split in order, this process's rows of each global batch (see
  train_dataset). The last batch is padded with zeros to `batch_size` and 'valid' (bool[B])
  marks the real examples; 'label_source' (str[B], '' for padding) says whose labels each
  example has ('gt' or 'pseudo'), for the host only."""
  import grain  # pylint: disable=g-import-not-at-top
  _check_split(split)
  _check_shard(batch_size, shard_index, shard_count, 'config.eval_batch_size')
  num_batches = -(-len(split) // batch_size)
  ds = grain.MapDataset.range(num_batches * batch_size).map(_EvalExample(split, image_size))
  ds = ds.batch(batch_size // shard_count)[shard_index::shard_count]
  yield from ds.to_iter_dataset(_read_options(0))
