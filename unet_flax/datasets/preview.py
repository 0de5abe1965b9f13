"""Writes a PNG grid of person_composite examples (photo above, mask overlay below).

  python -m unet_flax.datasets.preview [--config default] [--data_dir DIR] [--out docs/person_composite_preview.png]
"""
from __future__ import annotations

import argparse
import os

import numpy as np
from PIL import Image, ImageDraw


def overlay(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
  """Red tint on the mask with a yellow outline."""
  m = mask[..., 0] > 0
  out = image.astype(np.float32)
  out[m] = out[m] * 0.5 + np.array([255.0, 0.0, 0.0]) * 0.5
  pad = np.pad(m, 1, mode='edge')
  edge = (m ^ pad[1:-1, 2:]) | (m ^ pad[2:, 1:-1])
  out[edge] = [255, 255, 0]
  return out.astype(np.uint8)


def preview(builder, per_split: int = 8, stride: int = 7, scale: float = 0.75) -> Image.Image:
  rows = []
  for split in ('train', 'validation'):
    ds = builder.as_data_source(split)
    cols = []
    for i in range(per_split):
      ex = ds[(i * stride) % len(ds)]
      cols.append(np.concatenate([ex['image'], overlay(ex['image'], ex['mask'])], 0))
    row = np.concatenate(cols, 1)
    label = Image.new('RGB', (row.shape[1], 14), 'white')
    ImageDraw.Draw(label).text((4, 1), f'{split} (photo / mask)', fill='black')
    rows += [np.asarray(label), row]
  grid = Image.fromarray(np.concatenate(rows, 0))
  grid = grid.resize((int(grid.width * scale), int(grid.height * scale)), Image.BILINEAR)
  return grid.quantize(colors=192, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--config', default='default')
  parser.add_argument('--data_dir', default=None)
  parser.add_argument('--out', default='docs/person_composite_preview.png')
  args = parser.parse_args(argv)
  from unet_flax.datasets.person_composite import PersonComposite  # pylint: disable=g-import-not-at-top
  builder = PersonComposite(config=args.config, data_dir=args.data_dir)
  builder.download_and_prepare()
  os.makedirs(os.path.dirname(args.out) or '.', exist_ok=True)
  preview(builder).save(args.out, optimize=True)
  print(f'wrote {args.out} ({os.path.getsize(args.out) // 1024} KiB)')


if __name__ == '__main__':
  main()
