"""The quickstart's Django app: one model with the built-in plugins, and its migration."""
