"""An answer that only repeats the question (pipeline/answer/answer_form.py `echoes`) is not the answer: with
`answer_form.retry_echo` (on by default) the reader is told so once (pipeline/answer/generate.py), and a second echo
abstains."""

from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage

from kgsolver.connectors.llms import Budget
from kgsolver.connectors.llms.gateway import LLMSession
from kgsolver.pipeline.answer.answer_form import AnswerForm, AnswerFormSettings, detect_form, echoes
from kgsolver.pipeline.answer.generate import generate_grounded
from kgsolver.pipeline.answer.preference import closed_book_answer
from tests.unit.fakes import always, chat_of, fake_session, replies

QUESTION = 'The actor known for his role as "Freddie" in The Deep Blue Sea won an award for his role in what play?'
PASSAGES = [
    Document("The Deep Blue Sea is a 2011 film; Tom Hiddleston plays Freddie.",
             metadata={"title": "The Deep Blue Sea"}),
    Document("Tom Hiddleston won the Laurence Olivier Award for Cymbeline.", metadata={"title": "Tom Hiddleston"}),
]
RETRY = AnswerFormSettings(retry_echo=True, compare_values=False)


def test_an_answer_made_of_the_question_s_own_words_echoes():
    assert echoes("The Deep Blue Sea", QUESTION, detect_form(QUESTION))
    assert echoes("the deep blue sea.", QUESTION, None)  # after normalisation
    assert not echoes("Cymbeline", QUESTION, None)
    assert not echoes("Deep Blue", "What is Deep Bluesea?", None)  # whole words only
    assert not echoes("", QUESTION, None)


def test_yes_no_and_named_options_never_echo():
    assert not echoes("yes", "Is yes a word?", AnswerForm("yes_no"))
    choice = "Which will be higher Time Warner Center or One Manhattan Square?"
    assert not echoes("One Manhattan Square", choice, detect_form(choice))  # no comma: detected as "other"


def scripted(*answers: str, calls_left: int | None = None) -> LLMSession:
    """Replies to the grounded-answer calls in turn, citing the second passage."""
    return fake_session(replies(*({"answer": a, "passages": [2]} for a in answers)), Budget(max_llm_calls=calls_left))


def test_an_echo_is_answered_again_after_the_model_is_told_so():
    session = scripted("The Deep Blue Sea", "Cymbeline")
    answer = generate_grounded(session, QUESTION, PASSAGES, RETRY)
    assert answer.answer == "Cymbeline" and answer.tokens == 30
    first, retry = (call.messages for call in chat_of(session).calls)
    assert retry[:-2] == first and isinstance(retry[-2], AIMessage) and isinstance(retry[-1], HumanMessage)
    assert '"The Deep Blue Sea" is named in the question' in retry[-1].content


def test_a_second_echo_or_no_call_left_abstains_and_off_keeps_the_echo():
    twice = generate_grounded(scripted("The Deep Blue Sea", "Deep Blue Sea"), QUESTION, PASSAGES, RETRY)
    assert twice.abstained and "only repeats the question" in twice.reason
    no_budget = scripted("The Deep Blue Sea", "Cymbeline", calls_left=1)  # the closed-book answer needs the last call
    assert generate_grounded(no_budget, QUESTION, PASSAGES, RETRY).abstained and len(chat_of(no_budget).calls) == 1
    off = AnswerFormSettings(compare_values=False, retry_echo=False)
    assert generate_grounded(scripted("The Deep Blue Sea"), QUESTION, PASSAGES, off).answer == "The Deep Blue Sea"
    assert AnswerFormSettings().retry_echo  # on by default


def closed() -> LLMSession:
    return fake_session(always({"answer": "The Deep Blue Sea", "confidence": 90}))


def test_a_closed_book_echo_is_no_answer_either():
    assert closed_book_answer(closed(), QUESTION, form=RETRY).answer is None
    no_retry = AnswerFormSettings(retry_echo=False)
    assert closed_book_answer(closed(), QUESTION, form=no_retry).answer == "The Deep Blue Sea"
