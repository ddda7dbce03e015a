"""A project app whose models declare plugins and never import earnorm_aop."""
