"""Process-level setup shared by the command-line entry points."""
import sys

HELP_ARGS = ('-h', '-?', '--help', '--helpshort')


def run_app(main, **kwargs) -> None:
  """`absl.app.run(main, **kwargs)`, except that -h/--help print the program's docstring and its
  own flags with their defaults and exit 0 (absl's help flags exit 1 and do not know -h)."""
  from absl import app
  if any(a in HELP_ARGS for a in sys.argv[1:]):
    app.usage(shorthelp=True, writeto_stdout=True)
    sys.exit(0)
  app.run(main, **kwargs)


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
