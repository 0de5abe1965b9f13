"""What the command-line programs share: the style-transfer flags, --help, and one error reporter.

`python -m nst_flax` and `stylize.py` define their flags with `define_flags`, parse them and run
through `run_command` (no absl `app.run`: it would add flags of its own and print tracebacks).
`report_error` writes the one `error: ...` line (exit status 1) of every program of the
repository, `train.py` and the experiments and benchmarks included.

Nothing here imports JAX, so that --help and flag errors answer at once.
"""
from __future__ import annotations

import os
import sys
from typing import Callable, Optional, Sequence

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CONFIG = os.path.join(_REPO, 'configs', 'nst_default.py')
HELP_ARGS = ('-h', '-?', '--help', '--helpshort', '--helpfull')


def define_flags():
  """The style-transfer flags (`stylize.py` defines these and adds its own); returns FLAGS."""
  from absl import flags
  from ml_collections import config_flags

  flags.DEFINE_string('content', None, 'Content image (the photo).')
  flags.DEFINE_multi_string('style', None, 'Style image(s) (paintings); repeat for several.')
  flags.DEFINE_list('style_weights', None, 'Blend weights of the style images, e.g. 0.7,0.3.')
  flags.DEFINE_string('out', 'stylized.png', 'Output image path (.png or .jpg).')
  flags.DEFINE_string('mask', None, 'Person mask (white = person) for guided style.')
  flags.DEFINE_string('snapshots_dir', None,
                      'Write snapshots here every config.snapshot_every steps.')
  if os.path.exists(DEFAULT_CONFIG):
    config_flags.DEFINE_config_file('config', DEFAULT_CONFIG, 'Style-transfer config file.',
                                    lock_config=True)
  else:  # installed without the repo's configs/: use the packaged defaults
    from nst_flax.config import get_default_config
    config_flags.DEFINE_config_dict('config', get_default_config(),
                                    'Style-transfer config.', lock_config=True)
  return flags.FLAGS


def help_requested(argv: Sequence[str]) -> bool:
  """Whether the command line asks for help (the flags are parsed without absl's `app.run`,
  which would define the help flags)."""
  return any(a in HELP_ARGS for a in argv[1:])


def print_help(FLAGS, doc: str) -> int:
  """Prints `doc` and every flag of the program (not absl's own) with its default; returns 0."""
  print(doc.strip())
  print('\nflags:')
  program_flags = [f for module, fs in FLAGS.flags_by_module_dict().items()
                   if not module.startswith('absl.') for f in fs]
  for flag in sorted(program_flags, key=lambda f: f.name):
    default = flag.default_as_str if flag.name != 'config' else 'configs/nst_default.py'
    print(f'  --{flag.name}: {flag.help} (default: {default})')
  print('\n  --config.KEY=VALUE overrides one field of the config.')
  return 0


def parse_style_weights(values, num_styles: int) -> Optional[list[float]]:
  """--style_weights strings -> floats (None: equal weights), checked against the styles."""
  if not values:
    return None
  try:
    sw = [float(v) for v in values]
  except ValueError:
    raise ValueError(f'--style_weights must be numbers, got {values}')
  if len(sw) != num_styles:
    raise ValueError(f'{num_styles} --style images but {len(sw)} --style_weights')
  return sw


def report_error(error, config_error: bool = False, join_lines: bool = False) -> int:
  """Prints `error` (an exception or a message) as one `error: ...` line on stderr; returns 1,
  the exit status.

  The line is the message's first line (a config file's own error, which comes with its
  traceback: that line and the last one); `join_lines` joins all of its lines instead.
  `config_error`: the error came from a --config file or override, and the line says so.
  """
  if join_lines:
    text = ' '.join(str(error).split())
  else:
    msg = str(error).strip().strip('"').splitlines()
    text = msg[0] if msg else type(error).__name__
    if any(line.startswith('Traceback') for line in msg):  # a config file's own error
      text = f"{text.rstrip(':')}: {msg[-1].strip()}"
  if config_error:
    what = 'unknown config field ' if isinstance(error, (KeyError, AttributeError)) else ''
    text = f'bad --config option: {what}{text}'
  print(f'error: {text}', file=sys.stderr)
  return 1


def run_command(argv: Optional[Sequence[str]], define: Callable, run: Callable, doc: str,
                interrupted: Optional[str] = None) -> int:
  """Parses `argv` (default sys.argv) with the flags that `define()` defines and returns the
  exit status of `run(FLAGS)` (None: 0).

  --help prints `doc` and the flags. Flag and --config errors, and the ValueErrors and OSErrors
  of `run` (bad inputs, missing files), are one `error: ...` line and status 1. Ctrl-C prints
  `interrupted` (default `error: interrupted`) and returns 130.
  """
  from absl import flags

  argv = sys.argv if argv is None else argv
  try:
    FLAGS = define()
    if help_requested(argv):
      return print_help(FLAGS, doc)
    FLAGS(argv)
  except flags.Error as e:
    return report_error(e)
  except Exception as e:  # a bad --config file or override
    return report_error(e, config_error=True)
  try:
    return run(FLAGS) or 0
  except (ValueError, OSError) as e:
    return report_error(e)
  except KeyboardInterrupt:
    if interrupted:
      print(interrupted, file=sys.stderr)
    else:
      report_error('interrupted')
    return 130
