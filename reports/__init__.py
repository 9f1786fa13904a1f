"""Report building: tables, altair charts, the self-contained HTML page."""
