"""The vocabulary trim: which tokens a domain needs (corpus, tokens), the trimmed GGUF (vocab),
the retrain stage that cuts a release (step) and the quality/speed report (report).

Served as a head cut by generation.head_cut."""
