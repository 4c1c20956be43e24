"""Knowledge filters (CooK's relevance, brevity, factuality, plus dedup and an instruction guard), one per module
behind the `KnowledgeFilter` protocol, composed by `FilterChain`. Reusable by every answering mode."""

from kgsolver.connectors.registry import lazy_exports

# Imported on first use (PEP 562): a caller that wants one filter does not load every filter.
_EXPORTS = {
    "FilterReport": "base",
    "FilterResult": "base",
    "KnowledgeFilter": "base",
    "Removed": "base",
    "BrevityFilter": "brevity",
    "ChainResult": "chain",
    "FilterChain": "chain",
    "build_filter_chain": "chain",
    "ConsistencyFilter": "consistency",
    "DedupFilter": "dedup",
    "InstructionGuardFilter": "instructions",
    "RelevanceFilter": "relevance",
}

__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
