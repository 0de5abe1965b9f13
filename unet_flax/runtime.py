"""Process-level setup shared by the command-line entry points."""
import os


def setup() -> None:
  """Keeps TensorFlow (used only for data) off the accelerators and enables JAX's persistent
  compilation cache, which makes the second start of a job several seconds faster."""
  import jax
  import tensorflow as tf
  tf.config.set_visible_devices([], 'GPU')
  tf.config.set_visible_devices([], 'TPU') if tf.config.list_physical_devices('TPU') else None
  if not os.environ.get('JAX_COMPILATION_CACHE_DIR'):
    jax.config.update('jax_compilation_cache_dir', os.path.join(
        os.path.expanduser('~'), '.cache', 'jax_compilation_cache'))
  if not os.environ.get('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS'):
    jax.config.update('jax_persistent_cache_min_compile_time_secs', 1.0)
  quiet_library_logs()


class _QuietLibraries:
  """Drops INFO records that orbax logs through absl (dozens per checkpoint)."""

  def filter(self, record) -> bool:
    import logging
    return record.levelno >= logging.WARNING or '/orbax/' not in record.pathname.replace('\\', '/')


def quiet_library_logs() -> None:
  import logging
  logging.getLogger('absl').addFilter(_QuietLibraries())
