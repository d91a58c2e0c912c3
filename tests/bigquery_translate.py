"""Run by target-bigquery's own interpreter: JSON Schemas in, the BigQuery columns it makes out.

    <target-bigquery venv>/bin/python tests/bigquery_translate.py < {"stream": schema, ...}

Prints {"1": {"stream": [field, ...]}, "2": {...}}: each field as BigQuery's REST API
represents it (name, type, mode, fields), for schema resolver versions 1 and 2. Uses
z3-target-bigquery's `SchemaTranslator` itself, so the test judges schemas by the target's code.
"""

import json
import sys

from target_bigquery.core import SchemaResolverVersion, SchemaTranslator


def main() -> None:
    schemas = json.load(sys.stdin)
    result = {}
    for version in (1, 2):
        result[str(version)] = {
            name: [
                field.to_api_repr()
                for field in SchemaTranslator(schema, {}, SchemaResolverVersion(version)).translated_schema
            ]
            for name, schema in schemas.items()
        }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
