"""Pure numpy/OpenCV building blocks: boxes, masks, filters. No I/O, no models, no logging set-up."""
