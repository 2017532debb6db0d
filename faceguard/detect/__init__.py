"""Face detectors (one module each) and the multi-pass strategy that combines them."""
