"""Writes experiments/colab_tpu.ipynb: edit the cells here, then `python experiments/make_colab_notebook.py`.

The notebook is committed; tests/test_colab_notebook.py executes its code cells on CPU.
"""
import argparse
import os

import nbformat
from nbformat.v4 import new_notebook, new_markdown_cell, new_code_cell

cells = []
md = lambda s: cells.append(new_markdown_cell(s.strip('\n')))
code = lambda s: cells.append(new_code_cell(s.strip('\n')))

md(r'''
# Person-preserving style transfer on a Colab TPU

*Runtime > Change runtime type > TPU*, then *Run all*. This notebook

1. installs the package (JAX for TPU, and TensorFlow's CPU build, which `tensorflow-datasets` needs
   and which Colab's TPU runtime no longer ships),
2. shows the TPU cores JAX sees,
3. trains the person-segmentation U-Net with `unet_flax.train.train_and_evaluate`, the main job's
   trainer: one `jax.make_mesh` 'data' axis over all cores, each batch split across them with a
   `NamedSharding` (the same code path that runs on one CPU),
4. runs a small `base_filters` x `depth` ablation with `unet_flax.ablation.run_grid`,
5. stylizes a photo of a person with `stylize.py` (background painted, the person kept).

A test (`tests/test_colab_notebook.py`) runs every code cell on CPU with `UNET_SMOKE_TEST=1`
(tiny data, tiny models, a few steps), skipping the `!` shell lines, so the notebook cannot rot.
''')

code(r'''
import os

# Where the code comes from: set this to the repository's URL (a fork works too).
REPO_URL = 'https://github.com/YOUR_ORG/person-preserving-nst.git'  # placeholder
REPO_DIR = os.environ.get('UNET_REPO_DIR', '/content/person-preserving-nst')
WORK = os.environ.get('UNET_WORKDIR', '/content/work')     # workdirs, results, images
SMOKE = os.environ.get('UNET_SMOKE_TEST') == '1'          # the CPU test: shrink everything
DATA_DIR = os.environ.get('UNET_DATA_DIR')                # None: ~/tensorflow_datasets
os.makedirs(WORK, exist_ok=True)
''')

md(r'''
## 1. Install

JAX with the TPU runtime (`libtpu`) at the version the package pins; `tensorflow-cpu` because
`tensorflow-datasets` builds and reads datasets through TensorFlow (the TPU runtime image no longer
has it; the CPU build keeps TensorFlow off the TPU, JAX does the compute); then the package itself,
editable, from a clone.
''')

code(r'''
!pip install -q "jax[tpu]==0.10.2" "tensorflow-cpu==2.21.0" "tensorflow-datasets==4.9.10"
![ -d {REPO_DIR} ] || git clone -q {REPO_URL} {REPO_DIR}
!pip install -q -e {REPO_DIR}
''')

code(r'''
import sys

# The editable install is picked up by a fresh kernel; putting the clone on sys.path makes this
# kernel, started before the install, see it too (and stylize.py, at the clone's root).
os.chdir(REPO_DIR)
if REPO_DIR not in sys.path:
  sys.path.insert(0, REPO_DIR)

from unet_flax import runtime
runtime.setup()   # TensorFlow (data only) off the accelerator; JAX's compilation cache on

import jax
from IPython.display import Image, Markdown, display

print(jax.__version__, jax.default_backend())
print(f'{jax.device_count()} devices:', jax.devices())
''')

md(r'''
## 2. Train the U-Net on all TPU cores

`train_and_evaluate` builds a 1-D mesh over `jax.devices()`; the global batch must be a multiple
of the core count (each core gets `batch_size / n` images). The data is the embedded offline
`person_composite` dataset (built on first use, no download). Running the cell again resumes from
the workdir's checkpoints.
''')

