"""The plugin layer: how a plugin is declared, registered, configured and applied.

A plugin class is read into a spec (`spec`), validated and registered
(`registry`, `config`, `dependencies`), and applied to a model (`model`,
`contributions`) by handing the engine (`weaving/`) its aspects.  Conditions on
a write's changes (`conditions`), custom events (`events`) and `explain`
(`explanation`) belong here too.  It builds on the engine, the adapter protocol
(`adapters/`) and the operators' runtime (`runtime/`), and knows no built-in
plugin and no particular ORM.
"""
