"""nst_flax.pipeline in this process: photos masked, styled, composed and written, one after the
other and on several threads (random VGG19 weights, tiny images, a fake mask predictor)."""
import dataclasses
import os

import jax
import numpy as np
import pytest
from PIL import Image

from nst_flax import config as nst_config
from nst_flax import params_cache
from nst_flax import pipeline
from nst_flax.vgg import init_params


class LeftHalfMasks:
  """A `pipeline.MaskPredictor`: the left half of every photo is the person."""
  description = 'left half'

  def __init__(self):
    self.devices = []

  def __call__(self, photo):
    mask = np.zeros(photo.shape[:2] + (1,), np.float32)
    mask[:, :photo.shape[1] // 2] = 1.0
    return mask

  def on_device(self, device):
    self.devices.append(device)
    return self


def _save(path, shape, seed):
  rgb = (np.random.default_rng(seed).random(shape + (3,)) * 255).astype(np.uint8)
  Image.fromarray(rgb).save(path)
  return np.asarray(Image.open(path).convert('RGB'), np.int32)


@pytest.fixture(scope='module')
def styling(tmp_path_factory):
  folder = tmp_path_factory.mktemp('styling')
  params_cache.save_npz(str(folder / 'random_vgg.npz'), init_params(image_size=32))
  _save(folder / 'style.png', (30, 36), seed=0)
  cfg = nst_config.get_default_config()
  cfg.update(weights=str(folder / 'random_vgg.npz'), content_layers=('block2_conv1',),
             style_layers=('block1_conv1', 'block2_conv1'), multiscale=False, size=0, steps=4,
             refine_steps=0, log_every=0, compilation_cache=False, guided_style=True, lr=0.1)
  return pipeline.Styling.from_files(cfg, [str(folder / 'style.png')], feather=0.0)


@pytest.fixture
def photos(tmp_path):
  folder = tmp_path / 'photos'
  folder.mkdir()
  contents = {'a': _save(folder / 'a.png', (32, 40), seed=1),
              'b': _save(folder / 'b.jpg', (36, 32), seed=2)}
  (folder / 'notes.txt').write_text('not a photo')  # ignored: not an image file
  return folder, contents


def _check_outputs(out, contents):
  for name, content in contents.items():
    result = np.asarray(Image.open(out / f'{name}.png').convert('RGB'), np.int32)
    mask = np.asarray(Image.open(out / f'{name}_mask.png').convert('L')) > 127
    assert result.shape == content.shape and mask.shape == content.shape[:2]
    assert mask[:, :content.shape[1] // 2].all() and not mask[:, content.shape[1] // 2:].any()
    assert np.abs(result[mask] - content[mask]).max() <= 1  # the person as it was
    assert np.abs(result[~mask] - content[~mask]).max() > 1  # the background painted
    sheet = Image.open(out / f'{name}_sheet.png')
    assert sheet.size == (4 * content.shape[1] + 3 * 8, content.shape[0])


def test_photo_jobs_and_devices(photos, tmp_path):
  folder, _ = photos
  assert pipeline.photo_jobs(str(folder), 'out') == [(str(folder / 'a.png'), 'out/a.png'),
                                                     (str(folder / 'b.jpg'), 'out/b.png')]
  assert pipeline.photo_jobs(str(folder / 'a.png'), 'x.jpg') == [(str(folder / 'a.png'), 'x.jpg')]
  with pytest.raises(ValueError, match='expected a folder'):
    pipeline.photo_jobs(str(folder), 'out.png')
  with pytest.raises(ValueError, match='folder has no images'):
    pipeline.photo_jobs(str(tmp_path), 'out')
  with pytest.raises(FileNotFoundError, match='nope.jpg: no such file'):
    pipeline.photo_jobs(str(tmp_path / 'nope.jpg'), 'out')
  assert pipeline.select_devices(0, 5) == jax.local_devices()
  assert pipeline.select_devices(1, 0) == []
  with pytest.raises(ValueError, match=f'--devices={len(jax.local_devices()) + 1}: expected 0'):
    pipeline.select_devices(len(jax.local_devices()) + 1, 2)


def test_one_device_styles_the_background_and_keeps_the_person(styling, photos, tmp_path, capsys):
  folder, contents = photos
  out = tmp_path / 'out'
  masks = LeftHalfMasks()
  pipeline.style_photos(styling, pipeline.photo_jobs(str(folder), str(out)), masks)
  _check_outputs(out, contents)
  printed = capsys.readouterr().out
  assert f'{folder / "a.png"}: predicting the person mask (left half) ...' in printed
  assert f'{folder / "a.png"}: person mask covers 50.0% of the photo' in printed
  assert f'wrote {out / "b.png"}, {out / "b"}_mask.png, {out / "b"}_sheet.png' in printed
  assert masks.devices == []  # one device: the predictor as it was given

  with pytest.raises(ValueError, match='no person mask'):
    pipeline.style_photo(styling, None, str(folder / 'a.png'), str(tmp_path / 'x.png'))


def test_threads_style_the_photos_at_once_and_the_first_error_stops_them(styling, photos,
                                                                        tmp_path, capsys):
  folder, contents = photos
  device = jax.local_devices()[0]
  out = tmp_path / 'out'
  masks = LeftHalfMasks()
  # Two threads (here on the same device): each takes the next photo, on its own predictor.
  pipeline.style_photos(styling, pipeline.photo_jobs(str(folder), str(out)), masks,
                        [device, device])
  _check_outputs(out, contents)
  assert masks.devices == [device, device]
  printed = capsys.readouterr().out
  assert f'2 photos on 2 devices ({device.platform}), one at a time each' in printed
  assert f'{folder / "a.png"} [{device}]: person mask covers' in printed

  (folder / 'a_broken.png').write_text('not an image')  # the second of three photos
  with pytest.raises(ValueError, match='a_broken.png'):
    pipeline.style_photos(styling, pipeline.photo_jobs(str(folder), str(tmp_path / 'out2')),
                          masks, [device, device])
  # The other thread finished the photo it had started (a) and took no more (b).
  assert sorted(os.listdir(tmp_path / 'out2')) == ['a.png', 'a_mask.png', 'a_sheet.png']


def test_a_mask_file_serves_every_photo(styling, photos, tmp_path):
  folder, contents = photos
  Image.new('L', (8, 8), 255).save(tmp_path / 'everybody.png')  # resized to each photo
  out = tmp_path / 'out'
  everybody = dataclasses.replace(styling, mask_file=str(tmp_path / 'everybody.png'))
  pipeline.style_photos(everybody, pipeline.photo_jobs(str(folder), str(out)))  # no predictor
  for name, content in contents.items():
    result = np.asarray(Image.open(out / f'{name}.png').convert('RGB'), np.int32)
    assert np.abs(result - content).max() <= 1
