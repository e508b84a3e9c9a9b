"""Generation workers: GGUF model, prompt, llama.cpp engine, draft checks and the Kafka loop.

Entry points for other packages (CLI, demo):
    workers.worker.run_worker(settings, stop=None, max_messages=None, on_event=None, generator=None)
    workers.generate.draft_for_request(request, generator, model_info, settings, campaign) -> Outcome
    workers.model.resolve_model(settings) -> ModelInfo;  workers.engine.Generator(model, settings)
Importing this package loads neither llama.cpp nor Kafka clients.
"""
