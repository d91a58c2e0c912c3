"""Tap configs generated from an OpenAPI document (`tap-restoauth-openapi`, `openapi:` setting).

One concept per module: `document` loads a document within limits and resolves `$ref`;
`swagger` converts Swagger 2.0; `schema` translates schemas to declared Singer schemas;
`paging`, `keys`, `naming` and `auth` infer one part of a stream each; `streams` puts an
operation's guesses together; `generate` makes the config; `report` explains every guess.
"""
