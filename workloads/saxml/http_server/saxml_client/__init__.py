"""A client of the Saxml HTTP server (saxml_http): `python -m saxml_client --help`.

`api.SaxmlHttpClient` is the API with retries, `sync` makes a cell serve a models file's models, `cli` is the
command line. It needs only httpx, so it runs wherever Python does (the publishing Job runs it from the
saxml-http-server image).
"""
