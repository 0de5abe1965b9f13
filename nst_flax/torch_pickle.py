"""PyTorch `torch.save` files (.pth, .pt) read with numpy alone: no torch import.

    state = torch_pickle.read_torch_file('vgg19-dcbb9e9d.pth')   # {name: np.ndarray}

Both formats of `torch.save` are read: the zip archive (torch >= 1.6: `data.pkl` plus one file
per storage) and the legacy one (pickles, then the raw storages). The unpickler resolves only the
few globals a state dict of tensors needs (tensor and parameter rebuilders, storage types,
OrderedDict) and refuses every other, so a checkpoint cannot run code.
"""
from __future__ import annotations

import collections
import io
import pickle
import zipfile
from typing import Dict

import numpy as np

__all__ = ['TorchFileError', 'read_torch_file']


class TorchFileError(ValueError):
  """A file could not be read as a `torch.save`d dict of tensors."""


_TORCH_STORAGE_DTYPES = {
    'FloatStorage': np.float32, 'DoubleStorage': np.float64, 'HalfStorage': np.float16,
    'BFloat16Storage': None, 'ByteStorage': np.uint8, 'CharStorage': np.int8,
    'ShortStorage': np.int16, 'IntStorage': np.int32, 'LongStorage': np.int64,
    'BoolStorage': np.bool_,
}


class _StorageType:
  def __init__(self, name):
    self.name = name
    if name not in _TORCH_STORAGE_DTYPES:
      raise TorchFileError(f'unsupported torch storage type {name}')
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
      ('collections', 'OrderedDict'): collections.OrderedDict,
      ('torch._utils', '_rebuild_tensor_v2'): lambda *a: _rebuild_or_defer(*a),
      ('torch._utils', '_rebuild_tensor'): lambda *a: _rebuild_or_defer(*a),
      ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
      ('torch.nn.parameter', 'Parameter'): _rebuild_parameter,
  }

  def __init__(self, file, load_storage):
    super().__init__(file)
    self._load_storage = load_storage

  def find_class(self, module, name):
    if (module, name) in self._SAFE:
      return self._SAFE[(module, name)]
    if module == 'torch' and name.endswith('Storage'):
      return _StorageType(name)
    raise pickle.UnpicklingError(f'refusing to load {module}.{name} from a weights file')

  def persistent_load(self, pid):
    # ('storage', storage_type, key, location, numel[, view_metadata])
    if not (isinstance(pid, tuple) and pid and pid[0] == 'storage'):
      raise pickle.UnpicklingError(f'unexpected persistent id {pid!r}')
    storage_type, key, numel = pid[1], str(pid[2]), int(pid[4])
    return self._load_storage(storage_type, key, numel)


def _bf16_to_f32(raw: bytes) -> np.ndarray:
  u16 = np.frombuffer(raw, np.uint16).astype(np.uint32)
  return (u16 << 16).view(np.float32)


def _storage_from_bytes(storage_type, raw: bytes, numel: int) -> np.ndarray:
  if storage_type.dtype is None:  # bfloat16
    return _bf16_to_f32(raw[: numel * 2])
  dt = np.dtype(storage_type.dtype).newbyteorder('<')
  return np.frombuffer(raw, dt, count=numel).astype(storage_type.dtype)


def _read_torch_zip(path: str):
  with zipfile.ZipFile(path) as z:
    names = z.namelist()
    pkl = [n for n in names if n.endswith('/data.pkl') or n == 'data.pkl']
    if not pkl:
      raise TorchFileError(f'{path}: zip file without data.pkl; not a torch.save file')
    prefix = pkl[0][: -len('data.pkl')]

    def load_storage(storage_type, key, numel):
      return _storage_from_bytes(storage_type, z.read(f'{prefix}data/{key}'), numel)

    with z.open(pkl[0]) as f:
      return _TorchUnpickler(io.BytesIO(f.read()), load_storage).load()


def _read_torch_legacy(path: str):
  with open(path, 'rb') as f:
    data = f.read()
  bio = io.BytesIO(data)
  magic = pickle.load(bio)
  if magic != 0x1950A86A20F9469CFC6C:
    raise TorchFileError(f'{path}: not a torch.save file (bad magic number)')
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
    numel = int(np.frombuffer(bio.read(8), '<i8')[0])
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
  except TorchFileError:
    raise
  except (pickle.UnpicklingError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as e:
    raise TorchFileError(f'{path}: could not read as a torch.save file ({e})') from e
