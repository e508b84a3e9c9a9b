"""The inference library: GGUF model resolution, prompt, retrieval, engines, sampling, head cut,
the LLM client and the one checks entry point (generation.checks).

Used by the Kafka runtime (workers/), training (data filter, evaluation), the release gate and
the bench harness; it imports no Kafka client and no other stage. Importing this package loads
no llama.cpp.

    generation.model.resolve_model(settings) -> ModelInfo
    generation.engine.Generator(model, settings);  generation.batched_generator (the batch engine)
    generation.generate.draft_for_request(request, generator, model_info, settings, campaign)
    generation.checks.check_draft(...) -> list of reasons (empty = may be sent)
"""
