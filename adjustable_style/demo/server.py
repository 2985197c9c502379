"""The demo's HTTP server: moves bytes between the browser and `app.DemoApp`.

It serves GET (and HEAD: GET's headers without the body) and POST; any
other method gets a JSON 405 naming those, and every answer, errors of the
HTTP layer included, carries the same security headers.
"""

import http.server
import socketserver
import sys
import urllib.parse

from adjustable_style.demo.app import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    MAX_UPLOAD_BYTES,
    DemoApp,
    error_response,
)

# Nothing but this server: no fonts, scripts, images or analytics from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self' blob:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
# The methods the server answers; any other gets 405 with this Allow header.
ALLOWED_METHODS = ("GET", "HEAD", "POST")


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "AdjustableStyleDemo/1.0"
    protocol_version = "HTTP/1.1"
    app: DemoApp = None  # Set on the subclass make_server builds.

    def _answer(self, method):
        url = urllib.parse.urlsplit(self.path)
        body = b""
        length = (self.headers.get("Content-Length") or "0").strip()
        length = int(length) if length.isascii() and length.isdigit() else -1
        chunked = self.headers.get("Transfer-Encoding", "").strip().lower() not in ("", "identity")
        if chunked:
            response = error_response(
                411,
                "chunked transfer encoding is not supported; send the body with a "
                "Content-Length header",
            )
            self._discard_chunked_body()
            self.close_connection = True
        elif length < 0:
            response = error_response(400, "bad Content-Length")
            self.close_connection = True
        elif length > MAX_UPLOAD_BYTES:
            response = error_response(
                413,
                f"the upload is {length / 2**20:.1f} MiB, over the demo's limit "
                f"of {MAX_UPLOAD_BYTES / 2**20:g} MiB",
            )
            self.close_connection = True  # The body is left unread.
        else:
            if length:
                body = self.rfile.read(length)
            response = self.app.handle(method, url.path, url.query, body)
        self._send(response)

    def _discard_chunked_body(self):
        """Reads a chunked body (up to the upload limit) so that the client sees the answer.

        Closing a socket with unread data resets the connection, and the
        client would get that instead of the 411.
        """
        total = 0
        try:
            while total <= MAX_UPLOAD_BYTES:
                size = int(self.rfile.readline(100).split(b";")[0].strip() or b"x", 16)
                if size == 0:
                    while self.rfile.readline(1000).strip():  # Trailers.
                        pass
                    return
                total += size
                self.rfile.read(size)
                self.rfile.readline(100)
        except (ValueError, OSError):
            return  # Not chunked after all, or the client went: close.

    def _send(self, response):
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for key, value in response.headers.items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if getattr(self, "command", None) == "HEAD":
            return  # GET's headers, Content-Length included, and no body.
        try:
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # The page gave up on this answer (it was superseded).

    def do_GET(self):
        self._answer("GET")

    def do_HEAD(self):
        self._answer("GET")

    def do_POST(self):
        self._answer("POST")

    def _refuse_method(self):
        response = error_response(
            405,
            f"method {self.command} is not served here; use {', '.join(ALLOWED_METHODS)}",
        )
        response.headers["Allow"] = ", ".join(ALLOWED_METHODS)
        self._send(response)

    def __getattr__(self, name):
        # http.server looks up do_METHOD and answers a missing one with its
        # own HTML 501 page; every other method is refused here instead.
        if name.startswith("do_"):
            return self._refuse_method
        raise AttributeError(name)

    def send_error(self, code, message=None, explain=None):
        """http.server's own errors (a bad request line, headers too long) as JSON."""
        self.close_connection = True
        short = self.responses.get(code, ("error",))[0]
        self._send(error_response(code, message or short))

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass  # Slider previews would flood the terminal; errors go to the page.


class DemoServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Browsers open several connections at once.
    request_queue_size = 64

    def handle_error(self, request, client_address):
        # A dropped connection is normal when the page aborts a request.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def make_server(app, host=DEFAULT_HOST, port=DEFAULT_PORT):
    """An HTTP server for `app` bound to (host, port); port 0 picks a free one."""
    handler = type("Handler", (_Handler,), {"app": app})
    return DemoServer((host, port), handler)


def server_url(server):
    host, port = server.server_address[:2]
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"
