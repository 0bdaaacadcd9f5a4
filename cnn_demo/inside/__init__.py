"""Looking inside a model: each stage's maps and kernels (features), where it looks
(attribution), shifts (equivariance), nearest training images (similar), predictions and
probes (predict, probe), and the pictures the pages show (pixels, mosaic)."""
