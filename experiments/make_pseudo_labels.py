r"""Pseudo-labels the real person photos of the embedded dataset with the reference model, once.

Command (needs npm and `pip install -e ".[reference]"`; ~5 s):
  python experiments/make_pseudo_labels.py

Writes `unet_flax/datasets/pseudo_labels/<name>.png` (0/255 person mask at the photo's size) for
every photo in `person_composite.PSEUDO_LABELLED_PHOTOS`, and `SOURCES.json` saying where each
label came from: the photo id and a checksum of its pixels, the reference model and its sha256,
the protocol and threshold (photos of many small people, `PSEUDO_LABEL_WINDOWS`, are labelled in
overlapping windows; their entry says so). The dataset builder reads these files and checks the
photo checksums, so training never runs the reference model and a changed photo is caught. The
labels are the reference model's output, not ground truth: the dataset marks them
`label_source='pseudo'`.
"""
import argparse
import hashlib
import json
import os

import numpy as np
from PIL import Image

import reference_model  # experiments/reference_model.py, beside this script
from unet_flax.datasets import person_composite


def main():
  argparse.ArgumentParser(description=__doc__.splitlines()[0],
                          formatter_class=argparse.RawDescriptionHelpFormatter,
                          epilog=__doc__.split('\n', 1)[1]).parse_args()
  segmenter = reference_model.ReferenceSegmenter()
  out_dir = person_composite.PSEUDO_LABEL_DIR
  os.makedirs(out_dir, exist_ok=True)
  sources = {
      'reference_model': reference_model.MODEL_NAME,
      'reference_model_source': f'npm {reference_model.NPM_PACKAGE}, '
                                f'{reference_model.TFLITE_MEMBER} (Apache-2.0)',
      'reference_model_sha256': reference_model.sha256(segmenter.path),
      'protocol': f'photo resized to {reference_model.INPUT_SIZE}x{reference_model.INPUT_SIZE} '
                  '(bilinear), probability resized back (bilinear), mask = probability > '
                  f'{reference_model.THRESHOLD}',
      'photos': {},
  }
  for photo_id in person_composite.PSEUDO_LABELLED_PHOTOS:
    rgb = person_composite.load_photo(photo_id)
    entry = {'photo_id': photo_id, 'shape': list(rgb.shape),
             'pixels_sha256': hashlib.sha256(rgb.tobytes()).hexdigest()}
    if photo_id in person_composite.PSEUDO_LABEL_WINDOWS:
      height = rgb.shape[0]
      side, stride = person_composite.PSEUDO_LABEL_WINDOWS[photo_id] or (height, height // 2)
      mask = segmenter.windowed_probability(rgb, side, stride) > reference_model.THRESHOLD
      entry['windows'] = (f'{side}x{side} px windows every {stride} px, each labelled as above, '
                          'probabilities averaged where windows overlap')
    else:
      mask = segmenter.mask(rgb)
    entry['foreground_fraction'] = round(float(mask.mean()), 4)
    name = person_composite.pseudo_label_name(photo_id)
    Image.fromarray(mask.astype(np.uint8) * 255).save(os.path.join(out_dir, name + '.png'))
    sources['photos'][name] = entry
    print(f'{photo_id}: {rgb.shape[1]}x{rgb.shape[0]}, {100 * mask.mean():.1f}% person')
  with open(os.path.join(out_dir, 'SOURCES.json'), 'w') as f:
    json.dump(sources, f, indent=2)
    f.write('\n')
  print(f"wrote {len(sources['photos'])} pseudo-labels to {out_dir}")


if __name__ == '__main__':
  main()
