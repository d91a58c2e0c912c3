"""The floor: the least a Python extractor of this API must do.

One token, each page fetched with requests and decoded with msgspec, one Singer
RECORD line encoded per record, written once per page. No schema, no state,
no retries: anything a real tap does costs more than this.

    python benchmarks/floor.py API_URL PAGE_SIZE
"""

from __future__ import annotations

import datetime as dt
import sys

import msgspec
import requests

CLIENT = ("bench-client", "bench-secret")


def main() -> None:
    api_url, page_size = sys.argv[1], int(sys.argv[2])
    session = requests.Session()
    token = session.post(
        f"{api_url}/oauth/token", data={"grant_type": "client_credentials"}, auth=CLIENT, timeout=60
    ).json()["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"
    encoder = msgspec.json.Encoder()
    out = sys.stdout.buffer
    out.write(b'{"type":"SCHEMA","stream":"records","schema":{},"key_properties":["id"]}\n')
    page = 1
    while True:
        response = session.get(
            f"{api_url}/v1/records", params={"page": page, "per_page": page_size}, timeout=60
        )
        response.raise_for_status()
        body = msgspec.json.decode(response.content)
        records = body["data"]
        if not records:
            break
        extracted = dt.datetime.now(dt.timezone.utc)
        lines = bytearray()
        for record in records:
            message = {"type": "RECORD", "stream": "records", "record": record, "time_extracted": extracted}
            encoder.encode_into(message, lines, -1)
            lines += b"\n"
        out.write(lines)
        if page >= body["meta"]["total_pages"]:
            break
        page += 1
    out.flush()


if __name__ == "__main__":
    main()
