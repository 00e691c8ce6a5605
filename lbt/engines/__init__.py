"""Text generation behind one interface: requests (`base`), a request cache (`cache`), the
`Engine` stages call (`engine`), the backends (`hf`, `vllm`, `openai`) and `registry.make_engine`."""
