"""The photo-mask flags of stylize.py and experiments/eval_real.py: parsing and its errors."""
import subprocess
import sys
import types

import pytest

from conftest import REPO
from unet_flax import mask_flags


def test_parse_flags_defaults_and_values():
  defaults = types.SimpleNamespace(mask_side=['0'], mask_square_side=['default'],
                                   mask_core='default', mask_tiles='default',
                                   mask_animals='default')
  assert mask_flags.parse_flags(defaults) == ([0], None, None, None, None)
  given = types.SimpleNamespace(mask_side=['256', '384'], mask_square_side=['none'],
                                mask_core='0.8', mask_tiles='3', mask_animals='keep')
  assert mask_flags.parse_flags(given) == ([256, 384], [], 0.8, 3, False)
  assert mask_flags.parse_animals('drop') is True
  assert mask_flags.parse_tiles('none') == mask_flags.parse_tiles('0') == 0
  assert mask_flags.parse_sides('0,160') == [0, 160]
  assert mask_flags.parse_square_sides('256,320') == [256, 320]
  assert mask_flags.parse_mask_core('none') == 0.0


@pytest.mark.parametrize('parse,value,message', [
    (mask_flags.parse_sides, '96,big', "mask side '96,big': expected comma-separated integers"),
    (mask_flags.parse_sides, '-1', "mask side '-1': expected"),
    (mask_flags.parse_square_sides, '0', "mask square side '0': expected comma-separated"),
    (mask_flags.parse_mask_core, 'high', "mask core 'high': expected a probability in"),
    (mask_flags.parse_mask_core, '1.5', "mask core '1.5': expected a probability in"),
    (mask_flags.parse_tiles, '1', "mask tiles '1': expected an integer n >= 2"),
    (mask_flags.parse_tiles, 'many', "mask tiles 'many': expected an integer n >= 2"),
    (mask_flags.parse_animals, 'yes', "mask animals 'yes': expected 'drop', 'keep' or"),
])
def test_bad_values_name_the_value(parse, value, message):
  with pytest.raises(ValueError, match=message):
    parse(value)


def test_importing_does_not_start_jax():
  # stylize.py's --help and flag errors answer before JAX loads.
  code = ('import sys; from unet_flax import mask_flags; '
          "assert 'jax' not in sys.modules, sorted(m for m in sys.modules if 'jax' in m)")
  subprocess.run([sys.executable, '-c', code], cwd=REPO, check=True)
