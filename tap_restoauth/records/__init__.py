"""What comes back: JSONPath, schema inference and declared schemas, conformance."""
