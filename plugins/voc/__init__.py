"""The voc plugin."""
