"""The gateway's built-in plugins. Each is registered through the `llm_gateway.plugins` entry
point group, exactly as a third-party plugin would be."""
