"""The weaving engine: pointcuts, advice, dispatch chains and the weaver.

This package is the lower layer of earnorm_aop.  It knows aspects (objects with advice bound to
pointcuts) and classes, and nothing of plugins, registries, configuration or ORMs: it imports
nothing from the package above it except [`earnorm_aop.errors`][earnorm_aop.errors], the leaf both
layers share.  Reading order: [`pointcut`][earnorm_aop.weaving.pointcut] (what a pointcut is),
[`aspect`][earnorm_aop.weaving.aspect] (advice declared by an aspect),
[`advice`][earnorm_aop.weaving.advice] (advice planned against one method),
[`joinpoint`][earnorm_aop.weaving.joinpoint], [`chain`][earnorm_aop.weaving.chain] (one method's
advice in run order), [`generated`][earnorm_aop.weaving.generated] and
[`interpreted`][earnorm_aop.weaving.interpreted] (the two dispatchers),
[`planning`][earnorm_aop.weaving.planning], [`state`][earnorm_aop.weaving.state] and
[`rebuild`][earnorm_aop.weaving.rebuild] (what the weaver does),
[`weaver`][earnorm_aop.weaving.weaver] (its public face), [`scope`][earnorm_aop.weaving.scope] and
[`tracing`][earnorm_aop.weaving.tracing]. [`extensions`][earnorm_aop.weaving.extensions] lists every
point where the layers above plug in; [`policy`][earnorm_aop.weaving.policy] holds the three
``on_error`` policies every runner of plugin code asks.
"""
