"""The network as data: NetSpec and build (model), and each layer's arithmetic (arithmetic)."""
