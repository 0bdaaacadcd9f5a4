"""The Draw page's canvas on touch screens: its toolbar pinned above the canvas.

streamlit-drawable-canvas 0.13 rests its toolbar (undo, redo, clear) invisible over the
canvas's top-right corner and slides it above the canvas when the pointer hovers the canvas.
A finger does not hover: a stroke that starts in that corner lands on the invisible toolbar
and draws nothing. The canvas lives in a shadow root, out of reach of the page's CSS, so this
small components-v2 element (in the page's DOM, no iframe) adds one rule to that shadow root:
the toolbar always shows, wholly above the canvas (the component's own pinned place, -2.65rem,
still covers the canvas's top 4 pixels).
"""

import streamlit as st

# Runs in the browser: finds the canvas's shadow root (now, and whenever the page changes, as
# the canvas mounts after this element) and pins the toolbar there once.
PIN_JS = """
const RULE = ".dc-toolbar { top: -3rem !important; opacity: 1 !important; }";  // its 46 px clear of the canvas
const watched = new WeakSet();  // shadow roots observed: their toolbar is made after they are
function pin() {
  for (const host of document.querySelectorAll('[class*="st-key-draw_canvas"] *')) {
    const root = host.shadowRoot;
    if (!root || root.querySelector("style[data-pinned]")) continue;
    if (root.querySelector(".dc-toolbar")) {
      const style = document.createElement("style");
      style.dataset.pinned = "";
      style.textContent = RULE;
      root.appendChild(style);
    } else if (!watched.has(root)) {
      watched.add(root);
      new MutationObserver(pin).observe(root, { childList: true, subtree: true });
    }
  }
}
let watching = null;
export default function () {
  pin();
  if (!watching) {
    watching = new MutationObserver(pin);
    watching.observe(document.body, { childList: true, subtree: true });
  }
}
"""

_pin = st.components.v2.component("cnn_demo.pin_canvas_toolbar", js=PIN_JS, isolate_styles=False)


def pin_canvas_toolbar() -> None:
    """Draw the (invisible) element that pins the canvas's toolbar; once per page run."""
    _pin(key="pin_canvas_toolbar")
