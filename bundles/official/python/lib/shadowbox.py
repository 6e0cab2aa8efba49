"""shadowbox: the sandbox's host facilities for Python code.

    import shadowbox
    r = shadowbox.fetch("https://example.org/data.json", method="GET", headers={}, body=None)
    r.status, r.headers, r.body (bytes), r.text(), r.json(), r.url

fetch() goes through the daemon's netFetch capability: allowed only for hosts the policy grants,
resolved and connected by the daemon (no private or loopback addresses, redirects re-checked).
Refusals raise shadowbox.FetchError (a subclass of OSError) with the daemon's reason.
install_urllib() (done at start) makes urllib.request.urlopen use fetch() for http(s) URLs.
"""

import base64
import email.message
import io
import json

import _shadowbox

__all__ = ["fetch", "FetchError", "Response", "install_urllib"]

# Largest response body the guest accepts; the daemon applies its own (usually smaller) cap.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024


class FetchError(OSError):
    """netFetch refused or failed; `reason` is the daemon's stable snake_case reason."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


class Response:
    """A complete HTTP response (the body is read fully by the daemon)."""

    def __init__(self, url, status, headers, body):
        self.url = url
        self.status = status
        self.headers = headers
        self.body = body

    def text(self, encoding="utf-8"):
        return self.body.decode(encoding, errors="replace")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<shadowbox.Response %d %s (%d bytes)>" % (self.status, self.url, len(self.body))


def _encode_request(url, method, headers, body):
    if isinstance(body, str):
        body = body.encode("utf-8")
    items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    req = {
        "url": str(url),
        "method": str(method).upper(),
        "headers": [[str(k), str(v)] for k, v in items],
        "body": base64.b64encode(body).decode("ascii") if body is not None else None,
    }
    return json.dumps(req, separators=(",", ":")).encode("utf-8")


def fetch(url, method="GET", headers=None, body=None, timeout=None):
    """Performs one HTTP(S) request through the host; returns a Response or raises FetchError."""
    request = _encode_request(url, method, headers, body)
    rc, out, _meta = _shadowbox.net_fetch(request, MAX_RESPONSE_BYTES + 65536)
    head, sep, payload = out.partition(b"\n")
    try:
        info = json.loads(head.decode("utf-8")) if head else {}
    except ValueError:
        info = {}
    if rc < 0 or not sep or "error" in info:
        reason = info.get("error", "net_fetch_failed") if isinstance(info, dict) else "net_fetch_failed"
        message = info.get("message", "netFetch failed (code %d)" % rc) if isinstance(info, dict) else ""
        raise FetchError(reason, "netFetch refused %s: %s" % (url, message))
    return Response(info.get("url", url), int(info.get("status", 0)),
                    [tuple(h) for h in info.get("headers", [])], payload)


def install_urllib():
    """Routes urllib.request's http:// and https:// opening through fetch()."""
    import urllib.error
    import urllib.request
    import urllib.response

    class ShadowboxHandler(urllib.request.BaseHandler):
        handler_order = 100  # before the stock HTTP handlers (which need sockets)

        def _open(self, req):
            headers = dict(req.header_items())
            try:
                r = fetch(req.full_url, method=req.get_method(), headers=headers, body=req.data,
                          timeout=req.timeout)
            except FetchError as e:
                raise urllib.error.URLError(e) from None
            msg = email.message.Message()
            for k, v in r.headers:
                msg[k] = v
            resp = urllib.response.addinfourl(io.BytesIO(r.body), msg, r.url, r.status)
            resp.msg = ""
            if r.status >= 400:
                raise urllib.error.HTTPError(r.url, r.status, "HTTP %d" % r.status, msg,
                                             io.BytesIO(r.body))
            return resp

        def http_open(self, req):
            return self._open(req)

        def https_open(self, req):
            return self._open(req)

    opener = urllib.request.build_opener(ShadowboxHandler)
    urllib.request.install_opener(opener)
    return opener
