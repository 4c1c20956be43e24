"""LLM backends. Every backend is a LangChain chat model; `gateway.LLMGateway` is the one place that calls them."""
