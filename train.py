r"""Trains the person-segmentation U-Net.

  python train.py --config configs/unet_person.py --workdir workdirs/unet_person

Any config key can be overridden, e.g. `--config.num_train_steps=300`. Running the same command
again resumes from the last checkpoint in --workdir.

On several hosts, run it once per host with the same flags: on a Cloud TPU pod slice the processes
find each other; elsewhere add `--coordinator_address=HOST0:PORT --num_processes=N
--process_id=I` (I = 0..N-1; process 0 writes the logs, images and summaries). The logic lives in
`unet_flax.train.train_and_evaluate(config, workdir)`.
"""
import os
import re
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from nst_flax import cli

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', 'workdirs/unet_person', 'Directory for checkpoints, logs and images.')
flags.DEFINE_string('coordinator_address', None,
                    'host:port of process 0, for a run on several processes (not on TPU pods).')
flags.DEFINE_integer('num_processes', None, 'Number of processes of a multi-process run.')
flags.DEFINE_integer('process_id', None, 'Index of this process, 0..num_processes-1.')
config_flags.DEFINE_config_file(
    'config', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'configs', 'unet_person.py'),
    'Training configuration file.', lock_config=True)


def _fail(message) -> None:
  """One `error: ...` line (the message's lines joined) and exit 1."""
  sys.exit(cli.report_error(message, join_lines=True))


def parse_flags(argv):
  """absl flag parsing, with config errors (e.g. an unknown key) as one line and exit 1."""
  try:
    return FLAGS(argv)
  except flags.Error as e:
    _fail(e)
  except (KeyError, AttributeError) as e:
    message = str(e).replace('\\n', ' ').replace('\\', '')
    match = re.search(r"'(\w+)'", message)
    key = match.group(1) if match else message
    hint = re.search(r'Did you mean "\w+"', message)
    args = [a for a in argv[1:] if a.startswith('--config.') and key in a.split('=')[0]]
    _fail(f'unknown config key {key!r} in {args[0] if args else " ".join(argv[1:])}'
          f'{"; " + hint.group(0) + "?" if hint else ""}; expected a key of the --config file')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  # Imported here so that `--help` and flag errors answer without loading TF/JAX.
  try:
    config = FLAGS.config
  except Exception as e:  # A config file that is missing or does not load.
    _fail(e)
  # A ValueError or OSError from here on (bad flag values, an unusable workdir) is one line:
  # `run_app`'s `errors`.
  from unet_flax import runtime
  runtime.initialize_distributed(FLAGS.coordinator_address, FLAGS.num_processes,
                                 FLAGS.process_id)
  runtime.setup()
  from unet_flax import train
  summary = train.train_and_evaluate(config, FLAGS.workdir)
  ev = summary['eval']
  print(f"step {summary['step']}: validation IoU {ev['iou']:.4f}, Dice {ev['dice']:.4f}, "
        f"precision {ev['precision']:.4f}, recall {ev['recall']:.4f} "
        f"(best IoU {summary.get('best_iou')} at step {summary['best_step']}); "
        f"workdir {FLAGS.workdir}")


if __name__ == '__main__':
  from unet_flax import runtime  # pylint: disable=g-import-not-at-top
  runtime.run_app(main, flags_parser=parse_flags, errors=(ValueError, OSError))
