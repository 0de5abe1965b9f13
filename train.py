r"""Trains the person-segmentation U-Net.

  python train.py --config configs/unet_person.py --workdir workdirs/unet_person

Any config key can be overridden, e.g. `--config.num_train_steps=300`. Running the same command
again resumes from the last checkpoint in --workdir. The logic lives in
`unet_flax.train.train_and_evaluate(config, workdir)`.
"""
import os
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', 'workdirs/unet_person', 'Directory for checkpoints, logs and images.')
config_flags.DEFINE_config_file(
    'config', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'configs', 'unet_person.py'),
    'Training configuration file.', lock_config=True)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  # Imported here so that `--help` and flag errors answer without loading TF/JAX.
  from unet_flax import runtime
  runtime.setup()
  from unet_flax import train
  try:
    summary = train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  except (ValueError, OSError) as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)
  ev = summary['eval']
  print(f"step {summary['step']}: validation IoU {ev['iou']:.4f}, Dice {ev['dice']:.4f}, "
        f"precision {ev['precision']:.4f}, recall {ev['recall']:.4f} "
        f"(best IoU {summary.get('best_iou')} at step {summary['best_step']}); "
        f"workdir {FLAGS.workdir}")


if __name__ == '__main__':
  app.run(main)
