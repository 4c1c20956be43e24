"""The one registry idiom: names listed, factories built with their arguments, unknown names answered with the list;
and the registries the configuration validates against."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kgsolver.connectors import KGSolverError, Registry, UnknownName, lazy


def test_registry_builds_by_name_with_arguments_and_lists_names():
    built = []
    reg = Registry("widget", {"b": lambda size=1: built.append(size) or f"b{size}", "a": lambda: "a"})
    assert reg.names() == ["a", "b"] and "a" in reg and "c" not in reg
    assert reg.get("b", 3) == "b3" and reg.get("a") == "a"
    assert built == [3]  # a factory runs only when its name is asked for
    with pytest.raises(UnknownName, match=r"unknown widget 'c'; available: a, b") as err:
        reg.get("c")
    assert isinstance(err.value, ValueError) and isinstance(err.value, KGSolverError)
    assert reg.check("a") == "a"


def test_lazy_entries_import_their_module_when_built_and_value_entries_are_returned_as_they_are():
    reg = Registry("format", {"fraction": lazy("fractions", "Fraction", 1), "ghost": lazy("kgsolver.no_such", "X")})
    assert reg.names() == ["fraction", "ghost"] and reg.check("ghost") == "ghost"  # naming imports nothing
    assert str(reg.get("fraction", 3)) == "1/3"
    with pytest.raises(ModuleNotFoundError):
        reg.get("ghost")
    models = Registry.of("model", {"small": ("s", 1)})
    assert models.get("small") == ("s", 1)
    with pytest.raises(UnknownName, match="unknown model 'big'; available: small"):
        models.get("big")


def test_configuration_lists_the_registered_names_of_an_unknown_choice():
    from kgsolver.graphs import GraphSettings
    from kgsolver.pipeline.config import PreferenceSettings

    with pytest.raises(ValidationError, match="unknown graph store 'sqlite'; available: neo4j, networkx"):
        GraphSettings(store="sqlite")
    with pytest.raises(ValidationError, match="unknown graph extractor 'regex'; available: llm, none, spacy"):
        GraphSettings(extractor="regex")
    with pytest.raises(ValidationError, match=r"unknown preference policy 'newest'; available: .*hierarchical"):
        PreferenceSettings(policy="newest")
    assert PreferenceSettings(policy="context-only").policy == "context_only"


def test_unknown_backends_filters_and_stores_name_the_alternatives():
    from kgsolver.connectors.graph_stores import open_store
    from kgsolver.connectors.llms.factory import build_chat_backend
    from kgsolver.pipeline.answer.filters import build_filter_chain
    from kgsolver.pipeline.config import FilterSettings, LLMSettings

    with pytest.raises(UnknownName, match="KIND one of gguf, openai, transformers"):
        build_chat_backend(LLMSettings(name="ollama:llama3"), None)
    with pytest.raises(UnknownName, match="available: brevity, consistency, dedup, instruction_guard, relevance"):
        build_filter_chain(FilterSettings(steps=["dedup", "rerank"]), embedder=None)
    with pytest.raises(UnknownName, match="available: neo4j, networkx"):
        open_store("sqlite")


def test_hop_policy_is_a_registry_entry_checked_at_configuration_load():
    from kgsolver.pipeline.config import AgentSettings
    from kgsolver.pipeline.multihop.hop_policy import HOP_POLICIES

    assert HOP_POLICIES.names() == ["combine", "embedding", "llm"]
    with pytest.raises(ValueError, match="combine, embedding, llm"):
        AgentSettings(hop_policy="vote")


def test_the_configuration_validates_against_the_registered_names():
    """The configuration (pipeline/config.py) lists the hop policies' and the preference policies' names rather than
    importing their code, and writes its default model's name rather than importing the model registry; the
    registries beside the code must register exactly those names, and that model."""
    from kgsolver.connectors.llms.registry import MODELS
    from kgsolver.pipeline.answer.preference import POLICIES
    from kgsolver.pipeline.config import HOP_POLICY_NAMES, POLICY_NAMES, LLMSettings
    from kgsolver.pipeline.multihop.hop_policy import HOP_POLICIES

    assert HOP_POLICIES.names() == sorted(HOP_POLICY_NAMES)
    assert POLICIES.names() == sorted(POLICY_NAMES)
    assert LLMSettings.model_fields["name"].default in MODELS


def test_a_filter_chain_imports_only_the_modules_of_its_configured_steps():
    """FILTERS names each filter's builder lazily: a chain of passage filters loads no sentence filter, and the other
    way round; every configured step is built from its settings."""
    import subprocess
    import sys

    code = ("import sys; from kgsolver.pipeline.answer.filters import build_filter_chain; "
            "from kgsolver.pipeline.config import FilterSettings; "
            "chain = build_filter_chain(FilterSettings(steps=sys.argv[1].split(','), dedup_similarity=0.9), None); "
            "print(','.join(type(f).__name__ for f in chain.filters), getattr(chain.filters[0], 'similarity', '-'), "
            "','.join(sorted(m.rsplit('.', 1)[1] for m in sys.modules "
            "if m.startswith('kgsolver.pipeline.answer.filters.'))))")

    def built(steps: str) -> list[str]:
        return subprocess.run([sys.executable, "-c", code, steps], capture_output=True, text=True,
                              check=True).stdout.split()

    assert built("dedup") == ["DedupFilter", "0.9", "passages"]
    assert built("instruction_guard,brevity") == ["InstructionGuardFilter,BrevityFilter", "-", "sentences"]
