"""Knowledge filters (CooK's relevance, brevity, factuality, plus dedup and an instruction guard), one per module
behind the `KnowledgeFilter` protocol, composed by `FilterChain`. Reusable by every answering mode."""

from kgsolver.pipeline.filters.base import FilterReport, FilterResult, KnowledgeFilter, Removed, Triple
from kgsolver.pipeline.filters.brevity import BrevityFilter
from kgsolver.pipeline.filters.chain import ChainResult, FilterChain, build_filter_chain
from kgsolver.pipeline.filters.consistency import ConsistencyFilter
from kgsolver.pipeline.filters.dedup import DedupFilter
from kgsolver.pipeline.filters.instructions import InstructionGuardFilter
from kgsolver.pipeline.filters.relevance import RelevanceFilter
from kgsolver.pipeline.filters.settings import FilterSettings

__all__ = ["BrevityFilter", "ChainResult", "ConsistencyFilter", "DedupFilter", "FilterChain", "FilterReport",
           "FilterResult", "FilterSettings", "InstructionGuardFilter", "KnowledgeFilter", "RelevanceFilter", "Removed",
           "Triple", "build_filter_chain"]
