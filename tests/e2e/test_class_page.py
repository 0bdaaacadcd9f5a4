"""The Class page in Chromium, as the teacher projects it: the address students type, a QR code
that a phone's camera reads as that same address, the students connected, and the teacher code,
which only the teacher's browser is shown. Screenshots: projector, laptop and phone, English and
Korean (in $E2E_SHOTS, default /tmp/shots)."""

import io
import re

import zxingcpp
from PIL import Image

WAIT_MS = 30_000


def test_the_address_its_qr_code_and_the_students_connected(app, server):
    app.goto("class")
    app.page.get_by_role("heading", name="The class", exact=True).wait_for(timeout=WAIT_MS)
    shown = app.page.locator(".st-key-class_address h2").inner_text().strip()
    assert re.fullmatch(r"http://[\d.]+:\d+|http://\[[0-9a-f:]+\]:\d+", shown), shown
    assert shown.endswith(f":{server.url.rsplit(':', 1)[1]}")  # this server's port
    qr = app.page.locator("[data-testid='stImage'] img").first
    qr.wait_for(timeout=WAIT_MS)
    read = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.screenshot())))
    assert [code.text for code in read] == [shown]
    # This browser is on the serving machine: it is the teacher, and is shown the code.
    assert re.fullmatch(r"[A-Z2-9]{6}", app.page.locator(".st-key-class_code h2").inner_text().strip())

    # Only this (the teacher's) browser is connected: no student yet. Students are counted in
    # test_class_roles, whose server makes every address a student.
    assert app.page.locator("[data-testid='stMain'] [data-testid='stMetricValue']").first.inner_text().strip() == "0"
    app.check()


def test_screenshots(app):
    for width, height, name in ((1920, 1080, "projector"), (1400, 1000, "laptop"), (390, 844, "phone")):
        app.page.set_viewport_size({"width": width, "height": height})
        for lang in ("en", "ko"):
            app.goto(f"class?lang={lang}")
            app.page.locator("[data-testid='stImage'] img").first.wait_for(timeout=WAIT_MS)
            if name == "projector":
                app.page.locator("[data-testid='stSidebar']").get_by_text(
                    "Projector mode" if lang == "en" else "프로젝터 모드"
                ).click()
                app.wait_idle()
            app.screenshot(f"class_{name}_{lang}")
            if name == "projector":
                app.page.locator("[data-testid='stSidebar']").get_by_text(
                    "Projector mode" if lang == "en" else "프로젝터 모드"
                ).click()
                app.wait_idle()
    app.page.set_viewport_size({"width": 1400, "height": 1000})
    app.check()
