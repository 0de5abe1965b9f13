"""From-scratch person-segmentation U-Net on the embedded offline dataset (the ablation's base).

Command:
  python train.py --config configs/unet_scratch.py --workdir workdirs/unet_scratch

Override any key from the command line, e.g. `--config.num_train_steps=200 --config.model.depth=3`.
An unknown key is an error. Running the same command again resumes from the last checkpoint.
Measured (2 CPU cores, dataset 1.0.0): 1.35 steps/s when the machine was otherwise idle (~13 min
for the 1000 steps); validation IoU 0.54 at step 250 (the best checkpoint), 0.48 at step 1000:
with only 5 real people to learn from, the from-scratch network overfits them; configs/
unet_person.py (a pretrained person-segmentation network, fine-tuned) is the main job for that
reason.

The base hyper-parameters of configs/default.py, unchanged. `configs/unet_scratch.py:tiny` is
the same U-Net shrunk to seconds on a CPU, for tests and smoke runs (configs/default.py's `tiny`):
  python train.py --config configs/unet_scratch.py:tiny --workdir /tmp/unet_tiny
"""
from configs import default


def get_config(variant=''):
  return default.get_config(variant)
