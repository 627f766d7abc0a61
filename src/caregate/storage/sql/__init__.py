"""SQL shared by both engines: schema, dialects and the search query compiler."""
