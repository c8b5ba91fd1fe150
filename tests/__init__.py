"""wiredesk test suite."""
