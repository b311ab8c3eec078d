"""Helpers of the models: checkpoint conversion."""
