"""The operators' runtime: what a running application sets around plugin calls.

The call context (`context`: the actor, reason and request of a call), field
masking (`masking`), and the switchboards that share plugin switches and
configurations between processes (`switchboard`, `redis_switchboard`).  It sits
on the engine (`weaving/`) and knows the plugin registry only through the small
protocol `switchboard.Registry`.
"""
