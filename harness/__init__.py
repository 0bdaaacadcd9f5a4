"""Drive the app as its users do, for the end-to-end tests and the benchmarks alike.

browser   `streamlit run app.py` on a free port (Server) and one Chromium session on it (App)
canvas    drawing on the Draw page's canvas with the mouse, and reading the answer back
"""
