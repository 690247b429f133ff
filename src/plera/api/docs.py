"""/docs (Swagger UI) and /redoc, served with their vendored assets: nothing from another host, no inline script.

The assets come from their npm packages at pinned versions (infra/vendor_assets.py) and ship in the wheel.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(__file__).parent / "docs_assets"
PREFIX = "/docs/assets"

# The docs' own libraries inject styles (ReDoc's styled-components) and start web workers from blobs:
# styles may be inline here, scripts never.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
    " font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self';"
    " form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": DOCS_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

_SWAGGER = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Plera Sequences API</title>
<link rel="stylesheet" href="{PREFIX}/swagger-ui/swagger-ui.css">
<link rel="icon" href="{PREFIX}/swagger-ui/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{PREFIX}/swagger-ui/swagger-ui-bundle.js"></script>
<script src="{PREFIX}/swagger-init.js"></script>
</body>
</html>
"""

_REDOC = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Plera Sequences API</title>
</head>
<body>
<div id="redoc"></div>
<script src="{PREFIX}/redoc/redoc.standalone.js"></script>
<script src="{PREFIX}/redoc-init.js"></script>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    app.mount(PREFIX, StaticFiles(directory=ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(_SWAGGER, headers=HEADERS)

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return HTMLResponse(_REDOC, headers=HEADERS)
