"""Tests of unet_flax.input_pipeline: determinism in (seed, step), epochs, eval padding."""
import itertools
import json
import os

import ml_collections
import numpy as np
import pytest

from unet_flax import input_pipeline


class FakeSplit:
  """In-memory split: example i has a distinct colour and a mask covering its left i pixels."""

  def __init__(self, n, h=40, w=30):
    self.name = 'fake'
    self._examples = []
    for i in range(n):
      image = np.zeros((h, w, 3), np.uint8)
      image[..., 0] = i
      image[..., 1] = np.arange(w, dtype=np.uint8)[None] * 8
      image[..., 2] = np.arange(h, dtype=np.uint8)[:, None] * 6
      mask = np.zeros((h, w, 1), np.uint8)
      mask[:, : i % w] = 1
      self._examples.append({'image': image, 'mask': mask, 'label_source': 'gt'})

  def __len__(self):
    return len(self._examples)

  def __getitem__(self, i):
    return self._examples[i]


def _ids(batch):
  """Recovers the example index from the red channel (no augmentation)."""
  return np.rint(batch['image'][:, 0, 0, 0] * 255).astype(int).tolist()


def test_train_batch_shapes_and_values():
  split = FakeSplit(10)
  for augment in (False, True):
    b = input_pipeline.train_batch(split, 0, 4, 16, seed=0, augment=augment)
    assert set(b) == {'image', 'mask'}
    assert b['image'].shape == (4, 16, 16, 3) and b['image'].dtype == np.float32
    assert b['mask'].shape == (4, 16, 16, 1) and b['mask'].dtype == np.float32
    assert b['image'].min() >= 0.0 and b['image'].max() <= 1.0
    assert set(np.unique(b['mask']).tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize('augment', [False, True])
def test_train_batch_is_a_pure_function_of_seed_and_step(augment):
  split = FakeSplit(10)
  a = input_pipeline.train_batch(split, 7, 4, 16, seed=3, augment=augment)
  input_pipeline.train_batch(split, 2, 4, 16, seed=3, augment=augment)  # other calls in between
  b = input_pipeline.train_batch(split, 7, 4, 16, seed=3, augment=augment)
  for k in a:
    np.testing.assert_array_equal(a[k], b[k])
  c = input_pipeline.train_batch(split, 8, 4, 16, seed=3, augment=augment)
  d = input_pipeline.train_batch(split, 7, 4, 16, seed=4, augment=augment)
  assert not np.array_equal(a['image'], c['image'])
  assert not np.array_equal(a['image'], d['image'])


def test_several_train_sides_are_drawn_per_step_as_a_pure_function_of_seed_and_step():
  split = FakeSplit(10)
  sides = [input_pipeline.batch_side((16, 24), step, seed=3) for step in range(40)]
  assert set(sides) == {16, 24} and 10 < sides.count(16) < 30
  assert sides == [input_pipeline.batch_side((16, 24), step, seed=3) for step in range(40)]
  assert sides != [input_pipeline.batch_side((16, 24), step, seed=4) for step in range(40)]
  assert input_pipeline.batch_side(16, 5, seed=3) == input_pipeline.batch_side((16,), 5, 3) == 16
  batches = list(itertools.islice(input_pipeline.train_batches(split, 0, 4, (16, 24), 3, True), 8))
  for step, batch in enumerate(batches):
    side = sides[step]
    assert batch['image'].shape == (4, side, side, 3) and batch['mask'].shape == (4, side, side, 1)
    np.testing.assert_array_equal(
        batch['image'], input_pipeline.train_batch(split, step, 4, (16, 24), 3, True)['image'])
  data = ml_collections.ConfigDict({'image_size': 16, 'train_image_sizes': (24, 16, 24)})
  assert input_pipeline.train_sides(data) == (16, 24)
  data.train_image_sizes = ()
  assert input_pipeline.train_sides(data) == (16,)
  data.train_image_sizes = (16, -8)
  with pytest.raises(ValueError, match=r'data.train_image_sizes=\(16, -8\)'):
    input_pipeline.train_sides(data)


def test_epochs_are_permutations():
  split = FakeSplit(10)
  # batch 4 over 10 examples: steps 0..4 cover exactly two epochs (20 positions).
  ids = sum((_ids(input_pipeline.train_batch(split, s, 4, 8, seed=1, augment=False))
             for s in range(5)), [])
  assert sorted(ids[:10]) == list(range(10)) and sorted(ids[10:]) == list(range(10))
  assert ids[:10] != ids[10:]  # a new permutation each epoch
  assert ids[:10] != list(range(10))


def test_resumed_train_batches_equal_uninterrupted_ones():
  split = FakeSplit(10)
  full = list(itertools.islice(input_pipeline.train_batches(split, 0, 3, 16, 5, True), 6))
  resumed = list(itertools.islice(input_pipeline.train_batches(split, 4, 3, 16, 5, True), 2))
  for x, y in zip(full[4:], resumed):
    for k in x:
      np.testing.assert_array_equal(x[k], y[k])
  for s, x in enumerate(full):
    np.testing.assert_array_equal(x['image'],
                                  input_pipeline.train_batch(split, s, 3, 16, 5, True)['image'])


def test_train_batches_reraises_errors_from_the_prefetch_thread():
  class Broken(FakeSplit):
    def __getitem__(self, i):
      ex = dict(super().__getitem__(i))
      ex['mask'] = ex['mask'][:-1]
      return ex

  with pytest.raises(ValueError, match=r'fake\[\d+\]: mask has shape \(39, 30, 1\); expected'):
    next(input_pipeline.train_batches(Broken(4), 0, 2, 8, 0, False))


def test_augmentation_keeps_image_and_mask_aligned():
  # Image red channel == 255 exactly where the mask is 1: after crop/flip/resize (bilinear image,
  # nearest mask) the mask must still sit on the bright pixels.
  image = np.zeros((64, 48, 3), np.uint8)
  mask = np.zeros((64, 48, 1), np.uint8)
  mask[10:50, 5:20] = 1
  image[..., 0] = mask[..., 0] * 255
  split = [{'image': image, 'mask': mask, 'label_source': 'gt'}] * 3
  flips = set()
  for step in range(8):
    b = input_pipeline.train_batch(split, step, 3, 32, seed=0, augment=True)
    for img, m in zip(b['image'], b['mask']):
      inside, outside = img[..., 0][m[..., 0] > 0], img[..., 0][m[..., 0] == 0]
      assert inside.mean() > 0.75 and outside.mean() < 0.2
      cols = np.flatnonzero(m[..., 0].any(0))
      flips.add(cols.mean() > 16)
  assert flips == {True, False}  # both flipped and unflipped crops occur


def test_crop_min_area_sets_how_far_the_random_crop_zooms_in():
  # FakeSplit's green channel is 8 * column: the spread of green in a crop measures its width.
  split = FakeSplit(10, h=40, w=30)

  def mean_width(crop_min_area):
    augment = input_pipeline.Augmentation(crop_min_area=crop_min_area)
    batches = [input_pipeline.train_batch(split, s, 4, 16, seed=0, augment=augment)
               for s in range(30)]
    green = np.concatenate([b['image'][..., 1] for b in batches]) * 255 / 8
    return np.mean(green.max(axis=(1, 2)) - green.min(axis=(1, 2)))

  whole, zoomed = mean_width(1.0), mean_width(0.2)
  assert whole > 25 and zoomed < 0.9 * whole
  with pytest.raises(ValueError, match=r'data.crop_min_area=0.0; expected a fraction in \(0, 1\]'):
    input_pipeline.Augmentation(crop_min_area=0.0)


def test_crop_max_aspect_sets_how_far_the_random_crop_stretches():
  # The spread of green (8 * column) over the spread of blue (6 * row) in a crop: its aspect.
  split = FakeSplit(10, h=30, w=30)

  def aspects(crop_max_aspect):
    augment = input_pipeline.Augmentation(crop_min_area=1.0, crop_max_aspect=crop_max_aspect)
    out = []
    for s in range(20):
      b = input_pipeline.train_batch(split, s, 4, 32, seed=0, augment=augment)['image']
      width = np.ptp(b[..., 1], axis=(1, 2)) * 255 / 8
      height = np.ptp(b[..., 2], axis=(1, 2)) * 255 / 6
      out.append(width / height)
    return np.concatenate(out)

  square, default, stretched = aspects(1.0), aspects(4 / 3), aspects(2.0)
  assert np.allclose(square, 1.0, atol=0.1)
  spread = {k: np.std(np.log(v)) for k, v in (('default', default), ('stretched', stretched))}
  assert spread['stretched'] > 1.5 * spread['default'] > 0.1
  with pytest.raises(ValueError, match=r'data.crop_max_aspect=0.5; expected a ratio >= 1'):
    input_pipeline.Augmentation(crop_max_aspect=0.5)


def test_grayscale_prob_shows_that_share_of_examples_in_grey():
  split = FakeSplit(10)
  images = np.concatenate([
      input_pipeline.train_batch(split, s, 4, 16, seed=0,
                                 augment=input_pipeline.Augmentation(grayscale_prob=0.5))['image']
      for s in range(25)])
  grey = np.abs(images - images.mean(-1, keepdims=True)).max(axis=(1, 2, 3)) < 1e-5
  assert 0.3 < grey.mean() < 0.7
  config = ml_collections.ConfigDict(dict(augment=True, grayscale_prob=0.25))
  assert input_pipeline.Augmentation.from_config(config).grayscale_prob == 0.25
  config.augment = False
  assert input_pipeline.Augmentation.from_config(config) is None
  with pytest.raises(ValueError, match=r'data.grayscale_prob=2; expected a probability'):
    input_pipeline.Augmentation(grayscale_prob=2)


def test_eval_batches_cover_every_example_once_and_pad():
  split = FakeSplit(10)
  batches = list(input_pipeline.eval_batches(split, 4, 12))
  assert len(batches) == 3
  for b in batches:
    assert set(b) == {'image', 'mask', 'valid', 'label_source'}
    assert b['image'].shape == (4, 12, 12, 3) and b['mask'].shape == (4, 12, 12, 1)
    assert b['valid'].dtype == bool
  assert [b['valid'].tolist() for b in batches][-1] == [True, True, False, False]
  assert batches[-1]['label_source'].tolist() == ['gt', 'gt', '', '']
  ids = sum((_ids(b) for b in batches), [])
  valid = np.concatenate([b['valid'] for b in batches])
  assert [i for i, v in zip(ids, valid) if v] == list(range(10))
  assert not batches[-1]['image'][2:].any() and not batches[-1]['mask'][2:].any()
  # Resized masks are nearest-neighbour: still exactly 0/1.
  assert set(np.unique(np.concatenate([b['mask'] for b in batches])).tolist()) <= {0.0, 1.0}


def test_empty_split_is_a_clear_error():
  with pytest.raises(ValueError, match='split is empty'):
    input_pipeline.train_batch(FakeSplit(0), 0, 2, 8, 0, False)
  with pytest.raises(ValueError, match='split is empty'):
    next(input_pipeline.eval_batches(FakeSplit(0), 2, 8))


def test_pipeline_on_tiny_composite(tiny_data_dir):  # conftest.py builds it once per session
  cfg = ml_collections.ConfigDict(dict(
      name='person_composite', builder_config='tiny', data_dir=tiny_data_dir, manual_dir=None,
      train_split='train', eval_split='validation', image_size=48, augment=True))
  train, val = input_pipeline.get_splits(cfg)
  b = input_pipeline.train_batch(train, 0, 8, 48, seed=0, augment=True)
  assert b['image'].shape == (8, 48, 48, 3) and b['mask'].shape == (8, 48, 48, 1)
  assert 0.0 < b['mask'].mean() < 0.9
  n = sum(int(e['valid'].sum()) for e in input_pipeline.eval_batches(val, 5, 48))
  assert n == len(val) == 16


def test_loader_state_restores_the_stream_exactly_also_with_another_worker_count():
  split = FakeSplit(10)
  loader = input_pipeline.train_batches(split, 0, 4, 16, 5, True)
  expected = [input_pipeline.train_batch(split, s, 4, 16, 5, True) for s in range(5)]
  for s in range(3):
    np.testing.assert_array_equal(next(loader)['image'], expected[s]['image'])
  state = loader.get_state()
  loader.close()
  assert json.loads(state)['step'] == 3
  # Restored into a fresh loader (as orbax's Grain handler does), or into one with 2 worker
  # processes, whose Grain state cannot take this one's: both continue at step 3.
  for workers in (0, 2):
    resumed = input_pipeline.train_batches(split, 0, 4, 16, 5, True, worker_count=workers)
    resumed.set_state(state)
    resumed.start_prefetch()
    for s in (3, 4):
      batch = next(resumed)
      np.testing.assert_array_equal(batch['image'], expected[s]['image'])
      np.testing.assert_array_equal(batch['mask'], expected[s]['mask'])
    resumed.close()
  with pytest.raises(ValueError, match=r'data.worker_count=-1; expected 0'):
    input_pipeline.train_batches(split, 0, 4, 16, 5, True, worker_count=-1)


def test_each_process_reads_only_its_rows_of_the_global_batch():
  class Counting(FakeSplit):
    def __init__(self, n):
      super().__init__(n)
      self.reads = []

    def __getitem__(self, i):
      self.reads.append(i)
      return super().__getitem__(i)

  whole = input_pipeline.train_batch(FakeSplit(10), 2, 6, 16, 0, True)
  parts = []
  for p in range(3):
    split = Counting(10)
    parts.append(input_pipeline.train_dataset(split, 6, 16, 0, True, p, 3)[2])
    assert len(split.reads) == 2  # 2 of the 6 examples
  for k in whole:
    np.testing.assert_array_equal(np.concatenate([part[k] for part in parts]), whole[k])
  with pytest.raises(ValueError, match=r'config.batch_size=6 over 4 processes'):
    input_pipeline.train_dataset(FakeSplit(10), 6, 16, 0, True, 0, 4)
  batches = [list(input_pipeline.eval_batches(FakeSplit(10), 4, 8, p, 2)) for p in range(2)]
  whole = list(input_pipeline.eval_batches(FakeSplit(10), 4, 8))
  for a, b, w in zip(*batches, whole):
    for k in w:
      np.testing.assert_array_equal(np.concatenate([a[k], b[k]]), w[k])


def test_memory_stays_bounded_on_a_split_larger_than_the_loader_may_hold():
  # 600 examples of 512x512 decode to 600 MB; two epochs through the loader must hold only its
  # buffers (a few batches), not the split.
  def rss_mb():
    with open('/proc/self/statm') as f:
      return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20

  class Large:
    name = 'large'

    def __len__(self):
      return 600

    def __getitem__(self, i):
      image = np.full((512, 512, 3), i % 256, np.uint8)
      return {'image': image, 'mask': (image[..., :1] > 128).astype(np.uint8),
              'label_source': 'gt'}

  loader = input_pipeline.train_batches(Large(), 0, 20, 32, 0, False)
  next(loader)
  before = rss_mb()
  for _ in range(59):
    next(loader)
  grown = rss_mb() - before
  loader.close()
  assert grown < 150, f'memory grew {grown:.0f} MB over two epochs of a 600 MB split'


def test_colour_jitter_equals_brightness_then_contrast_then_saturation():
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (3, 5, 7, 3), dtype=np.uint8)
  jitter = rng.uniform(0.9, 1.1, (3, 3))
  jitter[1, 2] = 0.0  # grey
  x = images.astype(np.float64) / 255
  luma = np.array([0.299, 0.587, 0.114])
  want = []
  for img, (b, c, s) in zip(x, jitter):
    img = img * b
    img = (img - (img @ luma).mean()) * c + (img @ luma).mean()
    img = s * img + (1 - s) * (img @ luma)[..., None]
    want.append(np.clip(img, 0, 1))
  np.testing.assert_allclose(input_pipeline._to_float(images, jitter), want, atol=1e-5)
  np.testing.assert_allclose(input_pipeline._to_float(images, None), x, atol=1e-7)
