"""The HTTP API over real HTTP: uvicorn on 127.0.0.1 in a thread, the real embedder and the real 0.5B LLM."""

from __future__ import annotations

import json
import shutil
import threading
import time

import httpx
import pytest
import uvicorn
from pydantic import SecretStr

from kgsolver.connectors.llms.gateway import LLMGateway
from kgsolver.pipeline.answer import AskResult
from kgsolver.pipeline.answer.answer_form import detect_form, shape_answer
from kgsolver.pipeline.serve.api import SOLVER_FEATURES, create_app
from kgsolver.pipeline.serve.api_models import MAX_BODY_BYTES, MAX_DOCUMENTS_PER_REQUEST
from tests.helpers import free_port, wait_until_up

NO_LLM = {"max_llm_calls": 0}  # retrieval runs, the answer step stops before calling the LLM
API_KEY = "test-key-0123456789abcdef"

ALPHA = [
    {"id": "a1", "title": "Zorblax River",
     "text": "The Zorblax River flows through Quendar province into the Amber Sea."},
    {"id": "a2", "title": "Quendar", "text": "Quendar province is known for glass-making and its capital Lirrow."},
    {"id": "shared", "title": "Lirrow Bridge", "text": "The Lirrow Bridge crosses the Zorblax River at Lirrow."},
]
BETA = [
    {"id": "b1", "title": "Mount Velthar", "text": "Mount Velthar is the tallest peak in Orvania, at 4,210 metres."},
    {"id": "b2", "title": "Orvania", "text": "Orvania is a mountainous country whose capital is Kesh."},
    {"id": "shared", "title": "Kesh Observatory", "text": "The Kesh Observatory sits below Mount Velthar in Orvania."},
]


@pytest.fixture(scope="module")
def root(tmp_path_factory, demo_kb):
    root = tmp_path_factory.mktemp("kb-root")
    shutil.copytree(demo_kb, root / "demo")
    return root


@pytest.fixture(scope="module")
def gateway(qwen05) -> LLMGateway:
    """The loaded 0.5B model without the response cache: every answer here is generated (and streamed) for real."""
    return LLMGateway(qwen05.backend, None, default_max_tokens=qwen05.default_max_tokens)


