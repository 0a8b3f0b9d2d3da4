"""The prm_dealers plugin."""
