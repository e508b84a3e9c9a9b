"""The release pipeline: the registry (content-addressed GGUFs + manifests), champion and
challenger pointers, the retrain lock, the scheduled retrain run and the quality gate.

Reads training (dataset, LoRA, merge), quantize (GGUF conversion, quantization, trim) and
generation (the gate drafts through the serving engine); workers follow the pointers through the
contract in outreach.releases.
"""
