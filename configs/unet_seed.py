"""The seed project's U-Net, for parity: 8,639,745 parameters at 320x320 input.

32 base filters doubling over 5 levels, dropout 0.3 in the two deepest encoder blocks, no batch
norm, 3x3 stride-2 transposed convs, a 3x3/32 head conv then a 1x1 conv to one channel.

Command:
  python train.py --config configs/unet_seed.py --workdir workdirs/unet_seed

This is sized for an accelerator: on 2 CPU cores one step (batch 8, 320x320) takes several
seconds, so the 3000 steps here take hours there; on one TPU/GPU they take minutes.
"""
from configs import default


def get_config():
  config = default.get_config()
  config.model.update(base_filters=32, depth=5, dropout=0.3, dropout_levels=2,
                      batch_norm=False, up_kernel_size=3, head_filters=32)
  config.data.image_size = 320
  config.batch_size = 8
  config.eval_batch_size = 8
  config.num_train_steps = 3000
  config.optimizer.learning_rate = 1e-3
  config.eval_every_steps = 500
  config.checkpoint_every_steps = 500
  return config
