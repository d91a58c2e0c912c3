"""What to request: paginators, incremental bookmarks, the endpoint that walks pages."""