@pytest.fixture(scope="module")
def api(root, config, embedder, gateway):
    """The API with a key (KGSOLVER_API__KEY); the client sends it on every request."""
    port = free_port()
    keyed = config.model_copy(deep=True)
    keyed.api.key = SecretStr(API_KEY)
    server = uvicorn.Server(uvicorn.Config(create_app(root, keyed, embedder=embedder, gateway=gateway),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url)
    with httpx.Client(base_url=url, timeout=120, headers={"X-API-Key": API_KEY}) as client:
        yield client
    server.should_exit = True
    thread.join(timeout=10)


def sse_events(response: httpx.Response, arrived: list[float] | None = None) -> list[tuple[str, str]]:
    """The events of a stream; with `arrived`, each event's arrival time (time.monotonic) is appended to it."""
    events, event, data = [], "message", []
    for line in response.iter_lines():
        if not line:
            if data:
                events.append((event, "\n".join(data)))
                if arrived is not None:
                    arrived.append(time.monotonic())
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    return events


def test_openapi_schema_and_health(api):
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/ask", "/ask/stream", "/kb/{name}/documents", "/kb", "/health"} <= set(paths)
    assert "post" in paths["/ask"] and "post" in paths["/kb/{name}/documents"] and "get" in paths["/kb"]
    health = api.get("/health").json()
    assert health["status"] == "ok" and "naive" in health["modes"] and health["auth"] is True
    assert health["features"] == SOLVER_FEATURES


def test_every_endpoint_but_health_wants_the_key(api):
    url = str(api.base_url)
    calls = [("GET", "/kb", None), ("POST", "/ask", {"kb": "demo", "question": "q", "budget": NO_LLM}),
             ("POST", "/ask/stream", {"kb": "demo", "question": "q"}), ("POST", "/kb/nokey/documents",
             {"documents": ALPHA}), ("GET", "/openapi.json", None), ("GET", "/docs", None), ("GET", "/nowhere", None)]
    wrong = [{}, {"X-API-Key": API_KEY[:-1] + "X"}, {"Authorization": f"Basic {API_KEY}"},
             {"Authorization": "Bearer"}, {"X-API-Key": API_KEY + "0"}]
    with httpx.Client(base_url=url, timeout=30) as bare:
        assert bare.get("/health").status_code == 200
        for method, path, body in calls:
            for headers in wrong:
                response = bare.request(method, path, json=body, headers=headers)
                assert response.status_code == 401, (path, headers, response.text)
                assert "API key" in response.json()["detail"] and response.headers["www-authenticate"] == "Bearer"
        assert bare.get("/kb", headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 200
        assert bare.get("/kb", headers={"X-API-Key": API_KEY}).status_code == 200
    assert "nokey" not in {kb["name"] for kb in api.get("/kb").json()}
    assert {"HTTPBearer", "APIKeyHeader"} <= set(api.get("/openapi.json").json()["components"]["securitySchemes"])


def test_validation_errors_name_the_field_but_never_echo_the_request(api):
    secret = "SECRET-VALUE-" * 400_000  # 5.2 MB: FastAPI's default 422 body carried it back whole
    for path, body in (("/ask", {"kb": "demo", "question": secret}),
                       ("/kb/demo2/documents", {"documents": [{"id": "1", "text": "x", "metadata": [secret[:99]]}]})):
        response = api.post(path, json=body)
        assert response.status_code == 422 and len(response.content) < 1_000, len(response.content)
        assert "SECRET-VALUE" not in response.text
        errors = response.json()["detail"]
        assert errors and all(set(e) == {"loc", "msg", "type"} for e in errors), errors
    too_long = api.post("/ask", json={"kb": "demo", "question": secret}).json()["detail"]
    assert too_long == [{"loc": ["body", "question"], "msg": too_long[0]["msg"], "type": "string_too_long"}]
    extra = api.post("/ask", json={"kb": "demo", "question": "q", secret[:5_000]: 1})  # a field name is input too
    assert extra.status_code == 422 and len(extra.content) < 1_000
    assert extra.json()["detail"][0]["loc"][:1] == ["body"] and len(extra.json()["detail"][0]["loc"][1]) == 64
    many = api.post("/kb/demo2/documents", json={"documents": [{"id": str(i)} for i in range(100)]}).json()
    assert len(many["detail"]) == 20 and many["errors_not_shown"] >= 80  # each document misses its text


def test_errors_and_health_show_no_server_paths(api, root):
    damaged = root / "damaged"
    damaged.mkdir(exist_ok=True)
    (damaged / "manifest.json").write_text("{ not json")
    response = api.post("/ask", json={"kb": "damaged", "question": "q", "budget": NO_LLM})
    assert response.status_code == 409 and "damaged/manifest.json" in response.json()["detail"], response.text
    with api.stream("POST", "/ask/stream", json={"kb": "damaged", "question": "q", "budget": NO_LLM}) as streamed:
        events = dict(sse_events(streamed))
    assert "damaged/manifest.json" in json.loads(events["error"])["detail"]
    listed = {kb["name"]: kb for kb in api.get("/kb").json()}
    assert listed["damaged"]["damaged"] is True and listed["demo"]["damaged"] is False
    health = api.get("/health")
    assert health.status_code == 200 and health.json()["knowledge_bases"] >= 2
    for text in (response.text, events["error"], health.text, api.get("/kb").text):
        assert str(root) not in text and str(root.resolve()) not in text and "/tmp/" not in text, text


@pytest.mark.llm
def test_ask_returns_the_cli_json_with_cited_answer(api, demo_questions):
    sample = demo_questions[0]
    response = api.post("/ask", json={"kb": "demo", "question": sample["question"], "mode": "naive"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == set(AskResult.model_fields)  # the shape `kgsolver ask --json` prints
    result = AskResult.model_validate(body)
    assert result.answer.strip() and result.question == sample["question"]
    assert result.usage.llm_calls >= 1 and result.usage.cache_hits == 0
    assert {c.doc_id for c in result.citations} <= {e.doc_id for e in result.evidence}
    assert [s.step for s in result.trace] == list(range(1, len(result.trace) + 1)) and len(result.trace) >= 2


@pytest.mark.llm
def test_ask_stream_sends_steps_and_tokens_as_they_happen(api, demo_questions):
    """Each trace step when it ends and each piece of the 0.5B model's reply as it is generated, long before the
    answer event (the stream used to carry only pings until the whole answer was ready)."""
    request = {"kb": "demo", "question": demo_questions[1]["question"], "top_k": 3}
    arrived: list[float] = []
    with api.stream("POST", "/ask/stream", json=request) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response, arrived)
    names = [name for name, _ in events]
    assert names[0] == "started" and names[-1] == "answer" and names.count("answer") == 1, names
    result = AskResult.model_validate_json(events[-1][1])
    traced = [json.loads(data) for name, data in events if name == "trace"]
    assert traced == [step.model_dump(mode="json") for step in result.trace] and len(traced) >= 2
    assert result.usage.llm_calls >= 1 and result.answer.strip()
    assert 0 < len({e.chunk_id for e in result.evidence if e.source != "user"}) <= 3  # top_k reached retrieval
    first_trace, answer_at = arrived[names.index("trace")], arrived[-1]
    llm_seconds = sum(step.seconds for step in result.trace if step.llm_calls)
    assert llm_seconds > 0.2 and answer_at - first_trace >= 0.5 * llm_seconds, (answer_at - first_trace, llm_seconds)
    tokens = [(json.loads(data), at) for (name, data), at in zip(events, arrived, strict=True) if name == "token"]
    answer_pieces = [t["text"] for t, _ in tokens if t["purpose"] == "grounded answer"]
    assert len(answer_pieces) > 1, tokens  # generated piece by piece, not one block
    assert answer_at - tokens[0][1] >= 0.2 * llm_seconds
    if not result.abstained:  # the constrained JSON reply carries the answer, shaped after it by the answer-form step
        replied = str(json.loads("".join(answer_pieces))["answer"]).strip().strip(".")
        shaped = shape_answer(replied, detect_form(result.question), [e.text for e in result.evidence if e.kept])
        assert result.answer.lower() in {replied.lower(), shaped.lower()}, (replied, shaped, result.answer)


@pytest.mark.llm
def test_trace_steps_carry_the_gateways_token_counts(api, gateway, demo_questions):
    before = gateway.total.model_copy()
    response = api.post("/ask", json={"kb": "demo", "question": demo_questions[2]["question"]})
    assert response.status_code == 200, response.text
    result = AskResult.model_validate(response.json())
    spent = gateway.total
    counted = [s for s in result.trace if s.tokens]
    assert counted and all(s.llm_calls and s.prompt_tokens > 0 and s.completion_tokens > 0 for s in counted)
    assert all(s.tokens == s.prompt_tokens + s.completion_tokens for s in result.trace)
    for field in ("llm_calls", "prompt_tokens", "completion_tokens"):
        in_steps = sum(getattr(s, field) for s in result.trace)
        assert in_steps == getattr(result.usage, field) == getattr(spent, field) - getattr(before, field), field


def test_evidence_says_which_passages_the_filters_kept(api):
    near_copy = dict(ALPHA[0], id="a1-copy", text=ALPHA[0]["text"].replace("Sea.", "Sea, its only outlet."))
    api.post("/kb/marks/documents", json={"documents": ALPHA + [near_copy]}).raise_for_status()
    response = api.post("/ask", json={"kb": "marks", "question": "Where does the Zorblax River flow?",
                                      "budget": NO_LLM, "top_k": 4})
    assert response.status_code == 200, response.text
    evidence = response.json()["evidence"]
    assert all({"doc_id", "title", "text", "score", "chunk_id", "source", "kept", "removed_by"} <= set(e)
               for e in evidence)
    removed = {e["doc_id"]: e["removed_by"] for e in evidence if not e["kept"]}
    assert set(removed.values()) <= {"instruction_guard", "dedup", "relevance", "consistency", "brevity"}
    assert len({"a1", "a1-copy"} & set(removed)) == 1 and removed.get("a1", removed.get("a1-copy")) == "dedup"
    assert all(e["removed_by"] is None for e in evidence if e["kept"]) and any(e["kept"] for e in evidence)
    steps = {s["tool"]: s for s in response.json()["trace"]}
    dedup_removed = {r["ref"] for r in steps["filter:dedup"]["output"]}
    assert dedup_removed == {e["chunk_id"] for e in evidence if e["removed_by"] == "dedup"}


def _ask_without_llm(api, kb: str, question: str) -> AskResult:
    response = api.post("/ask", json={"kb": kb, "question": question, "budget": NO_LLM})
    assert response.status_code == 200, response.text
    result = AskResult.model_validate(response.json())
    assert result.abstained and result.usage.llm_calls == 0
    return result


def test_knowledge_bases_are_isolated_by_name(api, root):
    for name, docs in (("alpha", ALPHA), ("beta", BETA)):
        report = api.post(f"/kb/{name}/documents", json={"documents": docs}).json()
        assert report["documents_added"] == 3 and report["documents_total"] == 3, report
    alpha_texts, beta_texts = {d["text"] for d in ALPHA}, {d["text"] for d in BETA}
    question = "Which river crosses Quendar, and which peak is the tallest in Orvania?"  # both KBs could answer
    for kb, own, other in (("alpha", alpha_texts, beta_texts), ("beta", beta_texts, alpha_texts)):
        result = _ask_without_llm(api, kb, question)
        seen = {e.text for e in result.evidence}
        assert seen and seen <= own and not seen & other, (kb, seen)
    demo_hit = _ask_without_llm(api, "demo", question)
    assert not {e.text for e in demo_hit.evidence} & (alpha_texts | beta_texts)
    listed = {kb["name"]: kb for kb in api.get("/kb").json()}
    assert {"alpha", "beta", "demo"} <= set(listed) and listed["alpha"]["documents"] == 3
    assert listed["demo"]["documents"] > 100


def test_documents_are_ingested_incrementally(api):
    api.post("/kb/gamma/documents", json={"documents": ALPHA}).raise_for_status()
    changed = dict(ALPHA[0], text="The Zorblax River is frozen for half the year.")
    new = {"id": "a9", "title": "Amber Sea", "text": "The Amber Sea is shallow and warm."}
    report = api.post("/kb/gamma/documents", json={"documents": [changed, ALPHA[1], new]}).json()
    assert (report["documents_added"], report["documents_replaced"], report["documents_unchanged"]) == (1, 1, 1)
    assert report["documents_total"] == 4
    result = _ask_without_llm(api, "gamma", "Is the Zorblax River frozen?")
    texts = {e.text for e in result.evidence}
    assert changed["text"] in texts and ALPHA[0]["text"] not in texts


@pytest.mark.parametrize("path, status", [
    ("/kb/Bad.Name/documents", 422), ("/kb/-x/documents", 422), ("/kb/..%2F..%2Fescape/documents", (404, 422)),
    ("/kb/%2e%2e/documents", (404, 422)), ("/kb/a%00b/documents", 422), (f"/kb/{'x' * 65}/documents", 422),
])
def test_kb_names_are_validated_and_never_escape_the_root(api, root, path, status):
    response = api.post(path, json={"documents": ALPHA[:1]})
    assert response.status_code in (status if isinstance(status, tuple) else (status,)), response.text
    assert not (root.parent / "escape").exists() and not (root / "escape").exists()


@pytest.mark.parametrize("body, status, needle", [
    ({"kb": "nope", "question": "q"}, 404, "no knowledge base named 'nope'"),
    ({"kb": "../demo", "question": "q"}, 422, "kb"),
    ({"kb": "demo", "question": ""}, 422, "question"),
    ({"kb": "demo", "question": "q" * 2_001}, 422, "question"),
    ({"kb": "demo", "question": "q", "mode": "oracle"}, 400, "unknown mode 'oracle'"),
    ({"kb": "demo", "question": "q", "temperature": 2}, 422, "temperature"),
    ({"kb": "demo", "question": "q", "budget": {"max_llm_calls": -1}}, 422, "max_llm_calls"),
    ({"kb": "demo", "question": "q", "top_k": 0}, 422, "top_k"),
])
def test_bad_ask_requests_get_clear_4xx(api, body, status, needle):
    for endpoint in ("/ask", "/ask/stream"):
        response = api.post(endpoint, json=body)
        assert response.status_code == status and needle in response.text, (endpoint, response.text)


@pytest.mark.parametrize("feature, value", [("policy", "context_only"), ("assumptions", ["The year is 2020."])])
def test_optional_solver_features(api, feature, value):
    response = api.post("/ask", json={"kb": "demo", "question": "Who?", "budget": NO_LLM, feature: value})
    if SOLVER_FEATURES[feature]:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 400 and "not available yet" in response.json()["detail"]
        empty = api.post("/ask", json={"kb": "demo", "question": "Who?", "budget": NO_LLM, feature: None})
        assert empty.status_code == 200


def test_size_limits(api):
    too_many = {"documents": [{"id": str(i), "text": "x"} for i in range(MAX_DOCUMENTS_PER_REQUEST + 1)]}
    assert api.post("/kb/big/documents", json=too_many).status_code == 422
    huge = json.dumps({"documents": [{"id": "1", "text": "x" * (MAX_BODY_BYTES + 10)}]}).encode()
    response = api.post("/kb/big/documents", content=huge, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "request body over" in response.json()["detail"]

    def chunks():  # no Content-Length: the limit applies while reading
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b" " * 65536

    response = api.post("/kb/big/documents", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert api.post("/kb/big/documents", json={"documents": []}).status_code == 422
    assert "big" not in {kb["name"] for kb in api.get("/kb").json()}
