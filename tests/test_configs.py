"""The configs: each loads from its file as `--config` loads it, every unet config derives from
configs/default.py's base (its keys, their types), and every value is the recorded one.

tests/configs_snapshot.json records every unet and ablation config's values; after changing a
config on purpose, `python tests/test_configs.py` rewrites it (and the diff shows what changed).
"""
import glob
import json
import os

import ml_collections
import pytest
from absl import flags
from ml_collections import config_flags

from configs import default

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'configs')
SNAPSHOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'configs_snapshot.json')
# configs/nst_default.py is nst_flax.config's (tests/test_nst_cli.py covers it).
NAMES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(CONFIG_DIR, '*.py'))
               if os.path.basename(p) not in ('__init__.py', 'nst_default.py'))
UNET_NAMES = [n for n in NAMES if not n.startswith('ablation_')]


def leaves(config: ml_collections.ConfigDict, prefix: str = '') -> dict:
  """{'data.image_size': (96, None), ...}: each leaf's value and, for a field reference (e.g. a
  placeholder), the type that `--config.x=...` parses to."""
  out = {}
  for key in sorted(config.keys()):
    value = config[key]
    if isinstance(value, ml_collections.ConfigDict):
      out.update(leaves(value, f'{prefix}{key}.'))
      continue
    field = config._fields[key]  # pylint: disable=protected-access
    out[f'{prefix}{key}'] = (value, field.get_type() if isinstance(
        field, ml_collections.FieldReference) else None)
  return out


def flatten(config: ml_collections.ConfigDict) -> dict[str, str]:
  """{'data.image_size': '96', ...}: each value's repr, with its type where it is a None
  placeholder."""
  return {k: repr(v) + (f' ({kind.__name__})' if v is None and kind else '')
          for k, (v, kind) in leaves(config).items()}


def load_all() -> dict[str, dict[str, str]]:
  # configs/unet_coco.py sizes its loader to the host's cores: fix them for a stable record.
  cpu_count = os.cpu_count
  os.cpu_count = lambda: 8
  try:
    return {name: flatten(_load(name)) for name in NAMES}
  finally:
    os.cpu_count = cpu_count


def _load(name: str, arg: str = '') -> ml_collections.ConfigDict:
  """The config as `--config configs/<name>.py[:arg]` loads it (from the file, not the package)."""
  values = flags.FlagValues()
  config_flags.DEFINE_config_file('config', flag_values=values)
  path = os.path.join(CONFIG_DIR, f'{name}.py') + (f':{arg}' if arg else '')
  values(['prog', f'--config={path}'])
  return values.config


def test_every_config_is_the_recorded_one():
  with open(SNAPSHOT) as f:
    expected = json.load(f)
  assert sorted(expected) == NAMES
  for name, values in load_all().items():
    assert values == expected[name], name


@pytest.mark.parametrize('name', UNET_NAMES)
def test_unet_configs_keep_every_base_key_and_its_type(name):
  base = leaves(default.get_config())
  config = leaves(_load(name))
  assert config.keys() >= base.keys()   # a dataset may add its own keys (unet_coco)
  for key, (value, _) in base.items():  # a changed value keeps its type (a float stays a float)
    other = config[key][0]
    assert value is None or other is None or type(other) is type(value), key


def test_tiny_variant_from_the_command_line():
  tiny = flatten(default.tiny(default.get_config()))
  assert flatten(_load('unet_scratch', 'tiny')) == flatten(_load('default', 'tiny')) == tiny
  assert tiny['data.builder_config'] == "'tiny'" and tiny['num_train_steps'] == '6'
  with pytest.raises(flags.Error, match="unknown config variant 'huge'"):
    _load('default', 'huge')


if __name__ == '__main__':
  with open(SNAPSHOT, 'w') as f:
    json.dump(load_all(), f, indent=1, sort_keys=True)
    f.write('\n')
  print(f'wrote {SNAPSHOT}')
