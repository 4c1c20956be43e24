"""notebooks/question_answering.ipynb runs top to bottom (nbclient, a real kernel, the real embedder and LLM)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "question_answering.ipynb"
# A guard against a hung kernel, not a speed check: the answering cell asks 4 modes x 2 questions, each within the
# notebook's 240 s budget, and on a loaded 2-core machine it has needed more than 300 s.
CELL_TIMEOUT_S = 8 * 240 + 300


def outputs_of(notebook, kind: str) -> list:
    return [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs
            if out.output_type == kind]


@pytest.mark.llm
def test_question_answering_notebook_executes(tmp_path, monkeypatch):
    monkeypatch.setenv("KGSOLVER_NOTEBOOK_KB", str(tmp_path / "kb"))
    monkeypatch.setenv("KGSOLVER_LLM_CACHE", "false")  # every run really calls the model
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel draws inline, as in Jupyter
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), "commit it unexecuted"
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    assert not outputs_of(notebook, "error")
    text = "".join(out.get("text", "") for out in outputs_of(notebook, "stream"))
    assert "registered modes: ['naive'" in text or re.search(r"registered modes: \[.*'naive'", text)
    assert "300 passages: 300 new" in text and (tmp_path / "kb" / "manifest.json").is_file()
    assert text.count("trace:") == text.count("Q: ") >= 2
    calls = int(re.search(r"questions, (\d+) LLM calls", text).group(1))
    assert 1 <= calls <= 3 * text.count("Q: "), text  # the notebook's budget: 3 LLM calls per question
    images = [out for out in outputs_of(notebook, "display_data") if "image/png" in out.get("data", {})]
    assert len(images) == 1, "the graph drawing is missing"
    assert re.search(r"(knowledge-graph subgraph of the evidence|question -> passages -> titles): "
                     r"\d+ nodes, [1-9]\d* edges", text)
