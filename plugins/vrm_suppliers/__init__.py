"""The vrm_suppliers plugin."""
