"""nn: neurons, layers and MLPs built from `autograd_core.Value`s (being built)."""
