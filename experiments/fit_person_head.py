r"""Fits the person head of `unet_flax.animal_regions`: person against animal on a region's embedding.

Command (CPU, ~2 min; fetches Tux Paint's stamps, Debian's tuxpaint-stamps-default, 161 MB, once):
  python experiments/fit_person_head.py

Each training region (`animal_regions.person_head_examples`: the people of the pseudo-labelled
training photos, and 102 photos of animals cut out, each whole and its upper parts) is shown alone
to EfficientNet-Lite0 as `drop_animal_regions` shows it (`region_crop`), and mirrored. A logistic
regression on the 1280 pooled features (`fit_person_head`, L2 10, deterministic) is written to
`unet_flax/person_head.npz` (or --out). It prints the fit's lowest person scores and highest
animal scores, by region. No photo that experiments/eval_real.py scores is used.
"""
import argparse
import sys
import time

import numpy as np

from unet_flax import animal_regions
from unet_flax import runtime


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter,
                                   epilog=__doc__.split('\n', 1)[1])
  parser.add_argument('--out', default=animal_regions.PERSON_HEAD_FILE,
                      help='where to write the head (.npz; default: %(default)s)')
  args = parser.parse_args()
  runtime.setup()
  classifier = animal_regions.AnimalClassifier.load(person_head=False)
  names, embeddings, labels = [], [], []
  start = time.time()
  for k, (name, image, region, label) in enumerate(animal_regions.person_head_examples()):
    for flip in (False, True):
      shown = (image[:, ::-1], region[:, ::-1]) if flip else (image, region)
      embeddings.append(classifier.embed(*shown)[1])
      names.append(name)
      labels.append(label)
    if k % 50 == 0:
      print(f'{k + 1} regions embedded ({time.time() - start:.0f} s)', file=sys.stderr, flush=True)
  embeddings, labels = np.stack(embeddings), np.asarray(labels)
  head = animal_regions.fit_person_head(embeddings, labels)
  p = head.probability(embeddings)
  print(f'{int(labels.sum())} person and {int((1 - labels).sum())} animal crops (mirrored '
        f'included); accuracy at 0.5: {np.mean((p > 0.5) == labels):.3f}')
  for label, what, order in ((1, 'lowest person scores', 1), (0, 'highest animal scores', -1)):
    idx = np.flatnonzero(labels == label)
    idx = idx[np.argsort(order * p[idx])][:5]
    print(f'{what}: ' + ', '.join(f'{names[i]} {p[i]:.3f}' for i in idx))
  head.save(args.out)
  print(f'wrote {args.out}')


if __name__ == '__main__':
  main()
