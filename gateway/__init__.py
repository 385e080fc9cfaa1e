"""llm-gateway: a self-hosted LLM gateway on mitmproxy with a pluggy hook pipeline."""

__version__ = "0.1.0"
