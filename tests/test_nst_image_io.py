"""nst_flax.image_io: the project's image loading (bad and unusual inputs) and saving."""
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from nst_flax.image_io import fit_max_side, load_image, resize_image, save_image


def _png16(path, arr):
  """Writes a 16-bit RGB/RGBA PNG by hand (PIL cannot write those)."""
  h, w, c = arr.shape
  raw = b''.join(b'\x00' + arr[i].astype('>u2').tobytes() for i in range(h))

  def chunk(t, d):
    return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xFFFFFFFF)

  ihdr = struct.pack('>IIBBBBB', w, h, 16, {3: 2, 4: 6}[c], 0, 0, 0)
  with open(path, 'wb') as f:
    f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(raw))
            + chunk(b'IEND', b''))


def _check(a, shape):
  assert a.shape == shape and a.dtype == np.float32
  assert a.min() >= 0.0 and a.max() <= 1.0


def test_rgb_jpeg_and_png_roundtrip(tmp_path):
  rng = np.random.default_rng(0)
  img = rng.random((20, 30, 3)).astype(np.float32)
  save_image(tmp_path / 'a.png', img)
  back = load_image(tmp_path / 'a.png')
  _check(back, (20, 30, 3))
  assert np.abs(back - img).max() <= 0.5 / 255 + 1e-6
  save_image(tmp_path / 'sub' / 'a.jpg', img)
  _check(load_image(tmp_path / 'sub' / 'a.jpg'), (20, 30, 3))


def test_grayscale_rgba_palette_la(tmp_path):
  gray = (np.arange(12 * 10) % 256).reshape(12, 10).astype(np.uint8)
  Image.fromarray(gray, 'L').save(tmp_path / 'g.png')
  a = load_image(tmp_path / 'g.png')
  _check(a, (12, 10, 3))
  np.testing.assert_allclose(a[..., 0], gray / 255.0, atol=1e-6)
  assert np.array_equal(a[..., 0], a[..., 2])

  rgba = np.zeros((8, 9, 4), np.uint8)
  rgba[..., 0] = 255
  rgba[:, :4, 3] = 255  # left opaque red, right fully transparent -> white
  Image.fromarray(rgba, 'RGBA').save(tmp_path / 'a.png')
  a = load_image(tmp_path / 'a.png')
  _check(a, (8, 9, 3))
  np.testing.assert_allclose(a[0, 0], [1, 0, 0])
  np.testing.assert_allclose(a[0, -1], [1, 1, 1])

  Image.fromarray(rgba, 'RGBA').convert('LA').save(tmp_path / 'la.png')
  _check(load_image(tmp_path / 'la.png'), (8, 9, 3))

  Image.fromarray((np.random.default_rng(1).random((7, 5, 3)) * 255).astype(np.uint8)).convert(
      'P', palette=Image.ADAPTIVE).save(tmp_path / 'p.gif')
  _check(load_image(tmp_path / 'p.gif'), (7, 5, 3))


def test_16bit_png(tmp_path):
  g16 = np.linspace(0, 65535, 6 * 7).reshape(6, 7).astype(np.uint16)
  Image.fromarray(g16).save(tmp_path / 'g16.png')
  a = load_image(tmp_path / 'g16.png')
  _check(a, (6, 7, 3))
  np.testing.assert_allclose(a[..., 1], g16 / 65535.0, atol=1e-6)
  rgb16 = (np.random.default_rng(2).random((5, 6, 3)) * 65535).astype(np.uint16)
  _png16(tmp_path / 'rgb16.png', rgb16)
  a = load_image(tmp_path / 'rgb16.png')
  _check(a, (5, 6, 3))
  assert np.abs(a - rgb16 / 65535.0).max() < 1.0 / 255
  rgba16 = (np.random.default_rng(3).random((5, 6, 4)) * 65535).astype(np.uint16)
  _png16(tmp_path / 'rgba16.png', rgba16)
  _check(load_image(tmp_path / 'rgba16.png'), (5, 6, 3))


def test_exif_rotation(tmp_path):
  img = np.zeros((10, 20, 3), np.uint8)
  img[:, :10] = 255  # left half white
  pil = Image.fromarray(img)
  exif = Image.Exif()
  exif[0x0112] = 6  # orientation: rotate 90 CW to display
  pil.save(tmp_path / 'r.jpg', exif=exif.tobytes(), quality=100)
  a = load_image(tmp_path / 'r.jpg')
  assert a.shape == (20, 10, 3)  # rotated on load
  assert a[2, 5].mean() > 0.8 and a[-3, 5].mean() < 0.2  # white half now on top


def test_errors_are_one_line_and_name_the_file(tmp_path):
  with pytest.raises(FileNotFoundError, match='missing.png'):
    load_image(tmp_path / 'missing.png')
  bad = tmp_path / 'bad.png'
  bad.write_text('not an image')
  with pytest.raises(ValueError, match='bad.png: not a readable image'):
    load_image(bad)
  Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tmp_path / 'one.png')
  with pytest.raises(ValueError, match='1x1 pixels'):
    load_image(tmp_path / 'one.png')
  Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(tmp_path / 'big.png')
  with pytest.raises(ValueError, match='above the limit'):
    load_image(tmp_path / 'big.png', max_pixels=1000)
  with pytest.raises(ValueError, match='directory'):
    load_image(tmp_path)
  for exc in (ValueError,):
    try:
      load_image(bad)
    except exc as e:
      assert '\n' not in str(e)


def test_resize_helpers():
  assert fit_max_side(512, 1024, 256) == (128, 256)
  a = np.random.default_rng(0).random((40, 60, 3)).astype(np.float32)
  b = resize_image(a, (20, 30))
  _check(b, (20, 30, 3))
  _check(resize_image(a, (80, 120)), (80, 120, 3))
