"""The pure parts of a delete: which ids were asked for, and the error that names the unknown ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgsolver.connectors import KnowledgeBaseError
from kgsolver.pipeline.kb.admin import UnknownDocumentError, requested_ids


def test_requested_ids_keep_the_order_given_and_each_id_once():
    assert requested_ids(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]
    with pytest.raises(ValueError, match="no document ids"):
        requested_ids([])


def test_the_unknown_id_error_names_each_id_the_folder_and_that_nothing_changed():
    error = UnknownDocumentError(Path("/data/kb"), ["x 1", "it's"])
    assert isinstance(error, KnowledgeBaseError)  # the CLI's one-line error, the API's error handler
    assert str(error).startswith("/data/kb: no document with id 'x 1', \"it's\"; nothing was deleted")
    assert "kgsolver kb list --kb /data/kb" in str(error) and error.unknown == ["x 1", "it's"]


def test_a_long_list_of_unknown_ids_is_cut_after_ten():
    error = UnknownDocumentError(Path("kb"), [f"d{i}" for i in range(25)])
    assert "'d9' and 15 more" in str(error) and "'d10'" not in str(error) and len(error.unknown) == 25
