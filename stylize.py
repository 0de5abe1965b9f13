r"""Person-preserving style transfer: paint the background of a photo, keep the people as they are.

  python stylize.py --content photo.jpg --style painting.jpg --unet workdirs/unet_person \
      --out out.png

Loads the best U-Net checkpoint of a `train.py` workdir, predicts the person mask at the photo's
own resolution, runs the VGG19 style transfer (by default with guided Gram matrices, so the people
neither receive nor distort the style statistics: Gatys et al. 2017), composes
`m * photo + (1 - m) * stylized`, and writes OUT, OUT_mask.png and OUT_sheet.png
(photo | mask | stylized | result). `--content` may be a folder: then `--out` is a folder and every
image in it is processed, several at once where there are several devices (a TPU's cores: one
photo per core; `--devices` caps them). Style-transfer settings come from `--config`
(configs/nst_default.py) with `--config.x=y` overrides; `--mode=post` stylizes the whole photo
and pastes the people back.

This file is intentionally kept short: it parses the flags and calls the libraries, which can be
tested and imported in a notebook: `nst_flax.pipeline` (the steps of each photo, the devices)
with the masks of `unet_flax.predict`.
"""
from __future__ import annotations

import sys

from nst_flax import cli
from unet_flax import mask_flags


def _define_flags():
  from absl import flags
  FLAGS = cli.define_flags()  # --content --style --style_weights --out --mask --config ...
  flags.DEFINE_string('unet', None, 'Workdir of a `train.py` run; its best checkpoint predicts '
                      'the person mask (not needed when --mask is given).')
  flags.DEFINE_enum('mode', 'guided', ['guided', 'post'],
                    'guided: style loss over the background only, then compose; post: stylize '
                    'the whole photo, then compose.')
  flags.DEFINE_float('feather', 3.0, 'Soft edge of the mask, in pixels (0: none).')
  flags.DEFINE_float('threshold', None, 'Binarise the mask at this probability first.')
  flags.DEFINE_integer('devices', 0, 'With a folder of photos: style this many at once, one per '
                       'device (0: as many as there are local devices and photos).')
  mask_flags.define_flags()  # --mask_{side,square_side,tiles,core,animals}
  return FLAGS


def run(FLAGS) -> None:
  from nst_flax import pipeline
  from unet_flax import predict

  if not FLAGS.content or not FLAGS.style:
    raise ValueError('--content and --style are required')
  if not FLAGS.unet and not FLAGS.mask:
    raise ValueError('--unet <train.py workdir> is required (or --mask <mask image>)')
  jobs = pipeline.photo_jobs(FLAGS.content, FLAGS.out)
  devices = pipeline.select_devices(FLAGS.devices, len(jobs))
  mask_sides, square_sides, mask_core, mask_tiles, mask_animals = mask_flags.parse_flags(FLAGS)
  FLAGS.config.guided_style = FLAGS.mode == 'guided'
  style_weights = cli.parse_style_weights(FLAGS.style_weights, len(FLAGS.style))
  styling = pipeline.Styling.from_files(FLAGS.config, FLAGS.style, style_weights,
                                        feather=FLAGS.feather, threshold=FLAGS.threshold,
                                        mask_file=FLAGS.mask)
  masks = None
  if FLAGS.unet:  # One mask per photo: compiled without GPU autotuning (seconds, not a minute).
    segmenter = predict.Segmenter.from_workdir(FLAGS.unet, autotune=False)
    masks = segmenter.photo_masks(mask_sides, square_sides, mask_core, mask_tiles, mask_animals)
  pipeline.style_photos(styling, jobs, masks, devices)


def main(argv=None) -> int:
  return cli.run_command(argv, _define_flags, run, __doc__,
                         interrupted='interrupted (the photos written so far are complete)')


if __name__ == '__main__':
  sys.exit(main())
