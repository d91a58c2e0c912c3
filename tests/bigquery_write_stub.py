"""A local stand-in for BigQuery's Storage Write gRPC API (AppendRows on `_default` streams).

Run by target-bigquery's own interpreter, which has the API's message types:

    <target-bigquery venv>/bin/python tests/bigquery_write_stub.py CERT KEY REST_URL

The Storage Write client has no endpoint setting its users can reach (the target builds it with
no client options), so the target finds this server the way a client behind a proxy does:
gRPC's `grpc_proxy` setting names the small CONNECT proxy here, which hands every
`bigquerystorage.googleapis.com:443` tunnel to the TLS gRPC server (its certificate for that
name comes from a test CA that `GRPC_DEFAULT_SSL_ROOTS_FILE_PATH` makes gRPC trust). Nothing
leaves 127.0.0.1; other hosts get 403.

Each AppendRows writer schema is loaded alone into an empty descriptor pool, as BigQuery does
(a descriptor naming types it does not contain is refused with INVALID_ARGUMENT); the decoded
rows go to the REST stand-in (`POST REST_URL/_stub/rows`), which checks them against the table.
Prints {"proxy": PORT} once serving.
"""

import contextlib
import json
import socket
import sys
import threading
import urllib.request
from concurrent import futures

import grpc
from google.cloud.bigquery_storage_v1 import types
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import FieldDescriptor

SERVICE = "google.cloud.bigquery.storage.v1.BigQueryWrite"
HOST = b"bigquerystorage.googleapis.com:443"


def to_row(message):
    """A decoded row as JSON values (fields never set are absent: NULL)."""
    row = {}
    for field, value in message.ListFields():
        repeated = field.label == FieldDescriptor.LABEL_REPEATED
        if field.message_type is not None:
            row[field.name] = [to_row(v) for v in value] if repeated else to_row(value)
        else:
            row[field.name] = list(value) if repeated else value
    return row


def append_rows(rest_url):
    def handle(requests, context):
        message_class = None
        stream = None
        for request in requests:
            stream = request.write_stream or stream
            schema = request.proto_rows.writer_schema.proto_descriptor
            if schema.name:
                file_proto = descriptor_pb2.FileDescriptorProto(name="writer_schema.proto")
                file_proto.message_type.add().CopyFrom(schema)
                pool = descriptor_pool.DescriptorPool()
                try:
                    pool.Add(file_proto)
                except Exception as exc:
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid proto schema: {exc}")
                message_class = message_factory.GetMessageClass(pool.FindMessageTypeByName(schema.name))
            rows = []
            for data in request.proto_rows.rows.serialized_rows:
                row = message_class()
                row.ParseFromString(data)
                rows.append(to_row(row))
            table = stream.rsplit("/streams/", 1)[0]
            body = json.dumps({"table": table, "rows": rows}).encode()
            post = urllib.request.Request(f"{rest_url}/_stub/rows", data=body, method="POST")
            with urllib.request.urlopen(post, timeout=30) as response:
                answer = json.load(response)
            if answer.get("error"):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, answer["error"])
            yield types.AppendRowsResponse(
                append_result=types.AppendRowsResponse.AppendResult(), write_stream=stream
            )

    return handle


def pipe(source, sink):
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


def tunnel(client, grpc_port):
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = client.recv(4096)
        if not chunk:
            client.close()
            return
        request += chunk
    first = request.split(b"\r\n", 1)[0].split()
    if len(first) < 2 or first[0] != b"CONNECT" or first[1] != HOST:
        client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        client.close()
        return
    upstream = socket.create_connection(("127.0.0.1", grpc_port))
    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
    pipe(client, upstream)


def main():
    cert, key, rest_url = sys.argv[1:4]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    handler = grpc.stream_stream_rpc_method_handler(
        append_rows(rest_url),
        request_deserializer=types.AppendRowsRequest.deserialize,
        response_serializer=types.AppendRowsResponse.serialize,
    )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {"AppendRows": handler}),))
    with open(cert, "rb") as c, open(key, "rb") as k:
        credentials = grpc.ssl_server_credentials([(k.read(), c.read())])
    grpc_port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    proxy = socket.create_server(("127.0.0.1", 0))
    print(json.dumps({"proxy": proxy.getsockname()[1]}), flush=True)
    while True:
        client, _ = proxy.accept()
        threading.Thread(target=tunnel, args=(client, grpc_port), daemon=True).start()


if __name__ == "__main__":
    main()
