"""The weaving engine: pointcuts, advice, dispatch chains and the weaver.

This package is the lower layer of earnorm_aop.  It knows aspects (objects
with advice bound to pointcuts) and classes, and nothing of plugins,
registries, configuration or ORMs: it imports nothing from the package above
it except :mod:`earnorm_aop.errors`, the leaf both layers share.  Reading
order: :mod:`.pointcut` (what a pointcut is), :mod:`.aspect` (advice declared
by an aspect), :mod:`.advice` (advice planned against one method),
:mod:`.joinpoint`, :mod:`.chain` (one method's advice in run order),
:mod:`.generated` and :mod:`.interpreted` (the two dispatchers),
:mod:`.planning`, :mod:`.state` and :mod:`.rebuild` (what the weaver does),
:mod:`.weaver` (its public face), :mod:`.scope` and :mod:`.tracing`.
:mod:`.extensions` lists every point where the layers above plug in;
:mod:`.policy` holds the three ``on_error`` policies every runner of plugin code asks.
"""
