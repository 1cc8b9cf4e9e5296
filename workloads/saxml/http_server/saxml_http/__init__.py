"""An HTTP front end for a Sax cell: publish, update, unpublish and list models, and generate text.

`python -m saxml_http` serves it (port 8888). The endpoints and their error codes are in `app.py`; the backend
that talks to the Sax admin server is `sax_backend.SaxBackend`, and `testing.FakeSaxBackend` is a test double.
"""
