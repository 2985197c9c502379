"""`adjustable-style-export web`: the command, and the page it writes in Chromium.

The page is exported once per module from the tiny random adjustable model,
served by Python's http.server on 127.0.0.1, and driven in headless Chromium
(WebAssembly) through Playwright. Its pictures are compared with what
onnxruntime computes in Python from the same ONNX file. The browser tests
skip, saying why, without /usr/bin/chromium, Playwright or an npm install
of the runtime (`npm ci --prefix web`).
"""

import base64
import functools
import http.server
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading

import harness
import numpy as np
import pytest
from harness import CHROMIUM, CHROMIUM_ARGS, FAKE_CAMERA, browser_or_skip
from PIL import Image

from adjustable_style.export import output_files, web

LAYERS = harness.STYLE_LAYERS
# A photo whose sides are no multiple of 4: the network pads and crops back.
PHOTO_SIZE = (61, 45)


def _runtime_or_skip():
    try:
        web.runtime_files()
    except output_files.ExportError as error:
        pytest.skip(str(error))


def _export_command(*args):
    return subprocess.run(
        [sys.executable, os.path.join(harness.REPO, "export", "web.py"), *map(str, args)],
        capture_output=True,
        text=True,
        env=dict(harness.COMMAND_ENV, PYTHONPATH=harness.REPO),
        timeout=600,
    )