code(r'''
from configs import default   # the from-scratch U-Net's hyper-parameters
from unet_flax import train

n = jax.device_count()
config = default.get_config()
config.batch_size = 16 * n        # 16 images per core, split along the mesh's 'data' axis
config.eval_batch_size = 8 * n
config.dtype = 'bfloat16'         # bfloat16 compute; parameters, optimizer and loss in float32
config.data.data_dir = DATA_DIR
if SMOKE:   # seconds on a CPU: tiny model and data, batch 8, 6 steps
  default.tiny(config)

UNET_DIR = os.path.join(WORK, 'unet')
summary = train.train_and_evaluate(config, UNET_DIR)
print(f"step {summary['step']} on {summary['devices']} devices: validation IoU "
      f"{summary['eval']['iou']:.4f}, Dice {summary['eval']['dice']:.4f}, "
      f"{summary['num_params']:,} parameters, {summary['flops_per_step'] / 1e9:.1f} GFLOPs/step")
last_grid = sorted(os.listdir(os.path.join(UNET_DIR, 'eval')))[-1]
display(Image(filename=os.path.join(UNET_DIR, 'eval', last_grid)))  # image | truth | prob | overlay
''')

md(r'''
## 3. A small ablation: `base_filters` x `depth`

`run_grid` trains every (cell, seed) through the same `train_and_evaluate` (so every run is
sharded over all cores), skips runs that finished before, and resumes interrupted ones;
`write_results` writes the CSV, the Markdown table and the plots. This is a 3 x 2 grid with 2
seeds; the full TPU grid (4 x 4, 3 seeds) is
`python experiments/ablate_unet.py --config configs/ablation_tpu.py`.
''')

code(r'''
from configs import ablation_tpu
from unet_flax import ablation

grid_config = ablation_tpu.get_config()   # `base` (a unet config) and `grid`
grid, base = grid_config.grid, grid_config.base
grid.base_filters, grid.depths, grid.seeds = (8, 16, 32), (3, 4), (0, 1)
base.num_train_steps = 500
base.eval_every_steps = base.checkpoint_every_steps = 500
base.batch_size = 16 * n
base.eval_batch_size = 8 * n
base.data.data_dir = DATA_DIR
if SMOKE:
  grid.base_filters, grid.depths, grid.seeds = (4, 8), (2,), (0,)
  default.tiny(base)

rows = ablation.run_grid(grid_config, os.path.join(WORK, 'ablation'))
results = ablation.write_results(rows, os.path.join(WORK, 'results'), 'ablation_colab',
                                 ablation.describe(grid_config))
display(Markdown(open(results['md']).read()))
display(Image(filename=results['iou_vs_params']))
display(Image(filename=results['heatmaps']))
''')

md(r'''
## 4. Stylize a photo, keeping the person

`stylize.py` predicts the person mask with the U-Net trained above, paints the background in the
style of Van Gogh's *Starry Night* (VGG19 style transfer, style statistics from the background
only), and composes `mask * photo + (1 - mask) * stylized`. It runs in this kernel (a second
process could not open the TPU that this one holds). Given a folder (`--content photos/ --out
out/`), it styles one photo per TPU core at once.
''')

code(r'''
import skimage.data
from absl import flags
from PIL import Image as PILImage

import stylize

photo = os.path.join(WORK, 'astronaut.png')
PILImage.fromarray(skimage.data.astronaut()).save(photo)   # a real photo of a person
out = os.path.join(WORK, 'astronaut_starry.png')
argv = ['stylize.py', '--content', photo, '--style', 'docs/starry_night.jpg', '--unet', UNET_DIR,
        '--out', out]
if SMOKE:
  argv += ['--config.size=64', '--config.multiscale=False', '--config.steps=4',
           '--config.refine_steps=0', '--config.log_every=0']
sys.argv = argv   # ml_collections finds the --config.x overrides in sys.argv
if 'unet' in flags.FLAGS:   # the cell ran before in this kernel: parse again, do not redefine
  flags.FLAGS.unparse_flags()
  flags.FLAGS(argv)
  stylize.run(flags.FLAGS)
else:
  assert stylize.main(argv) == 0
display(Image(filename=out.replace('.png', '_sheet.png')))   # photo | mask | stylized | result
''')

for i, cell in enumerate(cells):   # stable ids: regenerating changes only what was edited
  cell['id'] = f'cell-{i:02d}'

nb = new_notebook(cells=cells, metadata={
    'accelerator': 'TPU',
    'colab': {'provenance': [], 'gpuType': 'V28'},
    'kernelspec': {'display_name': 'Python 3', 'name': 'python3'},
    'language_info': {'name': 'python'},
})
nbformat.validate(nb)
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
parser.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  'colab_tpu.ipynb'), help='notebook to write')
nbformat.write(nb, parser.parse_args().out)
print('ok')
