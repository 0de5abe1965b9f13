"""Main job: MediaPipe's person-segmentation network, fine-tuned on the embedded data.

Command:
  python train.py --config configs/unet_person.py --workdir workdirs/unet_person

The whole released MediaPipe selfie segmentation network (unet_flax/mediapipe_selfie.py, 0.1 M
parameters, trained by its authors on a large person-segmentation set; weights read from the
npm package's .tflite) is fine-tuned on person_composite at 160 px: its decoder at
learning_rate, its encoder at learning_rate * encoder_lr_factor. Fine-tuning teaches it that
photos without people (a cat, flowers) have none: the released network calls 75-93% of the cat
photo person. Fine-tuning alone also costs it some of what it knew of real people (composites
are not photos), so evaluation, the best checkpoint and prediction use the parameters 30% of
the way from the released to the fine-tuned ones (`weight_interpolation=0.3`, WiSE-FT). Three
such runs (seeds 0, 1, 2, under workdir/members/) are ensembled: their probabilities averaged
(`ensemble_size=3`), which outvotes what one run alone calls person. Photos
are seen with their long side at 256 and 384 px, squashed to 256 x 256 and as 2 x 2 overlapping
crops, the views averaged (`predict.MEDIAPIPE_PHOTO_SIDES`, `predict.MEDIAPIPE_SQUARE_SIDES`,
`predict.MEDIAPIPE_TILES`), regions of the mask that never reach 0.9 are dropped
(`predict.MEDIAPIPE_MASK_CORE`), and so are those that an ImageNet classifier sees as animals
(`predict.MEDIAPIPE_DROP_ANIMALS`, `unet_flax/animal_regions.py`).

Measured (2 CPU cores, person_composite 7.0.0): one run (400 steps at 1.6 steps/s, with its
evaluations and checkpoints) takes 288-296 s on idle cores; from a fresh clone in a new venv
(2026-12-04) the install took 60 s and this job 16 min 54 s: the dataset build and the three
runs (5.0-5.3 min each). Validation IoU of one run 0.480 (of the ensemble 0.484) on the
composites, whose validation people are the canteen's crowd (VGG19: 0.743).
Real photos held out of training (experiments/eval_real.py, experiments/README.md, 2026-12-04;
ensembles of seeds 0-2 and of seeds 3-5 per held-out config): the labelme photos 0.824 and 0.829
on average (the reference model 0.788, VGG19 0.657), the canteen 0.720 and 0.761 (VGG19 0.659,
the reference 0.569); agreement with the reference on 7 held-out photos of people 0.948-0.959 on
average, worst 0.867-0.891 (the soldier of BWPictureHuman.jpg, the footballer of messi5.jpg,
against VGG19's 0.35 there); the 9 photos without people (the cat, a cheetah cub's face, a quokka
sitting up among them): under 1% called person by every ensemble (2026-12-05; without the animal
check the cub 36-49%, the quokka 30%, the cat 3.0-3.2% in two); GCompris's 57 animal scenes:
every one at 0% (without the check 41-44 over 2%, the reference 46).
"""
from configs import default


def get_config():
  config = default.get_config()
  config.model.update(encoder='mediapipe_selfie', decoder='mediapipe_selfie', depth=5,
                      dropout=0.0)
  config.data.image_size = 160
  config.batch_size = 16
  config.eval_batch_size = 16
  config.num_train_steps = 400
  config.eval_every_steps = 200
  config.checkpoint_every_steps = 100
  config.optimizer.learning_rate = 3e-4
  config.optimizer.warmup_steps = 50
  config.optimizer.encoder_frozen_steps = 0
  config.optimizer.encoder_lr_factor = 0.3
  config.weight_interpolation = 0.3
  config.ensemble_size = 3
  return config
