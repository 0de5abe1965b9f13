"""TFDS's own `coco/2017_panoptic` builder on a miniature download in COCO's real file layout,
then `train.py --config configs/unet_coco.py` for a few steps on it."""
import io
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from configs import unet_coco
from conftest import REPO
from unet_flax import input_pipeline
from unet_flax.datasets import coco_person

# Panoptic category ids: person is id 1 (TFDS label 0, the first category); 133 categories in
# all, as in COCO's panoptic JSON (the other names do not matter here).
_CATEGORIES = [{'id': 1, 'name': 'person', 'supercategory': 'person', 'isthing': 1}] + [
    {'id': i, 'name': f'category_{i}', 'supercategory': 'other', 'isthing': int(i < 91)}
    for i in range(2, 134)]


def _png(array):
  buffer = io.BytesIO()
  Image.fromarray(array).save(buffer, format='PNG')
  return buffer.getvalue()


def _jpeg(array):
  buffer = io.BytesIO()
  Image.fromarray(array).save(buffer, format='JPEG', quality=90)
  return buffer.getvalue()


def _write_coco(root, rng, counts):
  """Writes what images.cocodataset.org serves for 2017 panoptic, in miniature:
  zips/{train,val}2017.zip (train2017/<id>.jpg) and
  annotations/panoptic_annotations_trainval2017.zip (annotations/panoptic_<split>2017.json and
  annotations/panoptic_<split>2017.zip of panoptic_<split>2017/<id>.png). Returns
  {split: {image id: person mask}}."""
  masks = {}
  annotations = zipfile.ZipFile(root / 'panoptic_annotations_trainval2017.zip', 'w')
  for split, (with_people, without) in counts.items():
    name = f'{split}2017'
    images, records, masks[split] = [], [], {}
    with zipfile.ZipFile(root / f'{name}.zip', 'w') as image_zip, \
        zipfile.ZipFile(root / f'panoptic_{name}.zip', 'w') as panoptic_zip:
      for k in range(with_people + without):
        image_id = 1000 * (split == 'val') + k + 1
        h, w = rng.integers(40, 72), rng.integers(40, 72)
        image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        # Segments: background 'category_5' everywhere, a person box (if any), a crowd.
        segments = np.full((h, w), 2_000_001 + image_id, np.int64)
        infos = [{'id': int(2_000_001 + image_id), 'category_id': 5, 'iscrowd': 0,
                  'bbox': [0, 0, int(w), int(h)], 'area': int(h * w)}]
        if k < with_people:
          y, x = rng.integers(0, h // 2), rng.integers(0, w // 2)
          segments[y:y + h // 3, x:x + w // 3] = 3 * 65536 + 7 * 256 + image_id
          infos.append({'id': int(3 * 65536 + 7 * 256 + image_id), 'category_id': 1,
                        'iscrowd': int(k % 2), 'bbox': [int(x), int(y), int(w // 3), int(h // 3)],
                        'area': int((h // 3) * (w // 3))})
        masks[split][image_id] = (segments == 3 * 65536 + 7 * 256 + image_id)
        rgb = np.stack([segments % 256, segments // 256 % 256, segments // 65536], -1)
        file_name = f'{image_id:012d}'
        image_zip.writestr(f'{name}/{file_name}.jpg', _jpeg(image))
        panoptic_zip.writestr(f'panoptic_{name}/{file_name}.png', _png(rgb.astype(np.uint8)))
        images.append({'id': image_id, 'file_name': f'{file_name}.jpg', 'height': int(h),
                       'width': int(w)})
        records.append({'image_id': image_id, 'file_name': f'{file_name}.png',
                        'segments_info': infos})
    annotations.writestr(f'annotations/panoptic_{name}.json', json.dumps(
        {'images': images, 'annotations': records, 'categories': _CATEGORIES}))
    annotations.write(root / f'panoptic_{name}.zip', f'annotations/panoptic_{name}.zip')
  annotations.close()
  return masks


@pytest.mark.network  # the config's MediaPipe weights: fetched once from npm, then cached
def test_coco_panoptic_builder_on_the_real_layout_trains_through_unet_coco(tmp_path, monkeypatch):
  downloads, data_dir = tmp_path / 'downloads', str(tmp_path / 'tfds')
  downloads.mkdir()
  masks = _write_coco(downloads, np.random.default_rng(0), {'train': (6, 6), 'val': (4, 2)})
  # TFDS's download manager fetches http://images.cocodataset.org/<zips|annotations>/<file>;
  # here it is handed the local files instead, and extracts them itself.
  served = []

  def download_and_extract(manager, urls):
    served.extend(urls.values())
    return manager.extract({k: str(downloads / os.path.basename(u)) for k, u in urls.items()})

  monkeypatch.setattr(tfds.download.DownloadManager, 'download_and_extract', download_and_extract)
  data = dict(name='coco_person', builder_config=None, data_dir=data_dir, manual_dir=None,
              train_split='train', eval_split='validation', keep_without_people=1.0)
  train, val = input_pipeline.get_splits(data)
  assert sorted(served) == sorted(
      f'http://images.cocodataset.org/{p}' for p in (
          'zips/train2017.zip', 'zips/val2017.zip',
          'annotations/panoptic_annotations_trainval2017.zip',
          'annotations/panoptic_annotations_trainval2017.zip'))
  assert (len(train), len(val)) == (12, 6)
  for split, name in ((train, 'train'), (val, 'val')):
    for i in range(len(split)):
      raw, ex = split.raw(i), split[i]
      # JPEG-decoded image; the mask is exactly the person segment (crowd or not).
      np.testing.assert_array_equal(ex['mask'][..., 0], masks[name][int(raw['image/id'])])
      assert ex['image'].shape[:2] == ex['mask'].shape[:2]

  # Only the images with people, plus a share of those without (a pure function of the split).
  train, val = input_pipeline.get_splits(dict(data, keep_without_people=0.0))
  assert (len(train), len(val)) == (6, 4)
  assert all(train[i]['mask'].any() for i in range(len(train)))
  half = input_pipeline.get_splits(dict(data, keep_without_people=0.5))[0]
  assert len(half) == 6 + 3
  with pytest.raises(ValueError, match=r'data.keep_without_people=2.0; expected a share in'):
    input_pipeline.get_splits(dict(data, keep_without_people=2.0))

  workdir = str(tmp_path / 'run')
  result = subprocess.run(
      [sys.executable, 'train.py', '--config', 'configs/unet_coco.py', '--workdir', workdir,
       f'--config.data.data_dir={data_dir}', '--config.data.image_size=32',
       '--config.data.worker_count=0', '--config.batch_size=4',
       '--config.eval_batch_size=4', '--config.num_train_steps=3',
       '--config.eval_every_steps=3', '--config.checkpoint_every_steps=3',
       '--config.log_every_steps=1', '--config.optimizer.warmup_steps=1'],
      cwd=REPO, capture_output=True, text=True)
  assert result.returncode == 0, result.stderr[-3000:]
  summary = json.load(open(os.path.join(workdir, 'summary.json')))
  share = unet_coco.get_config().data.keep_without_people
  assert summary['step'] == 3 and summary['eval']['num_images'] == 4 + round(share * 2)
  assert 0.0 <= summary['eval']['iou'] <= 1.0
  config = json.load(open(os.path.join(workdir, 'config.json')))
  assert config['model']['encoder'] == 'mediapipe_selfie'
  assert config['data']['name'] == 'coco_person'
  assert config['weight_interpolation'] == 1.0
