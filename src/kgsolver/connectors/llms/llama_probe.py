"""Run in a subprocess by `llama_build.probe`: load a GGUF with the llama.cpp build that LLAMA_CPP_LIB_PATH names
(or the package's own), generate a few tokens, print them. If the build uses an instruction this CPU traps on, this
process dies by a signal and the parent reports it, instead of dying itself.

    python -m kgsolver.connectors.llms.llama_probe MODEL.gguf
"""

from __future__ import annotations

import sys


def main(model_path: str) -> None:
    from llama_cpp import Llama

    llama = Llama(model_path=model_path, n_ctx=256, n_threads=1, n_threads_batch=1, n_batch=64, seed=0, verbose=False)
    # A prompt long enough to take the batched matrix path, then single-token decoding.
    prompt = "Count from one to twenty in words: one, two, three, four, five, six, seven, eight,"
    out = llama.create_completion(prompt, max_tokens=4, temperature=0.0)
    assert isinstance(out, dict), "without stream=True the completion is one response, not an iterator"
    print(out["choices"][0]["text"].strip() or "(empty)")


if __name__ == "__main__":
    main(sys.argv[1])
