"""The Kafka runtime of generation: the consumer loop, in-flight offsets, the escalation ladder's
producer side, hot reload of releases and the worker metrics.

Inference itself (model, prompt, engines, checks) is the generation package; this package only
moves requests from Kafka to it and drafts back.

    workers.worker.run_worker(settings, stop=None, max_messages=None, on_event=None, generator=None)
    workers.run.main(settings)  (outreach worker)
Importing this package loads neither llama.cpp nor Kafka clients.
"""
