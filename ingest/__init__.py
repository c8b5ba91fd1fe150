"""ingest: bytes in, records out: fetch, drop folder, parse, normalise, deduplicate, tag topics."""
