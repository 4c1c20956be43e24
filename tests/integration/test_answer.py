"""The one answer path (pipeline/answer/step.py): modes gather, the answer step filters and applies the policy once, and
"should we retrieve at all?" is decided before the mode runs."""

import pytest

from kgsolver.connectors.llms.gateway import Budget
from kgsolver.pipeline.answer import QuestionInputs
from kgsolver.pipeline.answer import step as answer_step
from kgsolver.pipeline.answer.preference import ParametricAnswer, PreferenceInputs, adaptive, get_policy
from kgsolver.pipeline.config import PreferenceSettings
from kgsolver.pipeline.solver import Solver


def inputs(assumptions=(), parametric=None) -> PreferenceInputs:
    return PreferenceInputs(question="q", session=None, settings=PreferenceSettings(), assumptions=list(assumptions),
                            parametric=parametric)


def test_answer_calls_are_the_policys():
    assert get_policy("hierarchical").answer_calls(inputs()) == 2  # grounded + closed-book
    assert get_policy("context_only").answer_calls(inputs()) == 1  # never closed-book
    # + the user's facts, alone and with passages
    assert get_policy("hierarchical").answer_calls(inputs(["a fact"])) == 4
    asked = ParametricAnswer("Paris", 90, 0)
    assert get_policy("adaptive").answer_calls(inputs(parametric=asked)) == 1  # asked before retrieval already


class ExplodingMode:
    name = "boom"

    def gather(self, question, ctx, tracer):
        raise AssertionError("the mode ran although the policy skipped retrieval")


def test_adaptive_skips_the_mode_itself_when_confident(monkeypatch, demo_kb, config, embedder):
    monkeypatch.setattr(adaptive, "ask_parametric", lambda inputs: ParametricAnswer("Paris", 99, 0))
    solver = Solver(demo_kb, config, embedder=embedder)
    inputs = QuestionInputs(solver.kb, solver.vectors, session=None, config=config, make_retriever=solver.retriever,
                            policy="adaptive")
    result = answer_step.answer_question("What is the capital of France?", inputs, ExplodingMode())
    assert result.answer == "Paris" and result.preference.retrieval_skipped and result.evidence == []


@pytest.mark.parametrize("mode", ["naive", "pike", "ksl", "agent"])
def test_every_mode_filters_and_decides_once(mode, demo_kb, config, embedder):
    solver = Solver(demo_kb, config, embedder=embedder)
    result = solver.ask("Which Canadian rock band released a song called Counterparts?", mode=mode,
                        budget=Budget(max_llm_calls=0))
    tools = [s.tool for s in result.trace]
    assert tools.count("filter:relevance") == 1 and tools.count("preference") == 1, tools
    assert tools.index("filter:relevance") < tools.index("preference") and tools[-1] == "preference"
    assert result.evidence and result.mode == mode


class _Seen(Exception):
    """Raised by the recording policy with the passages the answer step handed it."""


class RecordingPolicy:
    def before_retrieval(self, inputs):
        return None

    def resolve(self, inputs):
        raise _Seen([d.metadata["title"] for d in inputs.documents],
                    {s.tool: s.decision for s in inputs.tracer.steps})


@pytest.mark.parametrize("order, expected", [("hop", ["Corvin Bridge", "Bridges of Varo"]),
                                             ("rank", ["Bridges of Varo", "Corvin Bridge"])])
def test_the_reader_gets_the_passages_the_question_names_first(monkeypatch, config, embedder, order, expected):
    from langchain_core.documents import Document

    monkeypatch.setattr(answer_step, "get_policy", lambda name: RecordingPolicy())
    settings = config.model_copy(deep=True)
    settings.filters.enabled, settings.answer_form.passage_order = False, order
    documents = [Document("The bridges of Varo cross the Tessa.", metadata={"title": "Bridges of Varo"}),
                 Document("The Corvin Bridge opened in 1931.", metadata={"title": "Corvin Bridge"})]
    with pytest.raises(_Seen) as seen:
        answer_step.answer_passages("When did the Corvin Bridge open?", documents, session=None, config=settings,
                                    embedder=embedder)
    assert seen.value.args[0] == expected
    traced = seen.value.args[1]  # the trace says why the reader got another order than the ranked one
    if order == "hop":
        assert traced["reader order"] == "read first, named by the question: Corvin Bridge"
    else:
        assert "reader order" not in traced
