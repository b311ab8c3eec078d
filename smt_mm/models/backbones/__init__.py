"""Backbones registered in mmengine's root ``MODELS`` registry."""
