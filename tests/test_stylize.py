"""stylize.py end to end: a trained (tiny) U-Net + the real VGG19 weights on a real photo."""
import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO

FAST_NST = ['--config.size=64', '--config.multiscale=False', '--config.steps=4',
            '--config.refine_steps=0', '--config.log_every=0']


@pytest.fixture(scope='module')
def unet_workdir(tiny_unet_workdir):
  return tiny_unet_workdir


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
  """A real photo with a person (RGBA, odd size), a grayscale one, and a painting-like style."""
  import skimage.data
  folder = tmp_path_factory.mktemp('photos')
  astronaut = Image.fromarray(skimage.data.astronaut()).resize((83, 75))
  astronaut.convert('RGBA').save(folder / 'astronaut_rgba.png')
  Image.fromarray(skimage.data.camera()).resize((70, 64)).save(folder / 'camera_gray.png')
  style = tmp_path_factory.mktemp('style') / 'style.png'
  Image.fromarray(skimage.data.coffee()).resize((64, 48)).save(style)
  return folder, str(style)


def _stylize(args, simulated_devices=None):
  env = dict(os.environ)
  if simulated_devices:
    env['XLA_FLAGS'] = f'--xla_force_host_platform_device_count={simulated_devices}'
  return subprocess.run([sys.executable, 'stylize.py', *args], cwd=REPO, capture_output=True,
                        text=True, env=env)


def _stylize_on_two_devices(args):
  return _stylize(args, simulated_devices=2)


def test_stylize_folder_keeps_people_and_paints_background(unet_workdir, photos, tmp_path):
  """A folder of photos, styled two at once on two (simulated) devices."""
  folder, style = photos
  out = tmp_path / 'out'
  result = _stylize_on_two_devices(['--content', str(folder), '--style', style, '--unet',
                                    unet_workdir, '--out', str(out), '--feather=0',
                                    '--threshold=0.5'] + FAST_NST)
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'style transfer' in result.stdout and 'mask' in result.stdout
  assert '2 photos on 2 devices' in result.stdout
  assert '[cpu:0]' in result.stdout and '[cpu:1]' in result.stdout, result.stdout
  for name, size in (('astronaut_rgba', (83, 75)), ('camera_gray', (70, 64))):
    final = np.asarray(Image.open(out / f'{name}.png').convert('RGB'), np.int32)
    mask = np.asarray(Image.open(out / f'{name}_mask.png').convert('L')) > 127
    assert final.shape[:2] == size[::-1] and mask.shape == size[::-1]
    assert Image.open(out / f'{name}_sheet.png').size[1] == size[1]
    content = np.asarray(Image.open(folder / f'{name}.png').convert('RGB'), np.int32)
    # Inside the mask the photo is untouched (up to 8-bit rounding), outside it is painted.
    if mask.any():
      assert np.abs(final[mask] - content[mask]).max() <= 1
    if (~mask).any():
      assert np.abs(final[~mask] - content[~mask]).mean() > 2


@pytest.mark.network
def test_given_mask_no_person_paints_everything_and_all_person_paints_nothing(photos, tmp_path):
  folder, style = photos
  photo = str(folder / 'astronaut_rgba.png')
  content = np.asarray(Image.open(photo).convert('RGB'), np.int32)
  for value, name in ((0, 'nobody'), (255, 'everybody')):
    mask_path = tmp_path / f'{name}.png'
    Image.new('L', (83, 75), value).save(mask_path)
    out = tmp_path / f'{name}.png'
    result = _stylize(['--content', photo, '--style', style, '--mask', str(mask_path),
                       '--mode=post', '--out', str(out)] + FAST_NST)
    assert result.returncode == 0, result.stderr[-3000:]
    diff = np.abs(np.asarray(Image.open(out).convert('RGB'), np.int32) - content)
    assert (diff.max() <= 1) if value else (diff.mean() > 2)


def test_missing_and_incompatible_checkpoints_are_one_line_errors(unet_workdir, photos, tmp_path):
  folder, style = photos
  args = ['--content', str(folder / 'astronaut_rgba.png'), '--style', style,
          '--out', str(tmp_path / 'x.png')]
  result = _stylize(args + ['--unet', str(tmp_path / 'nowhere')])
  lines = [l for l in result.stderr.splitlines() if l.startswith('error:')]
  assert result.returncode == 1 and len(lines) == 1 and 'nowhere' in lines[0]

  # A checkpoint whose recorded model (depth) disagrees with its weights.
  import shutil
  broken = str(tmp_path / 'broken')
  shutil.copytree(unet_workdir, broken)
  (metadata_file,) = [p for p in glob.glob(os.path.join(broken, 'best', '*', 'metadata', '*'))
                      if open(p).read().lstrip().startswith('{')]
  metadata = json.load(open(metadata_file))
  metadata['model']['depth'] = 4
  json.dump(metadata, open(metadata_file, 'w'))
  result = _stylize(args + ['--unet', broken])
  lines = [l for l in result.stderr.splitlines() if l.startswith('error:')]
  assert result.returncode == 1 and len(lines) == 1 and 'incompatible' in lines[0], result.stderr

  result = _stylize(['--content', str(folder), '--style', style, '--unet', unet_workdir,
                     '--out', str(tmp_path / 'file.png')])
  assert result.returncode == 1 and 'expected a folder' in result.stderr


@pytest.mark.network
def test_a_bad_photo_in_a_folder_on_two_devices_is_one_line_error(photos, tmp_path):
  folder, style = photos
  bad = tmp_path / 'bad'
  bad.mkdir()
  (bad / 'a_broken.png').write_text('not an image')
  Image.open(folder / 'camera_gray.png').save(bad / 'b_camera.png')
  mask = tmp_path / 'mask.png'
  Image.new('L', (70, 64), 0).save(mask)
  result = _stylize_on_two_devices(['--content', str(bad), '--style', style, '--mask', str(mask),
                                    '--out', str(tmp_path / 'out')] + FAST_NST)
  lines = [l for l in result.stderr.splitlines() if l.startswith('error:')]
  assert result.returncode == 1 and len(lines) == 1 and 'a_broken.png' in lines[0], result.stderr
  result = _stylize_on_two_devices(['--content', str(bad), '--style', style, '--mask', str(mask),
                                    '--out', str(tmp_path / 'out'), '--devices=3'])
  assert result.returncode == 1 and '--devices=3' in result.stderr, result.stderr
