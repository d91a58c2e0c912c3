"""Run by target-bigquery's own interpreter: can BigQuery read its Storage Write schema for a stream?

    <target-bigquery venv>/bin/python tests/bigquery_storage_write.py < {"stream": schema, ...}

For each JSON Schema, builds the AppendRows writer schema exactly as the target's storage_write_api
method does (proto_gen.proto_schema_factory_v2 and storage_write.generate_template), then loads
that descriptor alone into an empty descriptor pool, as the BigQuery service does: a descriptor
that names message types it does not contain is refused ("Invalid proto schema: ... is not
defined"). Prints {"stream": null} when it loads, else {"stream": "the error"}.
"""

import json
import sys

from google.protobuf import descriptor_pb2, descriptor_pool
from target_bigquery.core import BigQueryTable, IngestionStrategy
from target_bigquery.proto_gen import proto_schema_factory_v2
from target_bigquery.storage_write import generate_template


def main() -> None:
    result = {}
    for name, schema in json.load(sys.stdin).items():
        table = BigQueryTable(
            name=name,
            dataset="d",
            project="p",
            jsonschema=schema,
            ingestion_strategy=IngestionStrategy.DENORMALIZED,
        )
        message = proto_schema_factory_v2(table.get_resolved_schema(True))
        descriptor = generate_template(message).proto_rows.writer_schema.proto_descriptor
        file_proto = descriptor_pb2.FileDescriptorProto(name="writer_schema.proto")
        file_proto.message_type.add().CopyFrom(descriptor)
        try:
            descriptor_pool.DescriptorPool().Add(file_proto)
            result[name] = None
        except Exception as exc:  # the pool's own message is the point
            result[name] = f"{type(exc).__name__}: {exc}"
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
