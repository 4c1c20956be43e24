"""A LangChain chat model over a local transformers checkpoint (optional extra `kgsolver[transformers]`).

No constrained decoding here: the gateway parses JSON defensively and retries once.
"""

from __future__ import annotations

import os
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import PrivateAttr

_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


class ChatLocalTransformers(BaseChatModel):
    model_path: str
    max_tokens: int = 384
    supports_json_schema: bool = False
    _model: Any = PrivateAttr(default=None)
    _tokenizer: Any = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "local-transformers"

    def _load(self) -> None:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from transformers import AutoModelForCausalLM, AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.model_path, local_files_only=True)
            self._model = AutoModelForCausalLM.from_pretrained(self.model_path, local_files_only=True)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self._load()
        chat = [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]
        inputs = self._tokenizer.apply_chat_template(
            chat, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        prompt_len = inputs["input_ids"].shape[1]
        output = self._model.generate(
            **inputs, max_new_tokens=kwargs.get("max_tokens", self.max_tokens), do_sample=False
        )
        text = self._tokenizer.decode(output[0][prompt_len:], skip_special_tokens=True)
        for marker in stop or []:
            text = text.split(marker)[0]
        completion = int(output.shape[1] - prompt_len)
        message = AIMessage(
            content=text,
            usage_metadata={"input_tokens": prompt_len, "output_tokens": completion,
                            "total_tokens": prompt_len + completion},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])
