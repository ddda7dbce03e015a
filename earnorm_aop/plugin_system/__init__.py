"""The plugin layer: how a plugin is declared, registered, configured and applied.

A plugin class is read into a spec (`spec`), validated and registered
(`registry`, `config`, `dependencies`), and applied to a model (`model`,
`contributions`) by handing the engine (`weaving/`) its aspects.  Conditions on
a write's changes (`conditions`), custom events (`events`), the fields no plugin
writes down in clear (`masking`) and `explain` (`explanation`) belong here too.
It builds on the engine (`weaving/`) and the adapter protocol (`adapters/`),
and knows no built-in plugin and no particular ORM.
"""
