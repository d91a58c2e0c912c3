"""An XML API: a paged book catalogue in a default namespace, behind an API key header.

- ``GET /catalog.xml?page=N&size=S``::

    <catalog xmlns="urn:example:books">
      <meta><page>1</page></meta>
      <book id="1" format="paperback">
        <title>Book 1</title><price>10.5</price><published>2024-01-02T00:00:00Z</published>
        <tags><tag>fiction</tag><tag>new</tag></tags>
      </book>
      ...
    </catalog>

  Page-number pagination; the last page is short.
- ``X-Api-Key: API_KEY``; anything else answers 401 ``<error><message>bad key</message></error>``.

Config: examples/xml_catalog.json.
"""

from __future__ import annotations

import typing as t
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from tap_restoauth.sandbox import JsonHandler, LocalServer

API_KEY = "xml-api-key-7a4d2b"
BOOKS = 12


def books() -> list[dict[str, t.Any]]:
    return [
        {
            "id": n,
            "format": "paperback" if n % 2 else "hardcover",
            "title": f"Book {n} & friends",
            "price": n + 0.5,
            "published": f"2024-01-{n:02d}T00:00:00Z",
            "tags": {"tag": ["fiction", f"shelf-{n % 3}"]},
        }
        for n in range(1, BOOKS + 1)
    ]


def _xml(book: dict[str, t.Any]) -> str:
    tags = "".join(f"<tag>{tag}</tag>" for tag in book["tags"]["tag"])
    return (
        f'<book id="{book["id"]}" format="{book["format"]}"><title>{escape(book["title"])}</title>'
        f"<price>{book['price']}</price><published>{book['published']}</published><tags>{tags}</tags></book>"
    )


class XmlCatalogApi(LocalServer):
    def __init__(self) -> None:
        super().__init__(_Handler)


class _Handler(JsonHandler):
    server: XmlCatalogApi

    def do_GET(self) -> None:
        if self.headers.get("X-Api-Key") != API_KEY:
            self.send_bytes(401, b"<error><message>bad key</message></error>", "application/xml")
            return
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path != "/catalog.xml":
            self.send_bytes(404, b"<error><message>not found</message></error>", "application/xml")
            return
        page, size = int(query.get("page", 1)), int(query.get("size", 5))
        rows = books()[(page - 1) * size : page * size]
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<catalog xmlns="urn:example:books">'
            f"<meta><page>{page}</page></meta>{''.join(map(_xml, rows))}</catalog>"
        )
        self.send_bytes(200, body.encode(), "application/xml; charset=utf-8")
