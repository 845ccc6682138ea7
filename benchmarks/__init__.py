"""labkit's benchmarks: figures printed and recorded, never asserted (`make bench`)."""
