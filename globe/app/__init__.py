"""``globe-app``: try a served checkpoint on your own photo in the browser (Gradio, works offline).

``globe.app.locate`` holds the logic (no web framework), ``globe.app.ui`` the page and the
``/locate`` API, ``globe.app.cli`` the command. Gradio is imported only by ``ui`` and ``cli``:
install it with the ``app`` extra (``pip install 'globe-geo[app]'``; ``make setup`` does).
"""
