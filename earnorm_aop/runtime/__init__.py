"""The operators' runtime: what a running application sets around plugin calls.

The call context (`context`: the actor, reason and request of a call) and the
switchboards that share plugin switches and configurations between processes
(`switchboard`, `redis_switchboard`).  It sits above the plugin layer: a board
re-weaves models through it, and the registry knows a board only by the small
protocol `plugin_system.registry.Board`.
"""
