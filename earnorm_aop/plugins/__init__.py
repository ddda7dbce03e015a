"""The built-in plugins: ``timestamp``, ``softdelete``, ``cache``, ``audit``, ``validation``.

Each lives in the module of its name and is found through the package's entry
points (group ``earnorm_aop.plugins``), like a third-party plugin, so a user's
own ``@plugin("timestamp")`` shadows the built-in.  They talk to models only
through the model's adapter, which their advice takes as its ``adapter``
parameter (found once at weave time, a constant per call), so the same plugin
serves plain classes, pydantic models and ORMs such as Django.
Nothing is imported here: importing a built-in's module does not register it.
See ``docs/plugins.md`` for their options and semantics.
"""

__all__: list[str] = []
