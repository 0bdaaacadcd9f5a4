"""The address students type to join: this machine's on the local network, as text and as a QR code.

    url = join_url("192.168.1.20", 8501)   # "http://192.168.1.20:8501"
    png = qr_png(url)                      # a QR code a phone's camera opens, made here (no network)

The address is the one Streamlit prints as "Network URL" (the page asks Streamlit for the IP:
streamlit.net_util.get_internal_ip); None where the machine has none, and the page says so.
segno makes the QR code: a small, pure-Python, well-kept library (no network, no Pillow).
"""

import io

import segno


def join_url(ip: str | None, port: int, base_path: str = "") -> str | None:
    """The address a student's browser opens; None without a network address."""
    if not ip:
        return None
    host = f"[{ip}]" if ":" in ip else ip  # an IPv6 address in a URL
    base = "/" + base_path.strip("/") if base_path.strip("/") else ""
    return f"http://{host}:{port}{base}"


def qr_png(text: str, scale: int = 10) -> bytes:
    """A QR code of `text` as PNG: black on white, a quiet zone of 4 modules (the standard's), and
    error correction M (a projector's glare or a smudge on it still reads)."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=scale, border=4, dark="#000000", light="#ffffff")
    return out.getvalue()
