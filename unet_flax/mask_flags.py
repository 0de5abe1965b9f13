"""The command-line flags of the photo masks, shared by stylize.py and experiments/eval_real.py.

`define_flags()` defines `--mask_side`, `--mask_square_side`, `--mask_tiles`, `--mask_core` and
`--mask_animals`;
`parse_flags(FLAGS)` turns them into the arguments of `predict.Segmenter.photo_masks`. Nothing
here imports JAX, so that --help and flag errors answer at once.
"""
from __future__ import annotations

from typing import Sequence


def define_flags() -> None:
  """Defines --mask_side, --mask_square_side, --mask_tiles, --mask_core and --mask_animals (absl
  flags)."""
  from absl import flags
  flags.DEFINE_list('mask_side', ['0'], 'Long side(s) in pixels at which the U-Net sees the '
                    "photo; several are averaged (0: the model's default, "
                    'predict.Segmenter.photo_sides: 256 and 384 for the MediaPipe encoder, 160 '
                    'and 224 for an ImageNet encoder, else the training image size).')
  flags.DEFINE_list('mask_square_side', ['default'], 'Side(s) in pixels of the squares to which '
                    'the photo is also squashed for the U-Net, averaged with the views above '
                    "('default': predict.Segmenter.photo_square_sides, 256 for the MediaPipe "
                    "encoder, none for the others; 'none': no squashed view).")
  flags.DEFINE_string('mask_tiles', 'default', 'The U-Net also sees the photo as an n x n grid '
                      'of overlapping crops, each 0.6 of its sides, cross-faded where they overlap and '
                      'averaged with the views above '
                      "('default': predict.Segmenter.photo_tiles, 2 for the MediaPipe encoder, "
                      "none for the others; 'none' or 0: no crops).")
  flags.DEFINE_string('mask_core', 'default', 'A region of the mask is kept only if its '
                      "probability reaches this somewhere ('default': predict.Segmenter."
                      'photo_mask_core, 0.9 for the MediaPipe encoder, none for the others; '
                      "'none': every region kept).")
  flags.DEFINE_string('mask_animals', 'default', "'drop': a region of the mask that an ImageNet "
                      'classifier sees as an animal is dropped; '
                      "'keep': it is kept ('default': predict.Segmenter.photo_drop_animals, drop "
                      'for the MediaPipe encoder, keep for the others).')


def parse_flags(FLAGS) -> tuple[list[int], list[int] | None, float | None, int | None,
                                bool | None]:
  """(sides, square sides, core, tiles, drop animals) for `predict.Segmenter.photo_masks`;
  ValueError names the bad value."""
  return (parse_sides(FLAGS.mask_side), parse_square_sides(FLAGS.mask_square_side),
          parse_mask_core(FLAGS.mask_core), parse_tiles(FLAGS.mask_tiles),
          parse_animals(FLAGS.mask_animals))


def _ints(items: list[str]) -> list[int]:
  """['96', '160'] -> [96, 160]; [] when any item is not an integer."""
  try:
    return [int(v) for v in items]
  except ValueError:
    return []


def parse_sides(values: Sequence[str] | str) -> list[int]:
  """Command-line sides ('96,160' or ['96', '160']) -> [96, 160] (0: the model's default)."""
  items = values.split(',') if isinstance(values, str) else list(values)
  sides = _ints(items)
  if not sides or any(v < 0 for v in sides):
    raise ValueError(f'mask side {",".join(items)!r}: expected comma-separated integers >= 0 '
                     "(0: the model's default)")
  return sides


def parse_square_sides(values: Sequence[str] | str) -> list[int] | None:
  """Command-line square sides: 'default' -> None (the model's default), 'none' -> [], '256' or
  ['256', '320'] -> [256, 320]."""
  items = values.split(',') if isinstance(values, str) else list(values)
  if items == ['default']:
    return None
  if items == ['none']:
    return []
  sides = _ints(items)
  if not sides or any(v <= 0 for v in sides):
    raise ValueError(f'mask square side {",".join(items)!r}: expected comma-separated integers '
                     "> 0, 'default' (the model's) or 'none'")
  return sides


def parse_mask_core(value: str) -> float | None:
  """Command-line mask core: 'default' -> None (the model's default), 'none' -> 0.0 (no region
  dropped), '0.9' -> 0.9."""
  if value == 'default':
    return None
  if value == 'none':
    return 0.0
  try:
    core = float(value)
  except ValueError:
    core = -1.0
  if not 0.0 <= core <= 1.0:
    raise ValueError(f"mask core {value!r}: expected a probability in [0, 1], 'default' (the "
                     "model's) or 'none'")
  return core


def parse_tiles(value: str) -> int | None:
  """Command-line mask tiles: 'default' -> None (the model's default), 'none' or '0' -> 0, '3'
  -> 3."""
  if value == 'default':
    return None
  if value == 'none':
    return 0
  tiles = _ints([value])
  if not tiles or tiles[0] < 0 or tiles[0] == 1:
    raise ValueError(f"mask tiles {value!r}: expected an integer n >= 2 (n x n crops), 'default' "
                     "(the model's) or 'none'")
  return tiles[0]


def parse_animals(value: str) -> bool | None:
  """Command-line mask animals: 'default' -> None (the model's default), 'drop' -> True, 'keep'
  -> False."""
  choices = {'default': None, 'drop': True, 'keep': False}
  if value not in choices:
    raise ValueError(f"mask animals {value!r}: expected 'drop', 'keep' or 'default' (the "
                     "model's)")
  return choices[value]
