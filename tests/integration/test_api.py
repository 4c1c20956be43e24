"""The HTTP API over real HTTP: uvicorn on 127.0.0.1 in a thread, the real embedder and the real 0.5B LLM."""

from __future__ import annotations

import json
import shutil
import threading

import httpx
import pytest
import uvicorn

from kgsolver.pipeline.api import SOLVER_FEATURES, create_app
from kgsolver.pipeline.api_models import MAX_BODY_BYTES, MAX_DOCUMENTS_PER_REQUEST
from kgsolver.pipeline.results import AskResult
from tests.helpers import free_port, wait_until_up

NO_LLM = {"max_llm_calls": 0}  # retrieval runs, the answer step stops before calling the LLM

ALPHA = [
    {"id": "a1", "title": "Zorblax River", "text": "The Zorblax River flows through Quendar province into the Amber Sea."},
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
def api(root, config, embedder, qwen05):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(root, config, embedder=embedder, gateway=qwen05),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url)
    with httpx.Client(base_url=url, timeout=120) as client:
        yield client
    server.should_exit = True
    thread.join(timeout=10)


def sse_events(response: httpx.Response) -> list[tuple[str, str]]:
    events, event, data = [], "message", []
    for line in response.iter_lines():
        if not line:
            if data:
                events.append((event, "\n".join(data)))
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
    assert health["status"] == "ok" and "naive" in health["modes"]
    assert health["features"] == SOLVER_FEATURES


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
def test_ask_stream_sends_trace_steps_then_the_answer(api, demo_questions):
    request = {"kb": "demo", "question": demo_questions[1]["question"], "top_k": 3}
    with api.stream("POST", "/ask/stream", json=request) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    names = [name for name, _ in events]
    assert names[0] == "started" and names[-1] == "answer", names
    result = AskResult.model_validate_json(events[-1][1])
    traced = [json.loads(data) for name, data in events if name == "trace"]
    assert traced == [step.model_dump(mode="json") for step in result.trace] and len(traced) >= 2
    assert result.usage.llm_calls >= 1 and result.answer.strip()
    assert 0 < len({e.chunk_id for e in result.evidence if e.source != "user"}) <= 3  # top_k reached retrieval


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
