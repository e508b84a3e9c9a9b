"""Reply classification: interested / not now / not interested / unsubscribe request /
out of office / auto-reply.

Two stages, both offline and free of torch so the streaming path stays light:
1. High-precision rules for the labels that have fixed phrasings (unsubscribe requests,
   out-of-office notices, machine-generated replies). An unsubscribe request must never be
   missed (it is a legal obligation), so its rule runs first.
2. A multinomial naive Bayes model over word unigrams and bigrams ("not interested" is a
   bigram, which is why bigrams are used), trained at import on streams/reply_data.py in ~5 ms.
Quoted text of our own email ("> ..." lines and everything after "On ... wrote:") is stripped
first, otherwise our footer's "unsubscribe" link would turn every reply into an opt-out.
Accuracy on a separate labelled set is measured in tests/streams/test_replies.py.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from streams.reply_data import LABELS, TRAINING

POSITIVE_LABELS = frozenset({"interested"})
# Below this posterior a model-only "unsubscribe_request" falls back to the next label.
MODEL_OPT_OUT_MIN = 0.6
WORD_RE = re.compile(r"[a-z0-9']+")
QUOTE_START_RE = re.compile(r"^\s*(on .{0,200}wrote:|-{2,}\s*original message|from:\s)",
                            re.IGNORECASE | re.MULTILINE)
RULES: list[tuple[str, re.Pattern[str]]] = [
    # English, then German, French, Spanish, Italian, Portuguese and Dutch: the phrasings
    # recipients actually write (tests/streams/test_reply_unsubscribe.py measures them).
    ("unsubscribe_request", re.compile(
        r"\b(unsubscribe|opt(ed)?[ -]?out|remove (me|us|my (e-?mail|address|contact|details))|"
        r"take (me|us|my (e-?mail|address|name)) off|"
        r"stop (e-?mailing|emailing|sending|contacting|writing|messaging|spamming)|"
        r"(do not|don't|dont|never) (contact|e-?mail|email|write to|message) (me|us)|"
        r"no more (e-?mails|emails|messages)|delete my (data|details|address|e-?mail)|"
        r"(austragen|abmelden|abbestellen)|keine (weiteren )?(e-?mails|nachrichten|werbung)|"
        r"(entfernen sie|l[öo]schen sie) (mich|meine)|"
        r"d[ée]sinscri\w*|d[ée]sabonne\w*|ne plus recevoir|retirez[- ]moi|"
        r"(arr[êe]tez|cessez) de m'?\s*(e-?mail|[ée]crire|envoyer|contacter)|"
        r"dar(me|se)? de baja|no (me )?(escrib|envi|contact)\w+ m[áa]s|"
        r"(eliminar|borrar|quitar)(me)? de (la|su|vuestra|tu) lista|"
        r"cancellami|disiscriv\w*|non (scrivetemi|scrivermi|contattarmi) pi[ùu]|"
        r"descadastr\w*|n[ãa]o quero (mais )?receber|remov(a|er)[- ]me|"
        r"uitschrijven|afmelden|geen (e-?mails|mails) meer)\b|^\s*(stop|stopp|basta|halt)\s*[.!]?\s*$",
        re.IGNORECASE)),
    ("out_of_office", re.compile(
        r"\b(out of (the )?office|ooo|on (annual |parental |maternity |paternity |sick )?leave|"
        r"on (vacation|holiday)|away (from my desk )?until|limited access to (e-?mail|email)|"
        r"(will|shall) (return|be back) on|returning (on )?\d|back in the office)\b",
        re.IGNORECASE)),
    ("auto_reply", re.compile(
        r"\b(automated (response|message|reply)|automatic (reply|message|response)|"
        r"auto-?(reply|response|generated)|do not reply|mailbox is not monitored|"
        r"ticket (number|#)|case (number|has been created)|this inbox is unattended|noreply|"
        r"no longer receives mail)\b", re.IGNORECASE)),
]


@dataclass(frozen=True)
class ReplyClass:
    label: str
    confidence: float  # 1.0 for a rule; the model's posterior probability otherwise
    method: str  # "rule" | "model" | "empty"

    @property
    def positive(self) -> bool:
        return self.label in POSITIVE_LABELS


def strip_quoted(text: str) -> str:
    """The reply's own words: drop quoted lines and the quoted original message."""
    match = QUOTE_START_RE.search(text)
    if match:
        text = text[:match.start()]
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(">"))


def features(text: str) -> list[str]:
    words = WORD_RE.findall(text.lower().replace("\u2019", "'"))
    return words + [f"{a}_{b}" for a, b in zip(words, words[1:])]


class NaiveBayes:
    """Multinomial naive Bayes with add-one smoothing; a few hundred lines of training data."""

    def __init__(self, examples: dict[str, list[str]]) -> None:
        self.labels = list(examples)
        total_docs = sum(len(texts) for texts in examples.values())
        self.log_prior = {label: math.log(len(texts) / total_docs)
                          for label, texts in examples.items()}
        self.counts = {label: Counter(f for t in texts for f in features(t))
                       for label, texts in examples.items()}
        self.vocab = set().union(*self.counts.values())
        self.totals = {label: sum(c.values()) for label, c in self.counts.items()}

    def log_scores(self, text: str) -> dict[str, float]:
        feats = [f for f in features(text) if f in self.vocab]
        size = len(self.vocab)
        return {label: self.log_prior[label] + sum(
            math.log((self.counts[label][f] + 1) / (self.totals[label] + size)) for f in feats)
            for label in self.labels}

    def predict(self, text: str) -> tuple[str, float]:
        scores = self.log_scores(text)
        top = max(scores.values())
        norm = sum(math.exp(s - top) for s in scores.values())
        label = max(scores, key=scores.__getitem__)
        return label, 1.0 / norm


class ReplyClassifier:
    """Rules first, then the model; ``classify`` never raises on odd text."""

    def __init__(self, examples: dict[str, list[str]] | None = None) -> None:
        self.model = NaiveBayes(examples or TRAINING)
        self.labels = LABELS

    def classify(self, text: str | None) -> ReplyClass:
        own = strip_quoted(text or "").strip()
        if not own:
            return ReplyClass("auto_reply", 0.5, "empty")  # an empty body is machine-made
        for label, pattern in RULES:
            if pattern.search(own):
                return ReplyClass(label, 1.0, "rule")
        label, confidence = self.model.predict(own)
        if label == "unsubscribe_request" and confidence < MODEL_OPT_OUT_MIN:
            # The rules cover how people ask to be removed, in seven languages; a weak model-only
            # opt-out is mostly words it never saw ("Me interesa..." scored 0.41 on "me").
            scores = self.model.log_scores(own)
            scores.pop(label)
            label = max(scores, key=scores.__getitem__)
        return ReplyClass(label, confidence, "model")
