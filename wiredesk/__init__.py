"""wiredesk's composition root: config, wiring of store/ingest/feeds, the daemon and the CLI."""

__version__ = "0.1.0"