# ---------------------------------------------------------------------------
# The command's refusals: one line, exit 1, nothing written.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flags, needle",
    [
        (
            ["--output={tmp}/page", "--runtime_dir={tmp}/nothing"],
            "no onnxruntime-web runtime in {tmp}/nothing; run `npm ci --prefix web`",
        ),
        (
            ["--output={tmp}/page", "--runtime_dir={tmp}/half"],
            "half lacks ort-wasm-simd-threaded.jsep.wasm",
        ),
        (["--output={tmp}/mine"], "mine: already exists; pass --overwrite"),
        (["--output={tmp}/mine", "--overwrite"], "is not an adjustable_style web page export"),
        (["--output={tmp}/page", "--size=300"], "--size must be one of 128, 256"),
        (
            ["--output={tmp}/page", "--model={tmp}/none.keras", "--runtime_dir={tmp}/full"],
            "is not a file",
        ),
    ],
)
def test_command_refuses_in_one_line(flags, needle, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    for folder, names in (("half", web.RUNTIME_FILES[:2]), ("full", web.RUNTIME_FILES)):
        (tmp_path / folder).mkdir()
        for name in names:
            (tmp_path / folder / name).write_text("")
    before = sorted(tmp_path.rglob("*"))
    result = _export_command(*(f.format(tmp=tmp_path) for f in flags))
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("export/web.py: error: "), result.stderr
    assert needle.format(tmp=tmp_path) in lines[0]
    assert sorted(tmp_path.rglob("*")) == before
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_layer_words_follow_depth():
    assert [web.layer_words(i, 3) for i in range(3)] == ["fine texture", "strokes", "large shapes"]
    assert web.layer_words(0, 1) == "style"


def test_model_names_are_short(tmp_path):
    (tmp_path / "wave").mkdir()
    (tmp_path / "wave" / "model.keras").write_bytes(b"")
    (tmp_path / "mine.keras").write_bytes(b"")
    assert web.model_name(str(tmp_path / "wave")) == "wave"
    assert web.model_name(str(tmp_path / "wave" / "model.keras")) == "wave"
    assert web.model_name(str(tmp_path / "mine.keras")) == "mine"
    assert web.model_name("great_wave") == "great_wave"
    assert web.model_name(None) == "starry_night"


# ---------------------------------------------------------------------------
# One real export of the tiny model.
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page_dir(stylizer_files, tmp_path_factory):
    _runtime_or_skip()
    output = tmp_path_factory.mktemp("web") / "page"
    result = _export_command(f"--model={stylizer_files['adjustable']}", f"--output={output}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{output}: web page, sliders {', '.join(LAYERS)}")
    return output


def test_the_folder_holds_the_page_the_model_and_the_runtime(page_dir):
    names = sorted(str(p.relative_to(page_dir)) for p in page_dir.rglob("*") if p.is_file())
    expected = [
        output_files.EXPORT_MARKER,
        web.EXAMPLE_FILE,
        *web.PAGE_FILES,
        *(f"runtime/{name}" for name in web.RUNTIME_FILES),
        web.DESCRIPTION_FILE,
        web.MODEL_FILE,
    ]
    assert names == sorted(expected)
    info = json.loads((page_dir / web.DESCRIPTION_FILE).read_text())
    assert [layer["name"] for layer in info["style_layers"]] == list(LAYERS)
    assert [layer["words"] for layer in info["style_layers"]] == [
        "fine texture",
        "strokes",
        "large shapes",
    ]
    assert info["default_alpha"] == [1.0, 1.0, 1.0] and info["adjustable"] is True
    assert info["name"] == "adjustable" and info["style_image"] is None
    assert info["runtime"]["version"] == web.runtime_version()
    # Nothing outside the folder: the page's files name no other address (the
    # camera's message tells the user to open the page at localhost).
    for name in web.PAGE_FILES:
        text = (page_dir / name).read_text()
        assert set(re.findall(r"[a-z]+://[^\s\"'`)]*", text)) <= {"http://localhost"}, name


def test_overwrite_replaces_only_an_unchanged_page_export(
    page_dir, stylizer_files, tmp_path, monkeypatch
):
    from adjustable_style import model_files
    from adjustable_style.export import onnx as onnx_export

    stylizer, _ = model_files.load_stylizer(stylizer_files["adjustable"])
    # The conversion is page_dir's: these rules are about the folder, not the model.
    model_bytes = (page_dir / web.MODEL_FILE).read_bytes()
    monkeypatch.setattr(onnx_export, "checked_onnx", lambda *args, **kw: (model_bytes, 0.0))
    out = tmp_path / "out"

    def export(**args):
        return web.export_web(stylizer, str(out), name="again", **args)

    shutil.copytree(page_dir, out)
    with pytest.raises(output_files.ExportError, match="already exists; pass --overwrite"):
        export()
    # An earlier page export, unchanged: replaced (the new description shows it).
    path, _ = export(overwrite=True)
    assert path == str(out)
    assert json.loads((out / web.DESCRIPTION_FILE).read_text())["name"] == "again"
    assert output_files.foreign_file(str(out), web.MARKER_FORMAT) is None
    # A file the user added, or one changed since: refused, kept.
    for name, why in (
        ("MY_NOTES.txt", "was not written by the export"),
        ("index.html", "changed since the export wrote it"),
    ):
        shutil.rmtree(out)
        shutil.copytree(page_dir, out)
        (out / name).write_text("mine")
        with pytest.raises(output_files.ExportError) as error:
            export(overwrite=True)
        assert str(error.value).startswith(f"{out / name}: {why}; --overwrite")
        assert (out / name).read_text() == "mine"
    # Another export format's folder is no page export, even with its marker.
    shutil.rmtree(out)
    out.mkdir()
    marker = {"format": "adjustable_style SavedModel", "files": {}}
    (out / output_files.EXPORT_MARKER).write_text(json.dumps(marker))
    with pytest.raises(output_files.ExportError, match="is not an adjustable_style web page"):
        export(overwrite=True)
    assert os.listdir(out) == [output_files.EXPORT_MARKER]
    # Nothing half-written is left beside the output.
    assert sorted(os.listdir(tmp_path)) == ["out"]


# ---------------------------------------------------------------------------
# The page in Chromium.
# ---------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def page_url(page_dir):
    handler = functools.partial(_QuietHandler, directory=str(page_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def onnx_run(page_dir):
    pytest.importorskip("onnxruntime")
    from adjustable_style.export import onnx as onnx_export

    return onnx_export.onnx_runner((page_dir / web.MODEL_FILE).read_bytes())


def _png(width, height, seed):
    """A photo-like PNG (smooth gradients and flat blocks), and its pixels."""
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    blocks = np.kron(np.random.default_rng(seed).random((8, 8, 3)), np.ones((8, 8, 1)))
    pixels = 0.5 * np.stack([x, y, 1 - x], -1) + 0.5 * blocks[:height, :width]
    pixels = (pixels * 255).round().astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue(), pixels


SHOWN_JS = """() => {
  const c = document.querySelector('#result');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  return {width: c.width, height: c.height, pixels: Array.from(d)};
}"""

IDLE_AFTER_JS = """frames => document.body.dataset.busy === '0'
  && Number(document.querySelector('#result').dataset.frames || 0) > frames"""


def _shown(page):
    shown = page.evaluate(SHOWN_JS)
    rgba = np.array(shown["pixels"], np.uint8).reshape(shown["height"], shown["width"], 4)
    assert (rgba[..., 3] == 255).all()
    return rgba[..., :3]


def _frames(page):
    return int(page.get_attribute("#result", "data-frames") or 0)


def _expected(onnx_run, pixels, alpha, keep_colours=False):
    from adjustable_style import color, images

    content = pixels[None].astype(np.float32) / 255
    out = onnx_run(content, np.asarray([alpha], np.float32))
    if keep_colours:
        out = np.asarray(color.preserve_color(content, out))
    return images.to_uint8(out[0]).astype(int)


def _set_slider(page, layer, value):
    page.eval_on_selector(
        f"#alpha-{layer}",
        "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }",
        str(value),
    )


def test_page_stylizes_in_chromium_as_onnxruntime_does(page_url, onnx_run, tmp_path):
    sync_playwright = browser_or_skip()
    png, pixels = _png(*PHOTO_SIZE, seed=5)
    (tmp_path / "photo.png").write_bytes(png)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(accept_downloads=True)
            page.set_default_timeout(600_000)
            requests, errors = [], []
            page.on("request", lambda request: requests.append(request.url))
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(page_url + "?backend=wasm&size=128")
            # The example photo is stylized on load, at the chosen size.
            page.wait_for_function(IDLE_AFTER_JS, arg=0)
            assert page.text_content("#backend").startswith("WebAssembly")
            assert page.text_content("#model-name") == "adjustable"
            assert page.get_attribute("#result", "data-kind") == "photo"
            assert max(_shown(page).shape[:2]) == 128
            assert "ms a frame" in page.text_content("#timing")

            # Controls have names; the status is announced.
            for i, layer in enumerate(LAYERS):
                label = page.get_attribute(f"#alpha-{layer}", "aria-label")
                assert layer in label and ("fine texture", "strokes", "large shapes")[i] in label
                assert page.text_content(f"#alpha-{layer}-value") == "1"
            assert page.get_attribute("#status", "aria-live") or page.get_attribute(
                "[role=status]", "aria-live"
            )

            # An uploaded photo: what onnxruntime computes in Python, within 2 levels.
            frames = _frames(page)
            page.set_input_files("#upload", str(tmp_path / "photo.png"))
            page.wait_for_function(IDLE_AFTER_JS, arg=frames)
            at_one = _shown(page).astype(int)
            assert at_one.shape == pixels.shape
            assert np.abs(at_one - _expected(onnx_run, pixels, [1, 1, 1])).max() <= 2

            # A slider changes the picture, to what onnxruntime makes at that alpha.
            frames = _frames(page)
            _set_slider(page, "block2_conv2", 0)
            page.wait_for_function(IDLE_AFTER_JS, arg=frames)
            assert page.text_content("#alpha-block2_conv2-value") == "0"
            moved = _shown(page).astype(int)
            assert np.abs(moved - at_one).mean() > 1
            assert np.abs(moved - _expected(onnx_run, pixels, [0, 1, 1])).max() <= 2

            # Keep colours: the photo's colours under the stylized light, as color.py does.
            frames = _frames(page)
            page.check("#keep-colours")
            page.wait_for_function(
                "f => Number(document.querySelector('#result').dataset.frames) > f", arg=frames
            )
            page.wait_for_function("() => document.body.dataset.busy === '0'")
            kept = _shown(page).astype(int)
            expected = _expected(onnx_run, pixels, [0, 1, 1], keep_colours=True)
            assert np.abs(kept - expected).max() <= 2
            page.uncheck("#keep-colours")

            # Many slider moves at once: one inference in flight, the latest wins.
            page.wait_for_function("() => document.body.dataset.busy === '0'")
            frames = _frames(page)
            page.evaluate("""() => {
              const el = document.querySelector('#alpha-block3_conv4');
              for (let k = 0; k <= 10; k++) { el.value = String(k / 10); el.dispatchEvent(new Event('input')); }
            }""")
            page.wait_for_function(IDLE_AFTER_JS, arg=frames)
            assert _frames(page) - frames <= 2
            assert page.get_attribute("#result", "data-alpha") == "0,1,1"

            # Random alphas: on the sliders' grid, and the picture follows them.
            frames = _frames(page)
            page.click("#randomize")
            page.wait_for_function(IDLE_AFTER_JS, arg=frames)
            alpha = [float(v) for v in page.get_attribute("#result", "data-alpha").split(",")]
            assert alpha != [0, 1, 1] and all(
                0 <= a <= 1 and abs(a * 100 - round(a * 100)) < 1e-9 for a in alpha
            )
            for layer, a in zip(LAYERS, alpha):
                assert float(page.input_value(f"#alpha-{layer}")) == a
            assert np.abs(_shown(page) - _expected(onnx_run, pixels, alpha)).max() <= 2

            # A photo dropped on the picture.
            frames = _frames(page)
            dropped, dropped_pixels = _png(40, 30, seed=6)
            transfer = page.evaluate_handle(
                """b64 => { const t = new DataTransfer();
                  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
                  t.items.add(new File([bytes], 'drop.png', {type: 'image/png'})); return t; }""",
                base64.b64encode(dropped).decode(),
            )
            page.dispatch_event("#drop-zone", "drop", {"dataTransfer": transfer})
            page.wait_for_function(IDLE_AFTER_JS, arg=frames)
            assert _shown(page).shape == dropped_pixels.shape

            # The download is the picture shown.
            with page.expect_download() as download:
                page.click("#download")
            assert download.value.suggested_filename == "stylized.png"
            saved = np.asarray(Image.open(download.value.path()).convert("RGB"))
            assert np.array_equal(saved, _shown(page))

            # Not an image: one line on the page, and the page keeps working.
            (tmp_path / "notes.png").write_text("not a picture")
            page.set_input_files("#upload", str(tmp_path / "notes.png"))
            page.wait_for_selector("#error:not([hidden])")
            assert "not an image this browser can read" in page.text_content("#error")
            frames = _frames(page)
            _set_slider(page, "block4_conv4", 0.5)
            page.wait_for_function(IDLE_AFTER_JS, arg=frames)

            # A phone: the picture in the first screen, nothing wider than it.
            page.set_viewport_size({"width": 390, "height": 844})
            box = page.locator("#result").bounding_box()
            assert box["y"] >= 0 and box["y"] + box["height"] <= 844
            assert page.evaluate("() => document.documentElement.scrollWidth") <= 390

            foreign = [url for url in requests if not url.startswith((page_url, "blob:", "data:"))]
            assert foreign == []
            assert errors == []
        finally:
            browser.close()


def test_camera_is_stylized_live_in_chromium(page_url):
    sync_playwright = browser_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS + FAKE_CAMERA
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(600_000)
            requests = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(page_url + "?backend=wasm&size=128&example=0")
            page.wait_for_function("() => document.body.dataset.busy === '0'")
            page.click("#camera")
            page.wait_for_selector("#camera[aria-pressed=true]")
            page.wait_for_function(
                """() => { const c = document.querySelector('#result');
                  return c.dataset.kind === 'camera' && Number(c.dataset.frames) >= 3; }"""
            )
            assert float(page.get_attribute("#timing", "data-fps")) > 0
            frames = _frames(page)
            _set_slider(page, "block2_conv2", 0)
            page.wait_for_function(
                """f => { const c = document.querySelector('#result');
                  return Number(c.dataset.frames) > f + 1 && c.dataset.alpha === '0,1,1'; }""",
                arg=frames,
            )
            page.click("#camera")
            assert page.get_attribute("#camera", "aria-pressed") == "false"
            page.wait_for_function("() => document.body.dataset.busy === '0'")
            assert [url for url in requests if not url.startswith((page_url, "blob:"))] == []

            # No camera at all: one clear line, and the page goes on.
            page = browser.new_page()
            page.set_default_timeout(600_000)
            page.add_init_script(
                "navigator.mediaDevices.getUserMedia = () => Promise.reject("
                "new DOMException('Requested device not found', 'NotFoundError'));"
            )
            page.goto(page_url + "?backend=wasm&size=128&example=0")
            page.wait_for_function("() => document.body.dataset.busy === '0'")
            page.click("#camera")
            page.wait_for_selector("#error:not([hidden])")
            assert "No camera found" in page.text_content("#error")
        finally:
            browser.close()
