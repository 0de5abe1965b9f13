"""Process-level setup shared by the command-line entry points."""
import functools
import os
import sys

HELP_ARGS = ('-h', '-?', '--help', '--helpshort')


def run_app(main, errors: tuple[type[BaseException], ...] = (), **kwargs) -> None:
  """`absl.app.run(main, **kwargs)`, except that -h/--help print the program's docstring and its
  own flags with their defaults and exit 0 (absl's help flags exit 1 and do not know -h), and
  that the exceptions of the types in `errors` that `main` raises print one `error: ...` line
  (`nst_flax.cli.report_error`) and exit 1 instead of a traceback."""
  from absl import app
  if any(a in HELP_ARGS for a in sys.argv[1:]):
    app.usage(shorthelp=True, writeto_stdout=True)
    sys.exit(0)
  app.run(_reporting(main, errors) if errors else main, **kwargs)


def _reporting(main, errors):
  """`main`, with the exceptions of the types in `errors` reported as one line and exit 1."""
  from nst_flax import cli

  @functools.wraps(main)
  def reporting_main(argv):
    try:
      return main(argv)
    except errors as e:
      sys.exit(cli.report_error(e, join_lines=True))

  return reporting_main


def initialize_distributed(coordinator_address: str | None = None,
                           num_processes: int | None = None,
                           process_id: int | None = None) -> bool:
  """Starts JAX's multi-process runtime when the job runs as several processes (one per host):
  with an explicit coordinator address (GPU clusters, CPU hosts, localhost tests), or on a
  multi-host Cloud TPU slice, where JAX finds its peers itself. Must run before JAX touches a
  device. Returns whether it started; raises ValueError naming the flag that is missing."""
  import jax
  if coordinator_address:
    if num_processes is None or process_id is None:
      raise ValueError(f'--coordinator_address={coordinator_address} needs --num_processes and '
                       '--process_id (this process\'s index, 0..num_processes-1)')
    if not 0 <= process_id < num_processes:
      raise ValueError(f'--process_id={process_id}: expected 0..{num_processes - 1} for '
                       f'--num_processes={num_processes}')
    jax.distributed.initialize(coordinator_address, num_processes, process_id)
    return True
  if num_processes not in (None, 1) or process_id not in (None, 0):
    raise ValueError('--num_processes and --process_id need --coordinator_address (host:port '
                     'of process 0)')
  if len(os.environ.get('TPU_WORKER_HOSTNAMES', '').split(',')) > 1:  # a multi-host TPU slice
    jax.distributed.initialize()
    return True
  return False


def setup() -> None:
  """Keeps TensorFlow (used only for data) off the accelerators and enables JAX's persistent
  compilation cache, which makes the second start of a job several seconds faster."""
  import tensorflow as tf
  from nst_flax import compilation_cache
  tf.config.set_visible_devices([], 'GPU')
  tf.config.set_visible_devices([], 'TPU') if tf.config.list_physical_devices('TPU') else None
  compilation_cache.enable_compilation_cache()
  quiet_library_logs()


class _QuietLibraries:
  """Drops INFO records that orbax logs through absl (dozens per checkpoint)."""

  def filter(self, record) -> bool:
    import logging
    return record.levelno >= logging.WARNING or '/orbax/' not in record.pathname.replace('\\', '/')


def quiet_library_logs() -> None:
  import logging
  logging.getLogger('absl').addFilter(_QuietLibraries())
