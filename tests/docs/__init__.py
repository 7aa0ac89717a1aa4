"""The user guide, the examples and the API reference."""
