"""Trained miniatures: teacher synthesis, human review, datasets, fine-tuning, evaluation.

Stage rule (design.md): training never imports streams. It imports generation.prompt only for the
lead cleaning the worker serves with, so the miniature is trained on the exact prompt bytes.
"""
