"""A project app on a real admin site: a model whose plugins include validation."""
