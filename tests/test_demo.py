"""demo.py and adjustable_style.demo: the request handlers and the page.

Fast tests call `DemoApp.handle` in process (no sockets); one test speaks
HTTP to a real server; one drives the page in headless Chromium through
Playwright (skipped, with the reason, when Playwright or Chromium is not
installed). A tiny random-weights model and small sizes keep it quick.
"""

import base64
import http.client
import io
import json
import os
import threading
import time
import types
import urllib.parse

import numpy as np
import pytest
from harness import CHROMIUM, CHROMIUM_ARGS, FAKE_CAMERA, browser_or_skip
from PIL import Image

from adjustable_style import alpha_vectors, color, images, model_files
from adjustable_style import demo as demo_lib
from adjustable_style.demo import regions as demo_regions
from adjustable_style.stylize import options as stylize_options
from adjustable_style.stylize import pictures as stylize_lib

STYLE_LAYERS = ("block2_conv2", "block3_conv4", "block4_conv4")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A random-weights adjustable stylizer whose alpha visibly matters.

    Lambda's output layer starts at N(0, 1e-3), which makes alpha almost
    irrelevant in an untrained model; a larger random kernel fixes that.
    """
    import keras

    from adjustable_style.model import networks

    keras.utils.set_random_seed(5)
    stylizer = networks.build_adjustable_stylizer(STYLE_LAYERS)
    kernel = stylizer.get_layer("alpha_network").gamma_beta.kernel
    kernel.assign(np.random.default_rng(5).normal(0, 0.05, kernel.shape).astype(np.float32))
    path = tmp_path_factory.mktemp("demo_model") / "tiny.keras"
    stylizer.save(path)
    return str(path)


@pytest.fixture(scope="module")
def app(model_path):
    return demo_lib.DemoApp(demo_lib.Config(model=model_path, preview_size=48, max_size=96))


def png_bytes(height, width, seed=0):
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def decode_png(data):
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def call(app, method, path, body=b"", **params):
    return app.handle(method, path, urllib.parse.urlencode(params), body)


def load_example(app, client, name="chelsea.png"):
    response = call(app, "POST", "/api/content", client=client, example=name)
    assert response.status == 200, response.body
    return response.json["content_id"]


def stylize(app, client_id, content_id, model, **params):
    params = {
        "client": client_id,
        "content": content_id,
        "model": model,
        "seq": 1,
        "size": "full",
        "seed": 7,
        **params,
    }
    return call(app, "GET", "/api/stylize", **params)


# ---------------------------------------------------------------------------
# Handlers, in process.
# ---------------------------------------------------------------------------


def test_info_lists_the_given_model_and_the_examples(app, model_path):
    info = call(app, "GET", "/api/info").json
    assert info["default_model"] == model_path
    assert model_path in [m["key"] for m in info["models"]]
    assert {"chelsea.png", "grace_hopper.jpg", "rocket.jpg"} <= set(info["examples"])
    assert info["preview_size"] == 48 and info["max_size"] == 96
    model = call(app, "GET", "/api/model", name=model_path).json
    assert model["style_layers"] == list(STYLE_LAYERS) and model["adjustable"]


def test_page_is_self_contained(app):
    response = call(app, "GET", "/")
    assert response.status == 200 and response.content_type.startswith("text/html")
    page = response.body.decode()
    # No resource from anywhere but this server.
    assert "http://" not in page and "https://" not in page and "//cdn" not in page
    assert 'id="result"' in page and 'id="randomize"' in page


def test_page_files_are_served_from_the_package(app):
    page = call(app, "GET", "/").body.decode()
    for path, kind in (
        ("/demo.css", "text/css"),
        ("/demo.js", "text/javascript"),
        ("/camera.js", "text/javascript"),
        ("/brush.js", "text/javascript"),
    ):
        assert f'"{path}"' in page
        response = call(app, "GET", path)
        assert response.status == 200 and response.content_type.startswith(kind)
        assert response.body
    assert "<script>" not in page and "<style>" not in page and 'style="' not in page
    assert "unsafe-inline" not in demo_lib.server.CONTENT_SECURITY_POLICY


def test_missing_default_model_is_a_notice_not_a_crash(monkeypatch):
    monkeypatch.setattr(model_files, "shipped_models", lambda: [])
    app = demo_lib.DemoApp(demo_lib.Config())
    info = call(app, "GET", "/api/info").json
    assert info["default_model"] is None and info["models"] == []
    assert model_files.DEFAULT_MODEL in info["notice"] and "--model" in info["notice"]
    response = call(app, "GET", "/api/model", name=model_files.DEFAULT_MODEL)
    assert response.status == 404 and "unknown model" in response.json["error"]


def test_non_image_upload_is_a_clear_error(app):
    response = call(app, "POST", "/api/content", b"just some text\n", client="c1", name="notes.txt")
    assert response.status == 400
    assert response.json == {
        "error": "notes.txt: not an image file, or a format Pillow cannot read"
    }
    empty = call(app, "POST", "/api/content", b"", client="c1", name="empty.png")
    assert empty.status == 400 and "empty" in empty.json["error"]
    # The app still serves this client.
    assert load_example(app, "c1")


def test_upload_over_the_pixel_limit_is_refused(model_path):
    small = demo_lib.DemoApp(
        demo_lib.Config(model=model_path, preview_size=48, max_size=96, max_pixels=1000)
    )
    response = call(small, "POST", "/api/content", png_bytes(40, 50), client="c2", name="big.png")
    assert response.status == 400
    assert response.json["error"].startswith("big.png: image is 50x40")
    assert "over the limit" in response.json["error"]
    ok = call(small, "POST", "/api/content", png_bytes(20, 30), client="c2", name="ok.png")
    assert ok.status == 200 and (ok.json["width"], ok.json["height"]) == (30, 20)


def test_unknown_model_example_and_route(app):
    content = load_example(app, "c3")
    response = stylize(app, "c3", content, "no_such_model")
    assert response.status == 404
    assert response.json["error"].startswith("unknown model 'no_such_model'; this demo serves:")
    response = call(app, "POST", "/api/content", client="c3", example="../setup.py")
    assert response.status == 404 and "unknown example" in response.json["error"]
    assert call(app, "GET", "/nope").status == 404
    assert call(app, "POST", "/api/info").status == 405


@pytest.mark.parametrize(
    "alpha, message",
    [
        ("1.5", "alpha entry '1.5' is outside [0, 1]"),
        ("block2_conv2=-0.1", "alpha entry 'block2_conv2=-0.1' is outside [0, 1]"),
        ("block9_conv1=0.5", "unknown style layer"),
        ("0.1,0.2", "alpha"),
    ],
)
def test_bad_alpha_is_a_clear_error(app, model_path, alpha, message):
    content = load_example(app, "c4")
    response = stylize(app, "c4", content, model_path, alpha=alpha)
    assert response.status == 400
    assert message in response.json["error"]


def test_bad_seed_size_and_client(app, model_path):
    content = load_example(app, "c5")
    for params, status, message in [
        ({"seed": "-3"}, 400, "seed '-3' must be a whole number"),
        ({"seed": "x"}, 400, "seed 'x'"),
        ({"size": "huge"}, 400, "size must be"),
        ({"seed": "", "noise": "1"}, 400, "needs a seed"),
        ({"client": "bad client!"}, 400, "'client'"),
        ({"client": "never-seen"}, 410, "pick the photo again"),
        # One seed range for the demo and every command; ASCII digits only.
        ({"seed": str(2**32)}, 400, "must be a whole number in 0..4294967295"),
        ({"seed": "１"}, 400, "seed '１'"),
        ({"seed": "9" * 5000}, 400, "must be a whole number"),
        # Request numbers are bounded (past it, every later request would be stale).
        ({"seq": str(2**53 + 1)}, 400, "seq"),
        ({"seq": "99999999999999999999999999999999"}, 400, "must be a whole number in 0.."),
        ({"seq": "-1"}, 400, "seq"),
        ({"seq": "１"}, 400, "seq"),
    ]:
        response = stylize(app, "c5", content, model_path, **params)
        assert response.status == status, params
        assert message in response.json["error"], params


def test_full_picture_is_what_the_printed_command_makes(app, model_path, tmp_path):
    content = load_example(app, "c6", "grace_hopper.jpg")
    alpha = "block2_conv2=0.31,block3_conv4=0.9,block4_conv4=0"
    response = stylize(app, "c6", content, model_path, alpha=alpha, noise="1", seed=123)
    assert response.status == 200 and response.content_type == "image/png"
    picture = decode_png(response.body)
    assert max(picture.shape[:2]) == 96
    assert urllib.parse.unquote(response.headers["X-Alpha"]) == alpha
    command = urllib.parse.unquote(response.headers["X-Command"])
    assert command == (
        f"python stylize.py --model={model_path} "
        f"--content={os.path.relpath(demo_lib.EXAMPLES_DIR)}/grace_hopper.jpg "
        f"--output=stylized.png --max_size=96 --alpha={alpha} --content_noise --seed=123"
    )

    out = tmp_path / "stylized.png"
    stylize_lib.run(
        stylize_options.Options(
            model=model_path,
            content=os.path.join(demo_lib.EXAMPLES_DIR, "grace_hopper.jpg"),
            output=str(out),
            max_size=96,
            alpha=alpha,
            content_noise=True,
            seed=123,
        ),
        out=lambda line: None,
    )
    np.testing.assert_array_equal(picture, np.asarray(Image.open(out).convert("RGB")))


def test_preview_is_small_and_alpha_changes_the_picture(app, model_path):
    content = load_example(app, "c7")
    low = stylize(app, "c7", content, model_path, alpha="0", size="preview")
    high = stylize(app, "c7", content, model_path, alpha="1", size="preview", seq=2)
    assert low.status == high.status == 200
    assert decode_png(low.body).shape[:2] == (48, 48)  # A 48 px region at 1:1.
    assert low.body != high.body


@pytest.fixture(scope="module")
def region_app(model_path):
    """A 64 px preview region of a 256 px picture (its own model, traced once)."""
    return demo_lib.DemoApp(demo_lib.Config(model=model_path, preview_size=64, max_size=256))


def test_preview_is_a_region_of_the_full_picture_at_its_own_scale(region_app, model_path):
    """The preview predicts the full picture: mean difference under 3 levels."""
    app = region_app
    content = load_example(app, "r1", "rocket.jpg")  # 256x171 at max_size 256.
    seq = iter(range(1, 100))

    def picture(alpha, size, **params):
        response = stylize(
            app, "r1", content, model_path, alpha=alpha, size=size, seq=next(seq), **params
        )
        assert response.status == 200, response.body
        return decode_png(response.body).astype(np.float32), response.headers

    # At the last full picture's alphas the preview's statistics are the
    # full picture's, and what remains is the region's margin: far under 3
    # levels. (Moved alphas estimate them: 1-2 levels with starry_night on a
    # 1024 px photo, see docs/demo.md; this random model is far more
    # alpha-sensitive than a trained one.)
    full, _ = picture("0.3,0.8,0.5", "full")
    differences = []
    for region in ("0.5,0.5", "0.1,0.9"):
        preview, headers = picture("0.3,0.8,0.5", "preview", region=region)
        left, top, width, height = map(int, headers["X-Region"].split(","))
        assert (width, height) == (64, 64) and headers["X-Full-Size"] == "256x171"
        assert preview.shape == (64, 64, 3)
        shown = full[top : top + height, left : left + width]
        differences.append(float(np.abs(preview - shown).mean()))
    assert max(differences) < 3, differences
    bad = stylize(app, "r1", content, model_path, size="preview", region="2,0", seq=99)
    assert bad.status == 400 and "region" in bad.json["error"]


def test_a_preview_does_not_wait_for_a_superseded_full_render(region_app, model_path, monkeypatch):
    """Release a slider and grab it again: the full render that the release
    started stops at its next layer, and the preview takes about as long as
    one on an idle server (medians of five)."""
    app = region_app
    content = load_example(app, "r2", "rocket.jpg")
    seqs = iter(range(1, 1000))

    def run(size, alpha, seq):
        return stylize(app, "r2", content, model_path, alpha=alpha, size=size, seq=seq)

    def timed(size, alpha):
        started = time.perf_counter()
        response = run(size, alpha, next(seqs))
        assert response.status == 200, response.body
        return time.perf_counter() - started

    timed("full", "0.5,0.5,0.5")  # Warm (the first calls trace).
    timed("preview", "0.5,0.5,0.5")
    full_seconds = timed("full", "0.5,0.4,0.5")
    # The regrab comes when the render has reached its third layer.
    into_render = threading.Event()
    render = demo_regions.stylize_full

    def watched_render(fast, pixels, params, superseded):
        layers = iter(range(1, 1000))

        def watched():
            if next(layers) == 3:
                into_render.set()
            return superseded()

        return render(fast, pixels, params, watched)

    monkeypatch.setattr(demo_regions, "stylize_full", watched_render)
    idle, regrab = [], []
    for k in range(5):
        idle.append(timed("preview", f"0.{k + 1},0.5,0.5"))
        # Release: a full render at these alphas starts.
        answers = []
        full_seq = next(seqs)
        thread = threading.Thread(
            target=lambda: answers.append(run("full", f"0.{k + 1},0.5,0.5", full_seq))
        )
        into_render.clear()
        thread.start()
        assert into_render.wait(120)
        # Regrab: the next preview.
        regrab.append(timed("preview", f"0.{k + 1},0.6,0.5"))
        thread.join()
        assert answers[0].status == 409 and answers[0].json["superseded"], answers[0].body
    ratio = float(np.median(regrab) / np.median(idle))
    print(f"idle {idle}, after regrab {regrab}, full {full_seconds:.3f} s: ratio {ratio:.2f}")
    # The goal is 1.2 (docs/demo.md has the measured ratio with a shipped
    # model). A preview that waited for the rest of the render would be
    # about 10 times an idle one here; the bound leaves room for the noise
    # of a busy two-core machine, where single previews vary 0.2-1.8 s.
    assert ratio < 1.5, (idle, regrab, full_seconds)


def test_superseded_requests_do_not_run(app, model_path):
    content = load_example(app, "c8")
    assert stylize(app, "c8", content, model_path, seq=10).status == 200
    stale = stylize(app, "c8", content, model_path, seq=9)
    assert stale.status == 409 and stale.json["superseded"] is True
    old_photo = stylize(app, "c8", "0123456789abcdef", model_path, seq=11)
    assert old_photo.status == 409 and old_photo.json["superseded"] is True


def test_random_alpha_is_what_stylize_py_draws(app, model_path):
    data = call(app, "GET", "/api/random_alpha", model=model_path, seed="42").json
    expected = alpha_vectors.sample_alpha(1, 3, [42, 0])[0]
    np.testing.assert_array_equal(alpha_vectors.parse_alpha(data["alpha"], STYLE_LAYERS), expected)
    assert data["alpha"] == ",".join(f"{n}={v}" for n, v in zip(STYLE_LAYERS, data["values"]))


# ---------------------------------------------------------------------------
# Brush mode (a painted alpha map) and keeping the photo's colours.
# ---------------------------------------------------------------------------


def map_png(values, mode="RGB"):
    """PNG bytes of an (H, W, C) alpha map in [0, 1], as the page encodes it."""
    out = io.BytesIO()
    pixels = np.round(np.asarray(values, np.float32) * 255).astype(np.uint8)
    Image.fromarray(pixels, mode).save(out, format="PNG")
    return out.getvalue()


def half_map(height=32, width=48):
    """Alpha 0 on the left half, 1 on the right half, every layer."""
    values = np.zeros((height, width, 3), np.float32)
    values[:, width // 2 :] = 1
    return values


def stylize_map(app, client_id, content_id, model, body, **params):
    params = {
        "client": client_id,
        "content": content_id,
        "model": model,
        "seq": 1,
        "size": "full",
        "seed": 7,
        **params,
    }
    return call(app, "POST", "/api/stylize", body, **params)


def test_painted_map_is_what_the_printed_command_makes(app, model_path, tmp_path):
    content = load_example(app, "m1")
    body = map_png(half_map())
    response = stylize_map(app, "m1", content, model_path, body, noise="1", preserve_color="1")
    assert response.status == 200 and response.content_type == "image/png"
    picture = decode_png(response.body)
    assert picture.shape == (64, 96, 3)  # chelsea.png at max_size 96
    assert response.headers["X-Alpha-Map"] == "alpha_map.png"
    assert response.headers["X-Alpha"] == ""
    command = urllib.parse.unquote(response.headers["X-Command"])
    assert command == (
        f"python stylize.py --model={model_path} "
        f"--content={os.path.relpath(demo_lib.EXAMPLES_DIR)}/chelsea.png "
        "--output=stylized.png --max_size=96 --alpha_map=alpha_map.png "
        "--content_noise --seed=7 --preserve_color"
    )
    # The page's "Download map" saves the map it sent as alpha_map.png.
    (tmp_path / "alpha_map.png").write_bytes(body)
    out = tmp_path / "stylized.png"
    stylize_lib.run(
        stylize_options.Options(
            model=model_path,
            content=os.path.join(demo_lib.EXAMPLES_DIR, "chelsea.png"),
            output=str(out),
            max_size=96,
            alpha_map=str(tmp_path / "alpha_map.png"),
            content_noise=True,
            seed=7,
            preserve_color=True,
        ),
        out=lambda line: None,
    )
    np.testing.assert_array_equal(picture, np.asarray(Image.open(out).convert("RGB")))
    # The left third looks like alpha 0, the right third like alpha 1 (at
    # 96 px the map's regions blend over a third of the picture).
    plain = decode_png(stylize_map(app, "m1", content, model_path, body, seq=2).body)
    zero, one = (
        decode_png(stylize(app, "m1", content, model_path, alpha=a, seq=3 + k).body)
        for k, a in enumerate("01")
    )
    distance = lambda a, b, part: np.abs(a[:, part].astype(float) - b[:, part]).mean()
    left, right = slice(0, 32), slice(64, 96)
    assert distance(plain, zero, left) < distance(plain, one, left)
    assert distance(plain, one, right) < distance(plain, zero, right)


def test_constant_map_is_the_uniform_alpha(app, model_path):
    content = load_example(app, "m2")
    body = map_png(np.full((20, 30, 3), 0.6, np.float32))
    mapped = stylize_map(app, "m2", content, model_path, body)
    uniform = stylize(app, "m2", content, model_path, alpha="0.6", seq=2)
    assert mapped.status == uniform.status == 200
    difference = np.abs(decode_png(mapped.body).astype(int) - decode_png(uniform.body))
    assert difference.max() <= 2, difference.max()


def test_bad_maps_are_clear_errors(app, model_path):
    content = load_example(app, "m3")
    rgba = np.ones((8, 8, 4), np.float32)
    for body, message in [
        (map_png(rgba, "RGBA"), "alpha_map.png: has a transparency channel (4 channels)"),
        (b"\x89PNG not really", "alpha map alpha_map.png: not an image file"),
        (b"", "no alpha map in the request"),
    ]:
        response = stylize_map(app, "m3", content, model_path, body)
        assert response.status == 400, message
        error = response.json["error"]
        assert message in error and "\n" not in error
    both = stylize_map(app, "m3", content, model_path, map_png(half_map()), alpha="1")
    assert both.status == 400 and "leave out 'alpha'" in both.json["error"]
    # The app still serves this page.
    assert stylize_map(app, "m3", content, model_path, map_png(half_map())).status == 200


def test_base_model_takes_no_map():
    base = types.SimpleNamespace(adjustable=False, style_layers=[], num_layers=0)
    app = demo_lib.DemoApp(demo_lib.Config(model="base", max_size=96), loader=lambda spec: base)
    content = load_example(app, "m4")
    response = stylize_map(app, "m4", content, "base", map_png(half_map()))
    assert response.status == 400 and "base model" in response.json["error"]


def test_keep_colours_keeps_the_photos_chroma(app, model_path):
    content = load_example(app, "m5")
    photo = images.load_image(os.path.join(demo_lib.EXAMPLES_DIR, "chelsea.png"), max_size=96)
    plain = stylize(app, "m5", content, model_path, alpha="1")
    kept = stylize(app, "m5", content, model_path, alpha="1", preserve_color="1", seq=2)
    assert plain.status == kept.status == 200
    assert urllib.parse.unquote(kept.headers["X-Command"]).endswith(" --preserve_color")
    assert "--preserve_color" not in urllib.parse.unquote(plain.headers["X-Command"])

    def chroma(pixels):
        return np.asarray(color.ycbcr(np.asarray(pixels, np.float32) / 255))[..., 1:]

    photo_chroma = chroma(images.to_uint8(photo))
    assert np.abs(chroma(decode_png(kept.body)) - photo_chroma).mean() * 255 <= 2
    assert np.abs(chroma(decode_png(plain.body)) - photo_chroma).mean() * 255 > 4
    # The camera keeps them too.
    frame = jpeg_bytes(60, 80)
    camera = [
        call(app, "POST", "/api/camera", frame, model=model_path, alpha="1", preserve_color=on)
        for on in ("0", "1")
    ]
    assert camera[0].status == camera[1].status == 200
    assert camera[0].body != camera[1].body


# ---------------------------------------------------------------------------
# A real server.
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(app):
    # As demo.py: the first preview would otherwise wait for its traces.
    app.preload()
    server = demo_lib.make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def http_call(server, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_http_errors_leave_the_server_serving(server):
    status, headers, body = http_call(
        server, "POST", "/api/content?client=h1&name=a.txt", b"not an image"
    )
    assert status == 400 and "not an image file" in json.loads(body)["error"]
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    status, _, body = http_call(
        server,
        "POST",
        "/api/content?client=h1&name=a.png",
        headers={"Content-Length": str(demo_lib.MAX_UPLOAD_BYTES + 1)},
    )
    assert status == 413 and "over the demo's limit" in json.loads(body)["error"]
    status, _, body = http_call(server, "GET", "/api/info")
    assert status == 200 and json.loads(body)["examples"]


def test_a_huge_seq_does_not_lock_the_client_out(app, model_path):
    content = load_example(app, "c9")
    assert stylize(app, "c9", content, model_path, seq="9" * 32).status == 400
    for _ in range(2):
        assert stylize(app, "c9", content, model_path, seq=2**53, size="preview").status == 200


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"])
def test_methods_not_served_get_a_json_405_with_the_security_headers(server, method):
    status, headers, body = http_call(server, method, "/api/info")
    assert status == 405
    assert headers["Allow"] == "GET, HEAD, POST"
    assert headers["Content-Type"] == "application/json"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert method in json.loads(body)["error"]


@pytest.mark.parametrize("path", ["/", "/api/info"])
def test_head_answers_with_the_headers_of_get_and_no_body(server, path):
    get_status, get_headers, get_body = http_call(server, "GET", path)
    status, headers, body = http_call(server, "HEAD", path)
    assert status == get_status == 200 and body == b""
    assert headers["Content-Length"] == str(len(get_body))
    for name in ("Content-Type", "Content-Security-Policy", "X-Content-Type-Options"):
        assert headers[name] == get_headers[name]


def test_a_chunked_upload_is_411_not_an_empty_file(server):
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=60)
    try:
        connection.request(
            "POST", "/api/content?client=h2&name=a.png", body=iter([png_bytes(8, 8)])
        )  # An iterable body goes out chunked, without a Content-Length.
        response = connection.getresponse()
        status, headers, body = response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()
    assert status == 411
    assert "Content-Length" in json.loads(body)["error"]
    assert "chunked" in json.loads(body)["error"]
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    # The server still serves.
    assert http_call(server, "GET", "/api/info")[0] == 200


# ---------------------------------------------------------------------------
# The page, in a real browser.
# ---------------------------------------------------------------------------


DIGEST_JS = """async () => {
  const response = await fetch(document.querySelector('#result').src);
  const digest = await crypto.subtle.digest('SHA-256', await response.arrayBuffer());
  return Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, '0')).join('');
}"""

MENU_CUT_JS = """() => {
  const menu = document.querySelector('#model'), style = getComputedStyle(menu);
  const context = document.createElement('canvas').getContext('2d');
  context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const room = menu.clientWidth - 30;  // Less the arrow and the padding.
  return Array.from(menu.options).map(o => o.text).filter(t => context.measureText(t).width > room);
}"""

IN_VIEW_JS = """selector => {
  const box = document.querySelector(selector).getBoundingClientRect();
  return box.height > 0 && box.top >= 0 && box.bottom <= innerHeight;
}"""

IDLE_AFTER_JS = """seq => {
  const img = document.querySelector('#result');
  return document.body.dataset.busy === '0' && img.dataset.kind === 'full'
      && Number(img.dataset.seq) > seq;
}"""


def test_page_in_chromium(server):
    sync_playwright = browser_or_skip()
    base = demo_lib.server_url(server)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(accept_downloads=True)
            page.set_default_timeout(30_000)
            requests, console_errors = [], []
            page.on("request", lambda request: requests.append(request.url))
            page.on(
                "console",
                lambda message: message.type == "error" and console_errors.append(message.text),
            )

            def shown_seq():
                return int(page.get_attribute("#result", "data-seq") or 0)

            def wait_for_new_full_picture(seq):
                page.wait_for_function(IDLE_AFTER_JS, arg=seq)

            page.goto(base)
            wait_for_new_full_picture(0)
            # The model menu shows every name whole.
            assert page.evaluate(MENU_CUT_JS) == []

            # Pick an example.
            seq = shown_seq()
            page.select_option("#example", "grace_hopper.jpg")
            wait_for_new_full_picture(seq)
            assert page.is_hidden("#error")
            before = page.evaluate(DIGEST_JS)
            alpha_before = page.text_content("#alpha-text")
            assert alpha_before == "--alpha=block2_conv2=1,block3_conv4=1,block4_conv4=1"

            # Drag a slider: previews while dragging, the full picture on release.
            previews = sum("size=preview" in url for url in requests)
            box = page.locator("#alpha-block2_conv2").bounding_box()
            y = box["y"] + box["height"] / 2
            seq = shown_seq()
            page.mouse.move(box["x"] + box["width"] - 2, y)
            page.mouse.down()
            for k in range(1, 9):
                page.mouse.move(box["x"] + box["width"] * (1 - 0.1 * k), y)
                page.wait_for_timeout(40)
            page.mouse.up()
            wait_for_new_full_picture(seq)
            assert sum("size=preview" in url for url in requests) > previews
            # The preview was a region of the full picture, shown in its place.
            assert page.get_attribute("#preview", "data-region")
            after = page.evaluate(DIGEST_JS)
            assert after != before
            alpha_text = page.text_content("#alpha-text")
            assert alpha_text != alpha_before and "block3_conv4=1,block4_conv4=1" in alpha_text
            value = float(page.input_value("#alpha-block2_conv2"))
            assert 0.05 < value < 0.5 and f"block2_conv2={value:g}" in alpha_text
            command = page.input_value("#command")
            assert command.startswith("python stylize.py --model=") and alpha_text in command

            # Randomize: new seed, new alphas, sliders moved to them.
            seq = shown_seq()
            page.click("#randomize")
            wait_for_new_full_picture(seq)
            randomized = page.text_content("#alpha-text")
            assert randomized not in (alpha_text, alpha_before)
            seed = page.input_value("#seed")
            expected = alpha_vectors.format_alpha(
                alpha_vectors.sample_alpha(1, 3, [int(seed), 0])[0], STYLE_LAYERS
            )
            assert randomized == f"--alpha={expected}"
            assert page.input_value("#command").endswith(f"{randomized} --seed={seed}")
            first = float(expected.split(",")[0].split("=")[1])
            assert abs(float(page.input_value("#alpha-block2_conv2")) - first) <= 0.0051

            # A bad seed: marked beside its box; slider moves still work.
            page.fill("#seed", "12x")
            page.dispatch_event("#seed", "change")
            assert page.get_attribute("#seed", "aria-invalid") == "true"
            assert "12x" in page.text_content("#seed-error") and page.is_hidden("#error")
            seq = shown_seq()
            page.eval_on_selector(
                "#alpha-block4_conv4",
                "el => { el.value = '0.5'; el.dispatchEvent(new Event('input'));"
                " el.dispatchEvent(new Event('change')); }",
            )
            wait_for_new_full_picture(seq)
            assert page.is_hidden("#error") and "block4_conv4=0.5" in page.text_content(
                "#alpha-text"
            )
            assert (
                page.get_attribute("#status", "aria-live")
                or page.get_attribute("[role=status]", "aria-live") == "polite"
            )
            page.fill("#seed", seed)
            page.dispatch_event("#seed", "input")
            assert page.get_attribute("#seed", "aria-invalid") is None

            # Download the full-size result.
            with page.expect_download() as download_info:
                page.click("#download")
            path = download_info.value.path()
            with open(path, "rb") as f:
                downloaded = f.read()
            assert downloaded.startswith(b"\x89PNG")
            assert max(decode_png(downloaded).shape[:2]) == 96

            # A text file: an error on the page, and the page keeps working.
            page.set_input_files(
                "#upload",
                files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a photo\n"}],
            )
            page.wait_for_selector("#error:not([hidden])")
            assert "notes.txt: not an image file" in page.text_content("#error")
            seq = shown_seq()
            shown = page.evaluate(DIGEST_JS)
            page.select_option("#example", "rocket.jpg")
            wait_for_new_full_picture(seq)
            assert page.is_hidden("#error")
            assert page.evaluate(DIGEST_JS) != shown

            # Nothing was fetched from anywhere but this server, and no
            # request failed (no 409 "superseded") but the text upload.
            foreign = [url for url in requests if not url.startswith((base, "blob:", "data:"))]
            assert foreign == []
            failed = [text for text in console_errors if "400" not in text]
            assert failed == [] and len(console_errors) <= 1, console_errors

            # A phone: the picture in the first screen, nothing wider than it.
            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.set_default_timeout(30_000)
            phone.goto(base)
            phone.wait_for_function(IDLE_AFTER_JS, arg=0)
            box = phone.locator("#result").bounding_box()
            assert box["y"] + box["height"] <= 844, box
            assert phone.evaluate(
                "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
            )
            phone.mouse.wheel(0, 600)
            phone.wait_for_timeout(200)
            assert phone.locator("#result").bounding_box()["y"] >= -1  # Sticky.
        finally:
            browser.close()


PIXELS_JS = """async () => {
  const response = await fetch(document.querySelector('#result').src);
  const bytes = new Uint8Array(await response.arrayBuffer());
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}"""


def test_brush_and_keep_colours_in_chromium(server):
    sync_playwright = browser_or_skip()
    base = demo_lib.server_url(server)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(accept_downloads=True, viewport={"width": 1366, "height": 900})
            page.set_default_timeout(30_000)
            requests = []
            page.on("request", lambda request: requests.append(request.url))

            def shown():
                return decode_png(base64.b64decode(page.evaluate(PIXELS_JS))).astype(np.float32)

            def after(action):
                """Does `action`, then waits for the full picture it brings."""
                seq = int(page.get_attribute("#result", "data-seq") or 0)
                action()
                page.wait_for_function(IDLE_AFTER_JS, arg=seq)

            page.goto(base)
            page.wait_for_function(IDLE_AFTER_JS, arg=0)  # chelsea.png, 96x64.
            assert page.is_enabled("#brush") and page.is_hidden("#brush-canvas")

            # Brush mode on a "less style" base (Fill paints the whole map).
            after(lambda: page.click("#brush"))
            assert page.is_visible("#brush-canvas")
            # At 1366x900 the brush's controls and the picture are in view together.
            for selector in ("#brush-alpha", "#brush-size", "#brush-undo", "#brush-fill"):
                assert page.evaluate(IN_VIEW_JS, selector), selector
            canvas = page.locator("#brush-canvas").bounding_box()
            assert canvas["y"] >= 0 and canvas["y"] + canvas["height"] / 2 <= 900, canvas
            assert page.get_attribute("#result", "data-map") == "1"
            page.select_option("#brush-alpha", "less")
            after(lambda: page.click("#brush-fill"))
            before = shown()

            # One "more style" stroke in the top-left corner.
            page.select_option("#brush-alpha", "more")
            page.fill("#brush-size", "20")
            page.locator("#brush-canvas").scroll_into_view_if_needed()
            box = page.locator("#brush-canvas").bounding_box()
            at = lambda fx, fy: (box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)

            def stroke():
                page.mouse.move(*at(0.05, 0.1))
                page.mouse.down()
                for fx, fy in ((0.15, 0.15), (0.25, 0.1), (0.2, 0.3), (0.1, 0.35)):
                    page.mouse.move(*at(fx, fy), steps=3)
                page.mouse.up()

            after(stroke)
            assert page.is_hidden("#error")
            painted = shown()
            change = np.abs(painted - before).mean(axis=-1)
            height, width = change.shape
            near = change[: height * 2 // 5, : width * 2 // 5].mean()
            far = change[height * 3 // 5 :, width * 3 // 5 :].mean()
            assert near > 10 and near > 3 * far, (near, far)
            assert page.text_content("#alpha-text").startswith("--alpha_map=alpha_map.png")
            command = page.input_value("#command")
            assert " --alpha_map=alpha_map.png" in command and "--alpha=" not in command

            # The map downloads as alpha_map.png: RGB, 255 in the stroke, 0 elsewhere.
            with page.expect_download() as download_info:
                page.click("#brush-download")
            assert download_info.value.suggested_filename == "alpha_map.png"
            saved = Image.open(download_info.value.path())
            assert saved.mode == "RGB" and saved.size == (48, 32)  # The preview's size.
            saved = np.asarray(saved)
            assert (saved[4, 4] == 255).all() and (saved[-4, -4] == 0).all()
            assert set(np.unique(saved[-8:, -12:])) == {0}

            # Undo: the map is the "less style" base again, and so the picture.
            after(lambda: page.click("#brush-undo"))
            np.testing.assert_array_equal(shown(), before)

            # Keep colours: a new picture, and the command says so.
            after(lambda: page.check("#preserve-color"))
            assert np.abs(shown() - before).mean() > 1
            assert page.input_value("#command").endswith(" --preserve_color")

            # Stop brush: the sliders' alphas again.
            after(lambda: page.click("#brush"))
            assert page.is_hidden("#brush-canvas")
            assert page.text_content("#alpha-text").startswith("--alpha=")
            assert page.is_hidden("#error")
            foreign = [url for url in requests if not url.startswith((base, "blob:", "data:"))]
            assert foreign == []
        finally:
            browser.close()


# ---------------------------------------------------------------------------
# Camera mode.
# ---------------------------------------------------------------------------


def jpeg_bytes(height, width, seed=0):
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG")
    return out.getvalue()


def test_camera_frame_is_stylized_at_preview_size(app, model_path):
    frame = jpeg_bytes(60, 80)
    answers = {}
    for alpha in ("0,0,0", "1,1,1"):
        response = call(app, "POST", "/api/camera", frame, model=model_path, alpha=alpha)
        assert response.status == 200 and response.content_type == "image/jpeg"
        assert response.headers["X-Size"] == "48x36"  # preview_size 48
        answers[alpha] = decode_png(response.body).astype(np.float32)
    assert np.abs(answers["0,0,0"] - answers["1,1,1"]).mean() > 2
    response = call(app, "POST", "/api/camera", b"", model=model_path)
    assert response.status == 400 and "no camera frame" in response.json["error"]
    response = call(app, "POST", "/api/camera", b"junk", model=model_path)
    assert response.status == 400 and "camera frame" in response.json["error"]


CAMERA_FRAMES_AFTER_JS = """([frames, alpha]) => {
  const img = document.querySelector('#result');
  return img.dataset.kind === 'camera' && Number(img.dataset.frames) >= frames
      && (alpha === null || img.dataset.alpha.startsWith(alpha));
}"""


def test_camera_mode_in_chromium(server):
    sync_playwright = browser_or_skip()
    base = demo_lib.server_url(server)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS + FAKE_CAMERA
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            requests = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(base)
            page.wait_for_function(IDLE_AFTER_JS, arg=0)
            page.click("#camera")
            page.wait_for_function(CAMERA_FRAMES_AFTER_JS, arg=[3, None])
            assert page.is_hidden("#error")
            assert "fps" in page.text_content("#camera-fps")
            assert float(page.get_attribute("#camera-fps", "data-fps")) > 0
            before = page.evaluate(DIGEST_JS)
            frames = int(page.get_attribute("#result", "data-frames"))
            # Move a slider: the frames that follow are made at the new alpha.
            page.eval_on_selector(
                "#alpha-block2_conv2",
                "el => { el.value = '0'; el.dispatchEvent(new Event('input')); }",
            )
            page.wait_for_function(CAMERA_FRAMES_AFTER_JS, arg=[frames + 2, "block2_conv2=0,"])
            assert page.evaluate(DIGEST_JS) != before
            # One frame in flight: camera requests never overlap.
            overlapping = page.evaluate("""() => {
              const spans = performance.getEntriesByType('resource')
                .filter(e => e.name.includes('/api/camera'))
                .map(e => [e.startTime, e.responseEnd]).sort((a, b) => a[0] - b[0]);
              return spans.some((s, i) => i > 0 && s[0] < spans[i - 1][1] - 1);
            }""")
            assert not overlapping
            page.click("#camera")  # Stop: the photo comes back.
            page.wait_for_function(IDLE_AFTER_JS, arg=0)
            foreign = [url for url in requests if not url.startswith((base, "blob:", "data:"))]
            assert foreign == []

            # No camera at all: a clear message, and the page keeps working.
            page = browser.new_page()
            page.add_init_script(
                "navigator.mediaDevices.getUserMedia = () => "
                "Promise.reject(new DOMException('Requested device not found', 'NotFoundError'));"
            )
            page.goto(base)
            page.wait_for_function(IDLE_AFTER_JS, arg=0)
            page.click("#camera")
            page.wait_for_selector("#error:not([hidden])")
            assert "No camera found" in page.text_content("#error")
            assert page.text_content("#camera") == "Camera"
        finally:
            browser.close()


def test_an_unknown_host_is_named_as_such(tmp_path):
    import harness

    result = harness.run_command(
        os.path.join(harness.REPO, "demo.py"), "--host=no.such.host.invalid", "--port=0"
    )
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "--host=no.such.host.invalid: cannot resolve this host name" in lines[0]
    assert "--port" not in lines[0]
