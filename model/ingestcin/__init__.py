"""CIN census ingest: read census XML (or liia-tools flat CSV) files into flat tables."""
