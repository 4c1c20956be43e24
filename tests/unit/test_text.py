"""connectors/text.py: spaCy's English stop words without importing spaCy (which imports torch through thinc)."""

import subprocess
import sys

_CHECK = """
import sys
from kgsolver.connectors.text import english_stop_words
words = english_stop_words()
assert "the" in words and "whereupon" in words and "n’t" in words and "rush" not in words, sorted(words)[:5]
assert not {"spacy", "thinc", "torch"} & set(sys.modules), sorted({"spacy", "thinc", "torch"} & set(sys.modules))
from spacy.lang.en.stop_words import STOP_WORDS
assert words == frozenset(STOP_WORDS)
"""


def test_the_stop_words_are_spacys_and_reading_them_imports_neither_spacy_nor_torch():
    subprocess.run([sys.executable, "-c", _CHECK], check=True, timeout=120)
